import WeftAPI
import WeftStore

extension StoreConformance {
    /// The objects the checks write: Services and ExternalWorkloads in the `conformance`
    /// namespace, decoded from YAML as `weft apply` decodes it.
    enum Fixtures {
        static let namespace = "conformance"

        /// Services named `names`, each exposing `port` (change the port to change the object).
        static func services(_ names: [String], port: Int = 80) -> [Resource] {
            decode(names.map { name in
                """
                apiVersion: v1
                kind: Service
                metadata: {name: \(name), namespace: \(namespace)}
                spec:
                  selector: {app: \(name)}
                  ports: [{port: \(port)}]
                """
            })
        }

        /// ExternalWorkloads named `names` with one workload port.
        static func workloads(_ names: [String], port: Int = 8080) -> [Resource] {
            decode(names.map { name in
                """
                apiVersion: workload.linkerd.io/v1beta1
                kind: ExternalWorkload
                metadata: {name: \(name), namespace: \(namespace), labels: {app: web}}
                spec:
                  meshTLS: {identity: "spiffe://cluster.local/web", serverName: "web.conformance.cluster.local"}
                  workloadIPs: [{ip: 127.0.0.11}]
                  ports: [{port: \(port), name: http}]
                """
            })
        }

        static func key(_ name: String) -> ResourceKey {
            ResourceKey(kind: Service.kind, namespace: namespace, name: name)
        }

        /// `resource` claiming to be at `version` (optimistic concurrency).
        static func versioned(_ resource: Resource, _ version: String?) -> Resource {
            var metadata = resource.metadata
            metadata.resourceVersion = version
            return resource.with(metadata: metadata)
        }

        static let readyStatus = Resource.Status.externalWorkload(ExternalWorkload.Status(conditions: [
            Condition(type: "Ready", status: .true, reason: "ProxyReady", lastTransitionTime: "2026-01-01T00:00:00Z"),
        ]))

        private static func decode(_ documents: [String]) -> [Resource] {
            do {
                return try ManifestDecoder().decode(documents.joined(separator: "\n---\n"), source: "conformance.yaml")
            } catch {
                preconditionFailure("the conformance fixtures do not decode: \(error)")
            }
        }
    }
}
