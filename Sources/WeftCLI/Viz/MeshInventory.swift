/// The workloads and services a controller knows: what `weft viz` and `weft check` look at.
struct MeshInventory {
    let workloads: [MeshWorkload]
    let services: [MeshService]

    static func load(_ client: ControllerClient) throws -> MeshInventory {
        MeshInventory(workloads: MeshWorkload.all(from: try client.objects(kind: "ExternalWorkload")),
                      services: MeshService.all(from: try client.objects(kind: "Service")))
    }

    /// The workload with this address, if any.
    func workload(ip: String) -> MeshWorkload? { workloads.first { $0.ip == ip } }
}
