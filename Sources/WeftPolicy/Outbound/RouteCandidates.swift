/// A route table flattened for the per-request scan: one candidate per match of every rule (one
/// for a rule without matches), in table order, with its path test and method as bytes, so a
/// request's path is compared by bytes and most candidates are passed over without calling
/// anything. Only a candidate whose path and method fit and that has header or query-parameter
/// matches asks the request for more. Built once per policy.
struct RouteCandidates {
    enum Kind: UInt8 {
        case any
        case exact
        /// Trailing `/` removed; `/` itself is `.any`.
        case prefix
        case regex
        /// gRPC `/service/method`: the service at `text`, the method at `second` (length -1: any).
        case grpc
    }

    /// A trivial value (no references), so the scan copies no reference counts: texts are
    /// ranges of `bytes`, a method and a pattern are indexes into `methods` and `patterns`.
    struct Candidate {
        let route: Int32
        let rule: Int32
        /// -1: a rule without matches.
        let match: Int32
        let kind: Kind
        let text: (offset: Int32, length: Int32)
        let second: (offset: Int32, length: Int32)
        /// Index into `methods`, -1: any method; for `.regex`, the index into `patterns`.
        let method: Int32
        let pattern: Int32
        /// Headers or query parameters to check through the route's own match.
        let checksMore: Bool
        /// The score when nothing more is checked.
        let score: Score
    }

    /// Precedence as one comparable value: HTTP (path kind, path length, method, headers,
    /// query parameters); gRPC (service length, method length, headers, 0, 0).
    struct Score: Comparable {
        var values: (Int32, Int32, Int32, Int32, Int32)

        static func < (a: Score, b: Score) -> Bool { a.values < b.values }
        static func == (a: Score, b: Score) -> Bool { a.values == b.values }
    }

    private(set) var candidates: [Candidate] = []
    /// Each route's hosts (empty: every host).
    let hosts: [[HostMatch]]
    private var bytes: [UInt8] = []
    private var methods: [String] = []
    private var patterns: [RoutePattern] = []

    private mutating func text(_ value: some Collection<UInt8>) -> (offset: Int32, length: Int32) {
        let offset = Int32(bytes.count)
        bytes.append(contentsOf: value)
        return (offset, Int32(value.count))
    }

    private mutating func method(_ name: String?) -> Int32 {
        guard let name else { return -1 }
        if let index = methods.firstIndex(of: name) { return Int32(index) }
        methods.append(name)
        return Int32(methods.count - 1)
    }

    /// No text (length -1).
    private static let none: (offset: Int32, length: Int32) = (0, -1)

    /// The candidate of a rule without matches: it takes every request, with `score`.
    private static func matchAll(route: Int, rule: Int, score: Score) -> Candidate {
        Candidate(route: Int32(route), rule: Int32(rule), match: -1, kind: .any, text: none, second: none, method: -1, pattern: -1,
                  checksMore: false, score: score)
    }

    init(http routes: [ClientPolicy.HTTPRoute]) {
        hosts = routes.map(\.hosts)
        let none = Self.none
        for (routeIndex, route) in routes.enumerated() {
            for (ruleIndex, rule) in route.rules.enumerated() {
                if rule.matches.isEmpty { candidates.append(Self.matchAll(route: routeIndex, rule: ruleIndex, score: Score(values: (1, 1, 0, 0, 0)))) }
                for (matchIndex, match) in rule.matches.enumerated() {
                    var kind = Kind.any
                    var text = none
                    var pattern: Int32 = -1
                    var score = Score(values: (1, 1, match.method == nil ? 0 : 1, Int32(match.headers.count), Int32(match.queryParams.count)))
                    switch match.path {
                    case nil:
                        break
                    case .exact(let value)?:
                        (kind, text) = (.exact, self.text(value.utf8))
                        score.values.0 = 3
                        score.values.1 = Int32(value.utf8.count)
                    case .regex(let value)?:
                        patterns.append(value)
                        (kind, pattern) = (.regex, Int32(patterns.count - 1))
                        score.values.0 = 2
                        score.values.1 = Int32(value.source.utf8.count)
                    case .prefix(let value)?:
                        var trimmed = Array(value.utf8)
                        while trimmed.count > 1, trimmed.last == UInt8(ascii: "/") { trimmed.removeLast() }
                        if trimmed != [UInt8(ascii: "/")] { (kind, text) = (.prefix, self.text(trimmed)) }
                        score.values.1 = Int32(value.utf8.count)
                    }
                    candidates.append(Candidate(route: Int32(routeIndex), rule: Int32(ruleIndex), match: Int32(matchIndex), kind: kind, text: text,
                                                second: none, method: self.method(match.method), pattern: pattern,
                                                checksMore: !match.headers.isEmpty || !match.queryParams.isEmpty, score: score))
                }
            }
        }
    }

