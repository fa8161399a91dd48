import GRPCCore
import Logging
import SwiftProtobuf
import WeftAPI
import WeftCore
import WeftPolicy
import WeftStore

/// `io.linkerd.proxy.outbound.OutboundPolicies`: for a service (by authority, or by cluster IP),
/// its protocol and routes, as Linkerd's policy controller sends them (linkerd-compat §1.6): an
/// opaque port gets one opaque route; a port with GRPCRoutes is a gRPC port with those routes;
/// any other port `detect`, with its HTTPRoutes or else a default route matching every path
/// (``OutboundRouteBuilder``). Backends are Services balanced by P2C over Peak-EWMA (30 ms,
/// 10 s) behind a queue (100, 3 s).
public struct OutboundPolicyService: Io_Linkerd_Proxy_Outbound_OutboundPolicies.SimpleServiceProtocol {
    let store: any ResourceStore
    let builder: OutboundPolicyBuilder
    let metrics: ControllerMetrics

    public init(store: any ResourceStore, clusterDomain: String, metrics: ControllerMetrics) {
        self.store = store
        builder = OutboundPolicyBuilder(clusterDomain: clusterDomain)
        self.metrics = metrics
    }

    public func get(request: Io_Linkerd_Proxy_Outbound_TrafficSpec, context: ServerContext) async throws -> Io_Linkerd_Proxy_Outbound_OutboundPolicy {
        let snapshot = await store.snapshot()
        _ = try ControlPlaneCaller(context).check(request.sourceWorkload, what: "source_workload", required: false, in: snapshot)
        return try builder.policy(for: request, in: snapshot)
    }

    public func watch(request: Io_Linkerd_Proxy_Outbound_TrafficSpec, response: RPCWriter<Io_Linkerd_Proxy_Outbound_OutboundPolicy>,
                      context: ServerContext) async throws {
        _ = try ControlPlaneCaller(context).check(request.sourceWorkload, what: "source_workload", required: false, in: await store.snapshot())
        metrics.watchStarted("outbound_watch")
        defer { metrics.watchEnded("outbound_watch") }
        // Compared as policies, encoded only when changed.
        var sent: ClientPolicy?
        for await snapshot in await store.snapshots() {
            let started = ContinuousClock.now
            let policy = try builder.clientPolicy(for: request, in: snapshot)
            guard policy != sent else { continue }
            try await response.write(policy.protobuf)
            sent = policy
            metrics.updateSent("outbound_watch", latency: ContinuousClock.now - started)
        }
    }
}

/// Builds an `OutboundPolicy` from a store snapshot; pure.
public struct OutboundPolicyBuilder: Sendable {
    public let clusterDomain: String

    public init(clusterDomain: String) {
        self.clusterDomain = clusterDomain
    }

    /// The service port's policy as the proxy API sends it.
    public func policy(for spec: Io_Linkerd_Proxy_Outbound_TrafficSpec, in snapshot: StoreSnapshot) throws(RPCError) -> Io_Linkerd_Proxy_Outbound_OutboundPolicy {
        try clientPolicy(for: spec, in: snapshot).protobuf
    }

    /// The service port's policy: one opaque route on opaque ports; gRPC routes when GRPCRoutes
    /// name the port; elsewhere detection with the HTTP routes and an opaque route.
    public func clientPolicy(for spec: Io_Linkerd_Proxy_Outbound_TrafficSpec, in snapshot: StoreSnapshot) throws(RPCError) -> ClientPolicy {
        let (service, port) = try target(spec, in: snapshot)
        let authority = ServiceAuthority(service: service.metadata.name ?? "", namespace: service.metadata.namespace ?? "default", port: port)
        let parent = ResourceReference(group: "core", kind: "Service", name: authority.service, namespace: authority.namespace, port: port)
        let routes = OutboundRouteBuilder(clusterDomain: clusterDomain, parent: parent, port: port)
        let opaqueRoute = ClientPolicy.OpaqueRoute(metadata: .default("opaq"), backends: .firstAvailable([routes.parentBackend]))
        if OpaquePorts.of(service).contains(port) {
            return ClientPolicy(parent: parent, proxyProtocol: .opaque(routes: [opaqueRoute]))
        }
        let accrual = FailureAccrualAnnotations.read(service.metadata.annotations).0.map { annotations in
            ClientPolicy.FailureAccrual(maximumFailures: annotations.maximumFailures, minimumPenalty: annotations.minimumPenalty.duration,
                                        maximumPenalty: annotations.maximumPenalty.duration, jitterRatio: annotations.jitterRatio)
        }
        switch routes.routes(in: snapshot) {
        case .http(let httpRoutes):
            return ClientPolicy(parent: parent, proxyProtocol: .detect(timeout: .seconds(10), httpRoutes: httpRoutes, opaqueRoutes: [opaqueRoute]),
                                failureAccrual: accrual)
        case .grpc(let grpcRoutes):
            return ClientPolicy(parent: parent, proxyProtocol: .grpc(routes: grpcRoutes), failureAccrual: accrual)
        }
    }

    /// The service a spec names, and the port; NOT_FOUND for anything that is not a known service.
    private func target(_ spec: Io_Linkerd_Proxy_Outbound_TrafficSpec, in snapshot: StoreSnapshot) throws(RPCError) -> (Service, UInt16) {
        switch spec.target {
        case .authority(let text)?:
            guard let authority = try? ServiceAuthority(parsing: text, clusterDomain: clusterDomain) else {
                throw RPCError(code: .invalidArgument, message: "\"\(text)\" is not <service>.<namespace>.svc.\(clusterDomain)[:port]")
            }
            guard case .service(let service)? = snapshot[Service.kind, authority.namespace, authority.service] else {
                throw RPCError(code: .notFound, message: "no service \(authority.namespace)/\(authority.service)")
            }
            return (service, authority.port)
        case .addr(let address)?:
            guard let ip = address.ip.address, let port = UInt16(exactly: address.port), port > 0 else {
                throw RPCError(code: .invalidArgument, message: "the address has no IP or port")
            }
            if let service = snapshot.service(clusterIP: ip) { return (service, port) }
            throw RPCError(code: .notFound, message: "no service has the cluster IP \(ip)")
        case nil:
            throw RPCError(code: .invalidArgument, message: "the traffic spec names no target")
        }
    }
}
