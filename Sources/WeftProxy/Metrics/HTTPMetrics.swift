/// Linkerd's HTTP families for one (direction, authority, target) series, resolved once per
/// connection; the per-status response series are resolved when a status is first seen.
final class HTTPMetrics {
    let registry: MetricRegistry
    let base: [(String, String)]
    let requests: Counter
    private var responses: [String: (Counter, Histogram)] = [:]

    init(registry: MetricRegistry, direction: String, authority: String, targetAddress: String, tls: String) {
        self.registry = registry
        base = [("direction", direction), ("authority", authority), ("target_addr", targetAddress), ("tls", tls)]
        requests = registry.counter("request_total", help: "Total count of HTTP requests", labels: Labels(base))
    }

    /// Records a finished response: `status` is nil when the proxy could not get one.
    func responded(status: Int?, grpcStatus: Int?, latencyMilliseconds: Double, error: String? = nil) {
        let statusText = status.map(String.init) ?? ""
        let failure = (status ?? 500) >= 500 || (grpcStatus.map { $0 != 0 } ?? false) || error != nil
        let key = "\(statusText)|\(grpcStatus.map(String.init) ?? "")|\(failure)|\(error ?? "")"
        let (counter, histogram): (Counter, Histogram)
        if let existing = responses[key] {
            (counter, histogram) = existing
        } else {
            var labels = base + [("status_code", statusText)]
            let latency = registry.histogram("response_latency_ms", help: "Elapsed times between a request's headers being received and its response stream completing",
                                             labels: Labels(labels), bounds: Histogram.latencyMillisecondBounds)
            if let grpcStatus { labels.append(("grpc_status", String(grpcStatus))) }
            labels.append(("classification", failure ? "failure" : "success"))
            if let error { labels.append(("error", error)) }
            let total = registry.counter("response_total", help: "Total count of HTTP responses", labels: Labels(labels))
            (counter, histogram) = (total, latency)
            responses[key] = (total, latency)
        }
        counter.increment()
        histogram.observe(latencyMilliseconds)
    }
}
