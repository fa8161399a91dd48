import Foundation
import NIOCore

/// An ExternalWorkload as the mesh commands see it: where its proxy is and who it is.
struct MeshWorkload {
    var namespace: String
    var name: String
    var labels: [String: String]
    var ip: String
    var identity: String?
    var ports: [Int]
    /// `workload.weft.io/admin-port`, else Linkerd's 4191.
    var adminPort: Int
    /// The controller's `Ready` condition.
    var ready: Bool
    var readyReason: String
    /// `workload.weft.io/admin-tls: "true"`: its proxy's admin port speaks TLS
    /// (`WEFT_PROXY_ADMIN_TLS`), checked against the mesh's anchors and the workload's identity.
    var adminTLS = false
    var adminTrust: ControllerTLS?

    var adminEndpoint: HTTPExchange.Endpoint { .tcp(host: ip, port: adminPort) }

    /// How to read its proxy's admin port (over TLS when it speaks TLS).
    func adminExchange(timeout: TimeAmount) -> HTTPExchange {
        var exchange = HTTPExchange(endpoint: adminEndpoint, timeout: timeout)
        exchange.tls = adminTrust
        return exchange
    }
    var qualifiedName: String { "\(namespace)/\(name)" }

    /// The workloads in the management API's JSON for ExternalWorkloads (those without an IP are left out).
    static func all(from items: [[String: Any]]) -> [MeshWorkload] {
        items.compactMap { item in
            let metadata = item["metadata"] as? [String: Any] ?? [:]
            let spec = item["spec"] as? [String: Any] ?? [:]
            let annotations = metadata["annotations"] as? [String: String] ?? [:]
            guard let name = metadata["name"] as? String,
                  let ip = (spec["workloadIPs"] as? [[String: Any]])?.first?["ip"] as? String else { return nil }
            let conditions = (item["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
            let ready = conditions.first { $0["type"] as? String == "Ready" }
            return MeshWorkload(
                namespace: metadata["namespace"] as? String ?? "default", name: name,
                labels: metadata["labels"] as? [String: String] ?? [:], ip: ip,
                identity: (spec["meshTLS"] as? [String: Any])?["identity"] as? String,
                ports: (spec["ports"] as? [[String: Any]] ?? []).compactMap { $0["port"] as? Int },
                adminPort: annotations["workload.weft.io/admin-port"].flatMap(Int.init) ?? 4191,
                ready: ready?["status"] as? String == "True", readyReason: ready?["reason"] as? String ?? "",
                adminTLS: annotations["workload.weft.io/admin-tls"] == "true")
        }
    }
}

/// A Service as the mesh commands see it: which workloads it selects.
struct MeshService {
    var namespace: String
    var name: String
    var selector: [String: String]

    func selects(_ workload: MeshWorkload) -> Bool {
        workload.namespace == namespace && !selector.isEmpty && selector.allSatisfy { workload.labels[$0.key] == $0.value }
    }

    static func all(from items: [[String: Any]]) -> [MeshService] {
        items.compactMap { item in
            let metadata = item["metadata"] as? [String: Any] ?? [:]
            guard let name = metadata["name"] as? String else { return nil }
            return MeshService(namespace: metadata["namespace"] as? String ?? "default", name: name,
                               selector: (item["spec"] as? [String: Any])?["selector"] as? [String: String] ?? [:])
        }
    }
}
