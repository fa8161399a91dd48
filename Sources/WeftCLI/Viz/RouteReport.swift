import Foundation
import WeftCore

/// `weft viz routes`' rows: per route of one service, what the clients' proxies sent through it
/// between two readings (Linkerd 2.16's `outbound_{http,grpc}_route_*` families for HTTPRoutes and
/// GRPCRoutes, the `route_*` families with `rt_route` for ServiceProfile routes): success, RPS and
/// latency, as `linkerd viz routes` shows them.
struct RouteReport {
    struct Row {
        var route: String
        var kind: String
        var stats: TrafficStats
    }

    let service: String
    let namespace: String
    let rows: [Row]

    /// The routes whose parent is `service` in `namespace`, from the proxies read before and after.
    init(service: String, namespace: String, before: [ProxyScrape], after: [ProxyScrape]) {
        self.service = service
        self.namespace = namespace
        var earlier: [String: [TrafficStats.SeriesKey: Double]] = [:]
        for scrape in before {
            earlier[scrape.source] = Dictionary((scrape.samples ?? []).map { (TrafficStats.SeriesKey($0), $0.value) }, uniquingKeysWith: { a, _ in a })
        }
        var stats: [String: (kind: String, stats: TrafficStats)] = [:]
        for scrape in after where scrape.reachable {
            let previous = earlier[scrape.source] ?? [:]
            let seconds = before.first { $0.source == scrape.source }.map { scrape.time.timeIntervalSince($0.time) } ?? 0
            var seen: Set<String> = []
            for sample in scrape.samples ?? [] {
                let policyRoute = sample.labels["parent_name"] == service && sample.labels["parent_namespace"] == namespace
                    && (sample.name.hasPrefix("outbound_http_route_request_") || sample.name.hasPrefix("outbound_grpc_route_request_"))
                let profileRoute = (sample.name == "route_response_total" || sample.name == "route_response_latency_ms_bucket")
                    && sample.labels["direction"] == "outbound" && sample.labels["dst"]?.hasPrefix("\(service).\(namespace).svc.") == true
                guard policyRoute || profileRoute else { continue }
                let route = profileRoute ? (sample.labels["rt_route"] ?? "[default]") : Self.routeName(sample.labels)
                var entry = stats[route] ?? (profileRoute ? "ServiceProfile" : sample.labels["route_kind"] ?? "", TrafficStats())
                let old = previous[TrafficStats.SeriesKey(sample)] ?? 0
                let change = sample.value >= old ? sample.value - old : sample.value
                let bound = sample.labels["le"].flatMap { $0 == "+Inf" ? Double.infinity : Double($0) }
                switch sample.name {
                case "outbound_http_route_request_statuses_total", "outbound_grpc_route_request_statuses_total":
                    if Self.succeeded(sample.labels) { entry.stats.successes += change } else { entry.stats.failures += change }
                case "route_response_total":
                    if sample.labels["classification"] == "success" { entry.stats.successes += change } else { entry.stats.failures += change }
                case "outbound_http_route_request_duration_seconds_bucket", "outbound_grpc_route_request_duration_seconds_bucket":
                    if let bound { entry.stats.buckets[bound * 1000, default: 0] += change }
                case "route_response_latency_ms_bucket":
                    if let bound { entry.stats.buckets[bound, default: 0] += change }
                default:
                    break
                }
                entry.stats.seconds = max(entry.stats.seconds, seconds)
                if seen.insert(route).inserted { entry.stats.meshed += 1 }
                stats[route] = entry
            }
        }
        rows = stats.map { Row(route: $0.key, kind: $0.value.kind, stats: $0.value.stats) }.sorted { $0.route < $1.route }
    }

    /// `[default]` for the controller's default route, else the route's name.
    static func routeName(_ labels: [String: String]) -> String {
        labels["route_kind"] == "default" ? "[default]" : (labels["route_name"] ?? "?")
    }

    /// Not a 5xx, not an error of the proxy's, and for gRPC `OK`.
    static func succeeded(_ labels: [String: String]) -> Bool {
        if let error = labels["error"], !error.isEmpty { return false }
        if let grpc = labels["grpc_status"] { return grpc == "OK" }
        guard let status = labels["http_status"].flatMap(Int.init) else { return false }
        return status < 500
    }

    func table() -> String {
        let header = ["ROUTE", "SERVICE", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99"]
        let lines = rows.map { row in
            [row.route, service, row.stats.successRate.map { String(format: "%.2f%%", $0 * 100) } ?? "-",
             String(format: "%.1frps", row.stats.requestsPerSecond),
             StatReport.milliseconds(row.stats.latency(0.5)), StatReport.milliseconds(row.stats.latency(0.95)),
             StatReport.milliseconds(row.stats.latency(0.99))]
        }
        return TextTable.render(header, lines)
    }

    func json() throws -> String {
        let objects = rows.map { row -> [String: Any] in
            ["route": row.route, "route_kind": row.kind, "service": service, "namespace": namespace,
             "success_rate": row.stats.successRate ?? NSNull(), "rps": row.stats.requestsPerSecond,
             "requests": row.stats.responses, "successes": row.stats.successes, "failures": row.stats.failures,
             "latency_ms_p50": row.stats.latency(0.5) ?? NSNull(), "latency_ms_p95": row.stats.latency(0.95) ?? NSNull(),
             "latency_ms_p99": row.stats.latency(0.99) ?? NSNull(), "window_seconds": row.stats.seconds]
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

