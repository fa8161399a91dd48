import WeftCore

/// Linkerd's HTTP families (`request_total`, `response_total`, `response_latency_ms`) for one
/// connection. Series are resolved once per authority per connection, so the registry's lock is
/// not taken per request; response series when a status is first seen.
///
/// Inbound series carry no `authority` label (Linkerd 2.16's default); outbound ones carry the
/// request's authority.
final class HTTPMetrics {
    /// The series of one authority.
    final class Series {
        let registry: MetricRegistry
        let base: [(String, String)]
        let requests: Counter
        /// What tells one response series from another.
        private struct ResponseKey: Hashable {
            var status: Int?
            var grpcStatus: Int?
            var error: String?
        }
        private var responses: [ResponseKey: (Counter, Histogram)] = [:]
        /// The series of the last response, looked up again without hashing.
        private var last: (key: ResponseKey, counter: Counter, histogram: Histogram)?

        init(registry: MetricRegistry, base: [(String, String)]) {
            self.registry = registry
            self.base = base
            requests = registry.counter("request_total", help: "Total count of HTTP requests", labels: Labels(base))
        }

        /// Records a finished response: `status` is nil when the proxy could not get one.
        func responded(status: Int?, grpcStatus: Int?, latencyMilliseconds: Double, error: String? = nil) {
            let key = ResponseKey(status: status, grpcStatus: grpcStatus, error: error)
            let (counter, histogram): (Counter, Histogram)
            if let last, last.key == key {
                (counter, histogram) = (last.counter, last.histogram)
            } else if let existing = responses[key] {
                (counter, histogram) = existing
                last = (key, counter, histogram)
            } else {
                let statusText = status.map(String.init) ?? ""
                let failure = (status ?? 500) >= 500 || (grpcStatus.map { $0 != 0 } ?? false) || error != nil
                var labels = base + [("status_code", statusText)]
                let latency = registry.histogram("response_latency_ms", help: "Elapsed times between a request's headers being received and its response stream completing",
                                                 labels: Labels(labels), bounds: Histogram.latencyMillisecondBounds)
                if let grpcStatus { labels.append(("grpc_status", String(grpcStatus))) }
                labels.append(("classification", failure ? "failure" : "success"))
                if let error { labels.append(("error", error)) }
                let total = registry.counter("response_total", help: "Total count of HTTP responses", labels: Labels(labels))
                (counter, histogram) = (total, latency)
                // A target may send any status: past a bound, new ones are looked up each time.
                if responses.count < HTTPMetrics.maximumCachedAuthorities { responses[key] = (total, latency) }
                last = (key, counter, histogram)
            }
            counter.increment()
            histogram.observe(latencyMilliseconds)
        }
    }

    /// The most authorities one connection keeps resolved; past that each request looks its
    /// series up again (the registry caps the total).
    static let maximumCachedAuthorities = 64

    private let registry: MetricRegistry
    private let direction: Direction
    private let targetAddress: String
    private let tls: TLSStatus
    /// The identity a mesh-TLS client proved (inbound), the `client_id` label.
    private let clientID: String?
    private var series: [String: Series] = [:]
    /// The authority of the last request as it came, and its series: a connection's requests
    /// mostly name one authority, found again without normalizing or hashing it.
    private var last: (authority: String?, series: Series)?

    init(registry: MetricRegistry, direction: Direction, targetAddress: String, tls: TLSStatus, clientID: String? = nil) {
        self.clientID = clientID
        self.registry = registry
        self.direction = direction
        self.targetAddress = targetAddress
        self.tls = tls
    }

    /// Counts a request and returns the series its response is recorded in.
    func request(authority: String?) -> Series {
        if let last, direction == .inbound || last.authority == authority {
            last.series.requests.increment()
            return last.series
        }
        let key = direction == .inbound ? "" : Self.normalize(authority)
        let found: Series
        if let cached = series[key] {
            found = cached
        } else {
            var base = [("direction", direction.rawValue)]
            if direction != .inbound { base.append(("authority", key)) }
            base += [("target_addr", targetAddress), ("tls", tls.label)]
            if let clientID { base.append(("client_id", clientID)) }
            found = Series(registry: registry, base: base)
            if series.count < Self.maximumCachedAuthorities { series[key] = found }
        }
        last = (authority, found)
        found.requests.increment()
        return found
    }

    /// Lower case, at most 253 characters of a host[:port]; anything else is `invalid`.
    static func normalize(_ authority: String?) -> String {
        guard let authority, !authority.isEmpty else { return "" }
        guard authority.utf8.count <= 253,
              authority.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) else {
            return "invalid"
        }
        return authority.lowercased()
    }
}
