/// The workloads and services a controller knows: what `weft viz` and `weft check` look at.
struct MeshInventory {
    let workloads: [MeshWorkload]
    let services: [MeshService]

    static func load(_ client: ControllerClient) throws -> MeshInventory {
        var workloads = MeshWorkload.all(from: try client.objects(kind: "ExternalWorkload"))
        // Proxies whose admin port speaks TLS are read trusting the mesh's anchors.
        if workloads.contains(where: \.adminTLS), let anchors = try client.mesh().identity?.trustAnchorsPEM {
            for index in workloads.indices where workloads[index].adminTLS {
                workloads[index].adminTrust = try? ControllerTLS(anchorsPEM: anchors, identity: workloads[index].identity ?? "")
            }
        }
        return MeshInventory(workloads: workloads, services: MeshService.all(from: try client.objects(kind: "Service")))
    }

    /// The workload with this address, if any.
    func workload(ip: String) -> MeshWorkload? { workloads.first { $0.ip == ip } }
}
