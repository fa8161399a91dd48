import Foundation
import WeftCore

/// `weft viz authz`'s rows: per workload, server, route and authorization, the requests (and
/// connections) its proxy admitted and refused between two readings, from Linkerd's
/// `inbound_{http,tcp}_authz_{allow,deny}_total` and `inbound_http_route_not_found_total`.
/// Refusals are rows of their own with the authorization `[UNAUTHORIZED]` (no route:
/// `[NO ROUTE]`), as `linkerd viz authz` shows them.
struct AuthzReport {
    struct Row: Hashable {
        var workload: String
        var server: String
        var route: String
        var authorization: String
    }

    let namespace: String
    /// Per row: allowed and denied per second.
    let rows: [(row: Row, allowed: Double, denied: Double)]

    /// The proxies of `namespace` (optionally one workload) read before and after.
    init(namespace: String, workload: String?, before: [ProxyScrape], after: [ProxyScrape]) {
        self.namespace = namespace
        var earlier: [String: [TrafficStats.SeriesKey: Double]] = [:]
        for scrape in before {
            earlier[scrape.source] = Dictionary((scrape.samples ?? []).map { (TrafficStats.SeriesKey($0), $0.value) }, uniquingKeysWith: { a, _ in a })
        }
        var totals: [Row: (allowed: Double, denied: Double)] = [:]
        for scrape in after where scrape.reachable && scrape.workload.namespace == namespace && (workload.map { $0 == scrape.workload.name } ?? true) {
            let previous = earlier[scrape.source] ?? [:]
            guard let seconds = before.first(where: { $0.source == scrape.source }).map({ scrape.time.timeIntervalSince($0.time) }), seconds > 0 else { continue }
            for sample in scrape.samples ?? [] {
                let allowed = sample.name == "inbound_http_authz_allow_total" || sample.name == "inbound_tcp_authz_allow_total"
                let denied = sample.name == "inbound_http_authz_deny_total" || sample.name == "inbound_tcp_authz_deny_total"
                let missing = sample.name == "inbound_http_route_not_found_total"
                guard allowed || denied || missing else { continue }
                let old = previous[TrafficStats.SeriesKey(sample)] ?? 0
                let change = (sample.value >= old ? sample.value - old : sample.value) / seconds
                let labels = sample.labels
                let row = Row(workload: scrape.workload.name, server: Self.name(labels, "srv"),
                              route: sample.name.hasPrefix("inbound_tcp") ? "[TCP]" : (missing ? "-" : Self.name(labels, "route")),
                              authorization: allowed ? Self.name(labels, "authz") : (missing ? "[NO ROUTE]" : "[UNAUTHORIZED]"))
                var total = totals[row] ?? (0, 0)
                if allowed { total.allowed += change } else { total.denied += change }
                totals[row] = total
            }
        }
        rows = totals.map { ($0.key, $0.value.allowed, $0.value.denied) }
            .sorted { ($0.row.workload, $0.row.server, $0.row.route, $0.row.authorization) < ($1.row.workload, $1.row.server, $1.row.route, $1.row.authorization) }
    }

    /// `kind/name` from Linkerd's `<prefix>_kind` and `<prefix>_name` labels (`default:NAME` for
    /// the default policy's).
    static func name(_ labels: [String: String], _ prefix: String) -> String {
        let kind = labels["\(prefix)_kind"] ?? ""
        let name = labels["\(prefix)_name"] ?? "?"
        return kind == "default" ? "default:\(name)" : "\(kind)/\(name)"
    }

    func table() -> String {
        let header = ["WORKLOAD", "SERVER", "ROUTE", "AUTHORIZATION", "ALLOWED_RPS", "DENIED_RPS"]
        let lines = rows.map { entry in
            [entry.row.workload, entry.row.server, entry.row.route, entry.row.authorization,
             String(format: "%.1frps", entry.allowed), String(format: "%.1frps", entry.denied)]
        }
        return TextTable.render(header, lines)
    }

    func json() throws -> String {
        let objects = rows.map { entry -> [String: Any] in
            ["namespace": namespace, "workload": entry.row.workload, "server": entry.row.server, "route": entry.row.route,
             "authorization": entry.row.authorization, "allowed_rps": entry.allowed, "denied_rps": entry.denied]
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
