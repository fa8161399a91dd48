/// One service's routes as the proxy uses them: checked against the limits once, then asked for
/// the rule of each request (by ``RouteCandidates``' scan). Immutable; a new policy makes a new table.
public struct RouteTable: Equatable {
    public enum Routes: Equatable {
        case http([ClientPolicy.HTTPRoute])
        case grpc([ClientPolicy.GRPCRoute])
    }

    /// The most rules of one service, over all its routes.
    public static let maximumRules = 1_000
    /// The most backends of one service, over all its rules.
    public static let maximumBackends = 100
    /// The most bytes of headers a service's filters add, over all of them.
    public static let maximumAddedHeaderBytes = 16 * 1024

    /// The service the routes belong to.
    public let parent: ResourceReference
    public let routes: Routes
    /// The routes flattened for the per-request scan.
    private let candidates: RouteCandidates
    /// Whether the routes are gRPC routes.
    public var isGRPC: Bool { if case .grpc = routes { true } else { false } }

    /// Equal when the parent and the routes are.
    public static func == (a: RouteTable, b: RouteTable) -> Bool {
        a.parent == b.parent && a.routes == b.routes
    }

    /// The HTTP or gRPC routes of `policy`; nil for an opaque policy. Refused, with the reason,
    /// past the limits.
    public init?(_ policy: ClientPolicy) throws(RoutePolicyError) {
        switch policy.proxyProtocol {
        case .opaque: return nil
        case .detect(_, let http, _): routes = .http(http)
        case .grpc(let grpc): routes = .grpc(grpc)
        }
        parent = policy.parent
        switch routes {
        case .http(let list): candidates = RouteCandidates(http: list)
        case .grpc(let list): candidates = RouteCandidates(grpc: list)
        }
        let (rules, backends, filters): (Int, Int, [RouteFilter]) = switch routes {
        case .http(let routes): Self.totals(routes)
        case .grpc(let routes): Self.totals(routes)
        }
        guard rules <= Self.maximumRules else { throw RoutePolicyError("\(rules) rules, more than \(Self.maximumRules)") }
        guard backends <= Self.maximumBackends else { throw RoutePolicyError("\(backends) backends, more than \(Self.maximumBackends)") }
        var added = 0
        for case .requestHeaders(let modifier) in filters { added += modifier.addedBytes }
        for case .responseHeaders(let modifier) in filters { added += modifier.addedBytes }
        guard added <= Self.maximumAddedHeaderBytes else {
            throw RoutePolicyError("filters add \(added) bytes of headers, more than \(Self.maximumAddedHeaderBytes)")
        }
    }

    private static func totals<Match>(_ routes: [ClientPolicy.Route<Match>]) -> (Int, Int, [RouteFilter]) {
        var rules = 0
        var backends = 0
        var filters: [RouteFilter] = []
        for route in routes {
            rules += route.rules.count
            for rule in route.rules {
                backends += rule.backends.count
                filters += rule.filters
            }
        }
        return (rules, backends, filters)
    }

    /// The rule that takes `request`, or nil when none does (the request is answered 404).
    public func select<Request: RoutableRequest>(_ request: Request) -> RouteSelection? {
        switch routes {
        case .http(let routes):
            guard let found = candidates.best(request, more: { routes[Int($0.route)].rules[Int($0.rule)].matches[Int($0.match)].score(request) != nil })
            else { return nil }
            let (route, rule) = (Int(found.route), Int(found.rule))
            var prefix: String?
            if found.match >= 0, case .prefix(let value)? = routes[route].rules[rule].matches[Int(found.match)].path { prefix = value }
            return RouteSelection(routes[route], routeIndex: route, ruleIndex: rule, matchedPrefix: prefix)
        case .grpc(let routes):
            guard let found = candidates.best(request, more: { routes[Int($0.route)].rules[Int($0.rule)].matches[Int($0.match)].score(request) != nil })
            else { return nil }
            return RouteSelection(routes[Int(found.route)], routeIndex: Int(found.route), ruleIndex: Int(found.rule), matchedPrefix: nil)
        }
    }
}

/// The rule a request took: what to do with it and where it goes.
public struct RouteSelection: Sendable {
    public let route: RouteMetadata
    /// Where the route and the rule are in the table.
    public let routeIndex: Int
    public let ruleIndex: Int
    public let filters: [RouteFilter]
    public let backends: ClientPolicy.Distribution
    /// The rule's retries and timeouts, if it has any.
    public let retry: RetryPolicy?
    public let timeouts: ClientPolicy.Timeouts?
    /// The prefix of the path match that selected the rule, when it was a prefix match.
    public let matchedPrefix: String?

    init<Match>(_ route: ClientPolicy.Route<Match>, routeIndex: Int, ruleIndex: Int, matchedPrefix: String?) {
        self.route = route.metadata
        self.routeIndex = routeIndex
        self.ruleIndex = ruleIndex
        let rule = route.rules[ruleIndex]
        filters = rule.filters
        backends = rule.backends
        retry = rule.retry
        timeouts = rule.timeouts
        self.matchedPrefix = matchedPrefix
    }
}

extension ClientPolicy.Distribution {
    /// How many backends it names.
    public var count: Int {
        switch self {
        case .firstAvailable(let backends): backends.count
        case .randomAvailable(let backends): backends.count
        }
    }

    /// The backend for one request: the first, or one drawn by weight; nil when there is none
    /// (or no weight at all).
    public func choose<R: RandomNumberGenerator>(using random: inout R) -> ClientPolicy.Backend? {
        switch self {
        case .firstAvailable(let backends):
            return backends.first
        case .randomAvailable(let backends):
            var total: UInt64 = 0
            for entry in backends { total += UInt64(entry.weight) }
            guard total > 0 else { return nil }
            var ticket = UInt64.random(in: 0..<total, using: &random)
            for entry in backends {
                if ticket < UInt64(entry.weight) { return entry.backend }
                ticket -= UInt64(entry.weight)
            }
            return nil
        }
    }
}
