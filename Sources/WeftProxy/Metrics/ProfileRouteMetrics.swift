import WeftCore

/// Linkerd's ServiceProfile route families for one route of one service: `route_request_total`,
/// `route_response_total` (`status_code`, `classification`, `grpc_status`) and
/// `route_response_latency_ms`, labelled `direction="outbound"`, `dst` (the service as the client
/// named it) and `rt_route` (the profile route's name; absent for requests no route matched).
/// Response series are resolved once per status.
final class ProfileRouteSeries {
    private struct ResponseKey: Hashable {
        var status: Int?
        var grpcStatus: Int?
        var failed: Bool
    }

    private let registry: MetricRegistry
    private let labels: [(String, String)]
    let requests: Counter
    private var responses: [ResponseKey: (Counter, Histogram)] = [:]

    init(registry: MetricRegistry, destination: String, route: String?) {
        self.registry = registry
        var labels = [("direction", "outbound"), ("dst", destination)]
        if let route { labels.append(("rt_route", route)) }
        self.labels = labels
        requests = registry.counter("route_request_total", help: "Total count of requests per ServiceProfile route", labels: Labels(labels))
    }

    func finished(status: Int?, grpcStatus: Int?, failed: Bool, milliseconds: Double) {
        let key = ResponseKey(status: status, grpcStatus: grpcStatus, failed: failed)
        let series: (Counter, Histogram)
        if let found = responses[key] {
            series = found
        } else {
            let statusLabels = labels + [("status_code", status.map(String.init) ?? "")]
            var responseLabels = statusLabels
            if let grpcStatus { responseLabels.append(("grpc_status", String(grpcStatus))) }
            responseLabels.append(("classification", failed ? "failure" : "success"))
            series = (registry.counter("route_response_total", help: "Total count of responses per ServiceProfile route", labels: Labels(responseLabels)),
                      registry.histogram("route_response_latency_ms", help: "Elapsed times between a request's headers and its response's end, per ServiceProfile route",
                                         labels: Labels(statusLabels), bounds: Histogram.latencyMillisecondBounds))
            if responses.count < 64 { responses[key] = series }
        }
        series.0.increment()
        series.1.observe(milliseconds)
    }
}
