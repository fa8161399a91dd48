import Foundation
import Logging
import ServiceLifecycle
import WeftAPI
import WeftStore

/// Writes `status.parents` of HTTPRoutes and GRPCRoutes, as Linkerd's policy controller does:
/// for each parent, `Accepted` (the Server or Service exists in the route's namespace, else
/// `NoMatchingParent`) and `ResolvedRefs` (every backend Service exists, else `BackendNotFound`),
/// under the controller name `linkerd.io/policy-controller`. Rewritten whenever the store changes
/// what they depend on.
public struct RouteStatusWriter: ServiceLifecycle.Service {
    public static let controllerName = "linkerd.io/policy-controller"

    let store: any ResourceStore
    let metrics: ControllerMetrics
    let logger: Logger

    public init(store: any ResourceStore, metrics: ControllerMetrics, logger: Logger) {
        self.store = store
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            for await snapshot in await store.snapshots() {
                for resource in snapshot.objects.values {
                    guard let wanted = Self.status(of: resource, in: snapshot), Self.differs(resource.status, wanted) else { continue }
                    var updated = resource
                    updated.status = wanted
                    do {
                        try await store.updateStatus(updated)
                    } catch {
                        metrics.storeWriteFailed((error as? StoreError)?.code.rawValue ?? "unknown")
                        logger.warning("cannot record route status", metadata: ["route": "\(ResourceKey(resource))", "error": "\(error)"])
                    }
                }
            }
        }
        // The store ends its snapshots first at shutdown; stay until the group is done.
        try? await gracefulShutdown()
    }

    /// The status a route should have, or nil for other kinds.
    static func status(of resource: Resource, in snapshot: StoreSnapshot) -> Resource.Status? {
        let namespace = resource.metadata.namespace ?? "default"
        let parents: [GatewayRoute.ParentReference]
        let backends: [(kind: String?, name: String, namespace: String?)]
        switch resource {
        case .httpRoute(let route):
            parents = route.spec.parentRefs ?? []
            backends = (route.spec.rules ?? []).flatMap { $0.backendRefs ?? [] }.map { ($0.kind, $0.name, $0.namespace) }
        case .grpcRoute(let route):
            parents = route.spec.parentRefs ?? []
            backends = (route.spec.rules ?? []).flatMap { $0.backendRefs ?? [] }.map { ($0.kind, $0.name, $0.namespace) }
        default:
            return nil
        }
        let missingBackend = backends.first { backend in
            (backend.kind ?? "Service") == "Service" && snapshot[Service.kind, backend.namespace ?? namespace, backend.name] == nil
        }
        let resolved = missingBackend.map {
            Condition(type: "ResolvedRefs", status: .false, reason: "BackendNotFound", message: "no Service \($0.namespace ?? namespace)/\($0.name)")
        } ?? Condition(type: "ResolvedRefs", status: .true, reason: "ResolvedRefs")
        let statuses = parents.map { parent -> GatewayRoute.ParentStatus in
            let kind = parent.isServer ? Server.kind : Service.kind
            let exists = snapshot[kind, parent.namespace ?? namespace, parent.name] != nil
            let accepted = exists
                ? Condition(type: "Accepted", status: .true, reason: "Accepted")
                : Condition(type: "Accepted", status: .false, reason: "NoMatchingParent", message: "no \(kind) \(parent.namespace ?? namespace)/\(parent.name)")
            return GatewayRoute.ParentStatus(parentRef: parent, controllerName: controllerName, conditions: [accepted, resolved])
        }
        return .route(GatewayRoute.RouteStatus(parents: statuses))
    }

    /// Whether `current` says something else than `wanted` (transition times aside); the times
    /// of conditions that did not change are carried over.
    static func differs(_ current: Resource.Status, _ wanted: Resource.Status) -> Bool {
        guard case .route(let have) = current, case .route(let want) = wanted else { return true }
        func stripped(_ status: GatewayRoute.RouteStatus?) -> [GatewayRoute.ParentStatus] {
            (status?.parents ?? []).map { parent in
                var parent = parent
                parent.conditions = parent.conditions?.map { var c = $0; c.lastTransitionTime = nil; return c }
                return parent
            }
        }
        return stripped(have) != stripped(want)
    }
}
