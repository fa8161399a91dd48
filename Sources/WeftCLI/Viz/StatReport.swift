import Foundation
import WeftCore

/// `weft viz stat`'s rows: a workload's, a service's or a namespace's inbound traffic between
/// two readings of the proxies, with Linkerd's columns.
struct StatReport {
    enum Kind: String {
        case workload = "externalworkload"
        case service
        case namespace

        /// kubectl-style names: `ew`, `externalworkloads`, `svc`, `services`, `ns`, ...
        init?(name: String) {
            switch name.lowercased() {
            case "ew", "externalworkload", "externalworkloads", "workload", "workloads": self = .workload
            case "svc", "service", "services": self = .service
            case "ns", "namespace", "namespaces": self = .namespace
            default: return nil
            }
        }
    }

    struct Row {
        var kind: Kind
        var namespace: String
        var name: String
        var stats: TrafficStats
        var identities: [String]
    }

    let rows: [Row]

    /// Rows for `kind` (only `name` when given; only `namespace` when given), from two readings.
    init(kind: Kind, name: String?, namespace: String?, inventory: MeshInventory,
         before: [ProxyScrape], after: [ProxyScrape], clients: Set<String>?) {
        var earlier: [String: ProxyScrape] = [:]
        for scrape in before { earlier[scrape.workload.qualifiedName] = scrape }
        var perWorkload: [String: TrafficStats] = [:]
        for scrape in after {
            perWorkload[scrape.workload.qualifiedName] = TrafficStats.inbound(before: earlier[scrape.workload.qualifiedName], after: scrape, clients: clients)
        }
        func stats(of workloads: [MeshWorkload]) -> TrafficStats {
            workloads.compactMap { perWorkload[$0.qualifiedName] }.reduce(TrafficStats(), +)
        }
        func identities(_ workloads: [MeshWorkload]) -> [String] { Array(Set(workloads.compactMap(\.identity))).sorted() }
        let inScope = inventory.workloads.filter { namespace == nil || $0.namespace == namespace }
        var rows: [Row] = []
        switch kind {
        case .workload:
            for workload in inScope where name == nil || workload.name == name {
                rows.append(Row(kind: kind, namespace: workload.namespace, name: workload.name, stats: stats(of: [workload]),
                                identities: identities([workload])))
            }
        case .service:
            for service in inventory.services where (namespace == nil || service.namespace == namespace) && (name == nil || service.name == name) {
                let members = inventory.workloads.filter(service.selects)
                rows.append(Row(kind: kind, namespace: service.namespace, name: service.name, stats: stats(of: members),
                                identities: identities(members)))
            }
        case .namespace:
            let namespaces = Set(inventory.workloads.map(\.namespace)).sorted()
            for each in namespaces where name == nil || each == name {
                let members = inventory.workloads.filter { $0.namespace == each }
                rows.append(Row(kind: kind, namespace: "", name: each, stats: stats(of: members), identities: identities(members)))
            }
        }
        self.rows = rows.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    /// Linkerd's table: NAME MESHED SUCCESS RPS LATENCY_P50 LATENCY_P95 LATENCY_P99 TCP_CONN
    /// (NAMESPACE first across namespaces; wide adds SECURED, the share of requests over mTLS,
    /// and IDENTITY).
    func table(showNamespace: Bool, wide: Bool) -> String {
        guard !rows.isEmpty else { return "No traffic sources found.\n" }
        var header = ["NAME", "MESHED", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99", "TCP_CONN"]
        if showNamespace { header.insert("NAMESPACE", at: 0) }
        if wide { header += ["SECURED", "IDENTITY"] }
        let lines = rows.map { row -> [String] in
            let stats = row.stats
            var cells = [row.name, "\(stats.meshed)/\(stats.workloads)",
                         stats.successRate.map { String(format: "%.2f%%", $0 * 100) } ?? "-",
                         String(format: "%.1frps", stats.requestsPerSecond),
                         Self.milliseconds(stats.latency(0.5)), Self.milliseconds(stats.latency(0.95)), Self.milliseconds(stats.latency(0.99)),
                         String(Int(stats.tcpConnections))]
            if showNamespace { cells.insert(row.namespace, at: 0) }
            if wide {
                cells += [stats.securedShare.map { String(format: "%.0f%%", $0 * 100) } ?? "-",
                          row.identities.isEmpty ? "-" : row.identities.joined(separator: ",")]
            }
            return cells
        }
        return TextTable.render(header, lines)
    }

    static func milliseconds(_ value: Double?) -> String {
        guard let value else { return "-" }
        return value < 10 ? String(format: "%.1fms", value) : String(format: "%.0fms", value)
    }

    /// Every figure, unrounded: `[{"kind":..,"namespace":..,"name":..,"meshed":..,"success_rate":..,...}]`.
    func json() throws -> String {
        let objects = rows.map { row -> [String: Any] in
            let stats = row.stats
            return [
                "kind": row.kind.rawValue, "namespace": row.namespace, "name": row.name,
                "meshed": stats.meshed, "workloads": stats.workloads,
                "success_rate": stats.successRate ?? NSNull(), "rps": stats.requestsPerSecond,
                "requests": stats.responses, "successes": stats.successes, "failures": stats.failures,
                "latency_ms_p50": stats.latency(0.5) ?? NSNull(), "latency_ms_p95": stats.latency(0.95) ?? NSNull(),
                "latency_ms_p99": stats.latency(0.99) ?? NSNull(),
                "tcp_conn": stats.tcpConnections, "secured_share": stats.securedShare ?? NSNull(),
                "window_seconds": stats.seconds, "identities": row.identities,
            ]
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
