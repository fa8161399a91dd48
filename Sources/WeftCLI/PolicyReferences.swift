import Foundation
import WeftAPI

/// What `weft check` warns about in the mesh's policy objects: Servers that select no workload,
/// and authorization objects whose targets or required authentications do not exist (such a
/// policy grants nothing: the controller leaves it out). Pure.
struct PolicyReferences {
    let resources: [Resource]

    /// One line per problem, naming the object and what it refers to.
    var warnings: [String] {
        var found: [String] = []
        func exists(_ kind: String, _ namespace: String, _ name: String) -> Bool {
            resources.contains { type(of: $0.object).kind == kind && $0.object.metadata.namespace == namespace && $0.object.metadata.name == name }
        }
        let workloads = resources.compactMap { if case .externalWorkload(let workload) = $0 { workload } else { nil } }
        let servers = resources.compactMap { if case .server(let server) = $0 { server } else { nil } }
        for server in servers {
            guard let selector = server.spec.externalWorkloadSelector else { continue }
            let namespace = server.metadata.namespace ?? "default"
            if !workloads.contains(where: { $0.metadata.namespace == namespace && selector.matches($0.metadata.labels ?? [:]) }) {
                found.append("Server \(namespace)/\(server.metadata.name ?? ""): selects no ExternalWorkload")
            }
        }
        for case .authorizationPolicy(let policy) in resources {
            let namespace = policy.metadata.namespace ?? "default"
            let name = "AuthorizationPolicy \(namespace)/\(policy.metadata.name ?? "")"
            let target = policy.spec.targetRef
            if target.kind != "Namespace", !exists(target.kind, namespace, target.name) {
                found.append("\(name): its target \(target.kind) \(target.name) does not exist (it grants nothing)")
            }
            for reference in policy.spec.requiredAuthenticationRefs where reference.kind != "ServiceAccount" {
                let referenceNamespace = reference.namespace ?? namespace
                if !exists(reference.kind, referenceNamespace, reference.name) {
                    found.append("\(name): the \(reference.kind) \(referenceNamespace)/\(reference.name) it requires does not exist (it grants nothing)")
                }
            }
        }
        for case .serverAuthorization(let authorization) in resources {
            let namespace = authorization.metadata.namespace ?? "default"
            let reference = authorization.spec.server
            let matches = servers.contains { server in
                server.metadata.namespace == namespace
                    && (reference.name.map { $0 == server.metadata.name } ?? false
                        || reference.selector.map { $0.matches(server.metadata.labels ?? [:]) } ?? false)
            }
            if !matches {
                found.append("ServerAuthorization \(namespace)/\(authorization.metadata.name ?? ""): names or selects no Server")
            }
        }
        return found
    }

    /// The kinds the check reads.
    static let kinds = ["ExternalWorkload", "Server", "AuthorizationPolicy", "ServerAuthorization", "MeshTLSAuthentication",
                        "NetworkAuthentication", "HTTPRoute", "GRPCRoute"]

    /// Reads those kinds from the controller (every namespace) as typed resources.
    static func load(_ client: ControllerClient) throws -> PolicyReferences {
        var resources: [Resource] = []
        for kind in kinds {
            for object in try client.objects(kind: kind) {
                let json = try JSONSerialization.data(withJSONObject: object)
                resources += try ManifestDecoder().decode(String(decoding: json, as: UTF8.self), source: kind)
            }
        }
        return PolicyReferences(resources: resources)
    }
}
