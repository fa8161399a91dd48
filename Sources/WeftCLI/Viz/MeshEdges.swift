import Foundation
import WeftCore

/// Who talks to whom: `weft viz edges`. An edge is a client workload whose proxy opened
/// connections to a server workload's address, with the identity the client's proxy verified
/// (`server_id`) and the identity the server's proxy saw (`client_id`). It is secured when both
/// proxies agree on mutual TLS and on who the other is.
struct MeshEdges {
    struct Edge: Hashable {
        var source: String
        var sourceNamespace: String
        var destination: String
        var destinationNamespace: String
        var clientID: String
        var serverID: String
        var secured: Bool
        var message: String
    }

    let edges: [Edge]

    init(inventory: MeshInventory, scrapes: [ProxyScrape], namespace: String?) {
        var byWorkload: [String: ProxyScrape] = [:]
        for scrape in scrapes { byWorkload[scrape.workload.qualifiedName] = scrape }
        var found = Set<Edge>()
        for client in scrapes where client.reachable {
            for sample in client.values("tcp_open_total", ["direction": "outbound", "peer": "dst"]) where sample.value > 0 {
                guard let target = sample.labels["target_addr"], let colon = target.lastIndex(of: ":"),
                      let server = inventory.workload(ip: String(target[..<colon])) else { continue }
                guard namespace == nil || client.workload.namespace == namespace || server.namespace == namespace else { continue }
                let serverID = sample.labels["server_id"] ?? ""
                let clientIdentity = client.workload.identity ?? ""
                // What the server's proxy saw of this client.
                let seen = byWorkload[server.qualifiedName].map { scrape in
                    scrape.values("tcp_open_total", ["direction": "inbound", "peer": "src", "tls": "true"])
                        .contains { $0.labels["client_id"] == clientIdentity && $0.value > 0 }
                } ?? false
                let tls = sample.labels["tls"] == "true"
                var message = ""
                if !tls { message = "not mTLS" } else if serverID != server.identity { message = "server identity is not the workload's" } else if !seen {
                    message = "the server has not seen this client's identity"
                }
                found.insert(Edge(source: client.workload.name, sourceNamespace: client.workload.namespace,
                                  destination: server.name, destinationNamespace: server.namespace,
                                  clientID: seen ? clientIdentity : "-", serverID: serverID.isEmpty ? "-" : serverID,
                                  secured: message.isEmpty, message: message))
            }
        }
        edges = found.sorted { ($0.sourceNamespace, $0.source, $0.destinationNamespace, $0.destination) < ($1.sourceNamespace, $1.source, $1.destinationNamespace, $1.destination) }
    }

    func table() -> String {
        guard !edges.isEmpty else { return "No edges found.\n" }
        let rows = edges.map { edge in
            [edge.source, edge.destination, edge.sourceNamespace, edge.destinationNamespace, edge.clientID, edge.serverID,
             edge.secured ? "√" : "×", edge.message.isEmpty ? "-" : edge.message]
        }
        return TextTable.render(["SRC", "DST", "SRC_NS", "DST_NS", "CLIENT_ID", "SERVER_ID", "SECURED", "MSG"], rows)
    }

    func json() throws -> String {
        let objects = edges.map { edge -> [String: Any] in
            ["src": edge.source, "dst": edge.destination, "src_namespace": edge.sourceNamespace, "dst_namespace": edge.destinationNamespace,
             "client_id": edge.clientID, "server_id": edge.serverID, "secured": edge.secured, "msg": edge.message]
        }
        return String(decoding: try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self) + "\n"
    }
}