    init(grpc routes: [ClientPolicy.GRPCRoute]) {
        hosts = routes.map(\.hosts)
        let none = Self.none
        for (routeIndex, route) in routes.enumerated() {
            for (ruleIndex, rule) in route.rules.enumerated() {
                if rule.matches.isEmpty { candidates.append(Self.matchAll(route: routeIndex, rule: ruleIndex, score: Score(values: (0, 0, 0, 0, 0)))) }
                for (matchIndex, match) in rule.matches.enumerated() {
                    let any = match.service == nil && match.method == nil
                    candidates.append(Candidate(
                        route: Int32(routeIndex), rule: Int32(ruleIndex), match: Int32(matchIndex), kind: any ? .any : .grpc,
                        text: match.service.map { self.text($0.utf8) } ?? none, second: match.method.map { self.text($0.utf8) } ?? none,
                        method: -1, pattern: -1, checksMore: !match.headers.isEmpty,
                        score: Score(values: (Int32(match.service?.utf8.count ?? 0), Int32(match.method?.utf8.count ?? 0),
                                              Int32(match.headers.count), 0, 0))))
                }
            }
        }
    }

    /// The best candidate for `request`: the most specific host first, then the best score; the
    /// earlier wins a tie. `more` checks a candidate's headers and query parameters.
    func best<Request: RoutableRequest>(_ request: Request, more: (Candidate) -> Bool) -> Candidate? {
        let path = request.path
        let method = request.method
        if let found = path.utf8.withContiguousStorageIfAvailable({ scan(path: $0, method: method, request: request, more: more) }) {
            return found
        }
        return Array(path.utf8).withUnsafeBufferPointer { scan(path: $0, method: method, request: request, more: more) }
    }

    private func scan<Request: RoutableRequest>(path: UnsafeBufferPointer<UInt8>, method: String, request: Request,
                                                more: (Candidate) -> Bool) -> Candidate? {
        var best: (host: Int, candidate: Candidate)?
        // The host specificity of the route the scan is in (candidates come route by route).
        var hostRoute: Int32 = -1
        var host: Int? = 0
        return bytes.withUnsafeBufferPointer { texts in
            candidates.withUnsafeBufferPointer { all in
                for candidate in all {
                    if candidate.route != hostRoute {
                        hostRoute = candidate.route
                        host = Self.hostSpecificity(hosts[Int(candidate.route)], request)
                    }
                    guard let host else { continue }
                    if let current = best, host < current.host { continue }
                    guard fits(candidate, path, texts) else { continue }
                    if candidate.method >= 0, methods[Int(candidate.method)] != method { continue }
                    if candidate.checksMore, !more(candidate) { continue }
                    if let current = best, (host, candidate.score) <= (current.host, current.candidate.score) { continue }
                    best = (host, candidate)
                }
                return best?.candidate
            }
        }
    }

    /// 0 for a route without hosts; for one with hosts, above 0 by how specific the best match
    /// is; nil when none matches the request's host.
    private static func hostSpecificity<Request: RoutableRequest>(_ hosts: [HostMatch], _ request: Request) -> Int? {
        guard !hosts.isEmpty else { return 0 }
        guard let requestHost = request.host else { return nil }
        var specificity: Int?
        for match in hosts {
            if let value = match.specificity(requestHost), value > (specificity ?? -1) { specificity = value }
        }
        return specificity.map { $0 == Int.max ? Int.max : $0 + 1 }
    }

    /// Whether `texts[range]` equals `path[start..<start + range.length]`.
    private static func equal(_ texts: UnsafeBufferPointer<UInt8>, _ range: (offset: Int32, length: Int32),
                              _ path: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        let length = Int(range.length)
        guard start + length <= path.count else { return false }
        var index = 0
        let offset = Int(range.offset)
        while index < length {
            if texts[offset + index] != path[start + index] { return false }
            index += 1
        }
        return true
    }

    private func fits(_ candidate: Candidate, _ path: UnsafeBufferPointer<UInt8>, _ texts: UnsafeBufferPointer<UInt8>) -> Bool {
        switch candidate.kind {
        case .any:
            return true
        case .exact:
            return Int(candidate.text.length) == path.count && Self.equal(texts, candidate.text, path, at: 0)
        case .prefix:
            let length = Int(candidate.text.length)
            guard Self.equal(texts, candidate.text, path, at: 0) else { return false }
            return path.count == length || path[length] == UInt8(ascii: "/")
        case .regex:
            return patterns[Int(candidate.pattern)].matchesWhole(String(decoding: path, as: UTF8.self)[...])
        case .grpc:
            // `/service/method`
            guard path.count > 2, path[0] == UInt8(ascii: "/"), let slash = path[1...].firstIndex(of: UInt8(ascii: "/")),
                  slash > 1, slash < path.count - 1, path[(slash + 1)...].firstIndex(of: UInt8(ascii: "/")) == nil else { return false }
            if candidate.text.length >= 0, !(Int(candidate.text.length) == slash - 1 && Self.equal(texts, candidate.text, path, at: 1)) {
                return false
            }
            if candidate.second.length >= 0,
               !(Int(candidate.second.length) == path.count - slash - 1 && Self.equal(texts, candidate.second, path, at: slash + 1)) {
                return false
            }
            return true
        }
    }
}
