import GRPCCore
import SwiftProtobuf
import WeftAPI
import WeftCore
import WeftPolicy
import WeftStore

/// `io.linkerd.proxy.inbound.InboundServerPolicies`: the policy of one port of one workload
/// (linkerd-compat §1.5). A `Server` that selects the workload's port gives the protocol
/// (`proxyProtocol`); otherwise the controller's default policy applies, opaque on opaque ports
/// and `detect` elsewhere. Authorizations: the default policy's (e.g. everyone,
/// unauthenticated); none for a `Server` (Linkerd denies what no policy allows) until
/// AuthorizationPolicy support plugs in at ``InboundPolicyBuilder/authorizations``.
public struct InboundPolicyService: Io_Linkerd_Proxy_Inbound_InboundServerPolicies.SimpleServiceProtocol {
    let store: any ResourceStore
    let builder: InboundPolicyBuilder
    let metrics: ControllerMetrics

    public init(store: any ResourceStore, defaultPolicy: InboundPolicyBuilder.DefaultPolicy, metrics: ControllerMetrics) {
        self.store = store
        builder = InboundPolicyBuilder(defaultPolicy: defaultPolicy)
        self.metrics = metrics
    }

    public func getPort(request: Io_Linkerd_Proxy_Inbound_PortSpec, context: ServerContext) async throws -> Io_Linkerd_Proxy_Inbound_Server {
        try builder.server(for: request, in: await store.snapshot())
    }

    public func watchPort(request: Io_Linkerd_Proxy_Inbound_PortSpec, response: RPCWriter<Io_Linkerd_Proxy_Inbound_Server>,
                          context: ServerContext) async throws {
        metrics.watchStarted("inbound_watch_port")
        defer { metrics.watchEnded("inbound_watch_port") }
        // Compared as policies, encoded only when changed.
        var sent: ServerPolicy?
        for await snapshot in await store.snapshots() {
            let started = ContinuousClock.now
            let policy = try builder.policy(for: request, in: snapshot)
            guard policy != sent else { continue }
            try await response.write(policy.protobuf)
            sent = policy
            metrics.updateSent("inbound_watch_port", latency: ContinuousClock.now - started)
        }
    }
}

/// Builds an inbound `Server` policy from a store snapshot; pure.
public struct InboundPolicyBuilder: Sendable {
    /// Linkerd's default inbound policies (`--default-inbound-policy`).
    public enum DefaultPolicy: String, Sendable, CaseIterable {
        case allUnauthenticated = "all-unauthenticated"
        case allAuthenticated = "all-authenticated"
        case clusterUnauthenticated = "cluster-unauthenticated"
        case clusterAuthenticated = "cluster-authenticated"
        case deny
    }

    public let defaultPolicy: DefaultPolicy

    public init(defaultPolicy: DefaultPolicy) {
        self.defaultPolicy = defaultPolicy
    }

    /// The port's policy as the proxy API sends it.
    public func server(for spec: Io_Linkerd_Proxy_Inbound_PortSpec, in snapshot: StoreSnapshot) throws(RPCError) -> Io_Linkerd_Proxy_Inbound_Server {
        try policy(for: spec, in: snapshot).protobuf
    }

    /// The port's policy: the Server that selects the workload's port, else the default policy
    /// (opaque on Linkerd's default opaque ports, detection elsewhere).
    public func policy(for spec: Io_Linkerd_Proxy_Inbound_PortSpec, in snapshot: StoreSnapshot) throws(RPCError) -> ServerPolicy {
        guard let port = UInt16(exactly: spec.port), port > 0 else {
            throw RPCError(code: .invalidArgument, message: "port \(spec.port) is not a TCP port")
        }
        let token = ContextToken(parsing: spec.workload)
        guard let namespace = token.namespace, let name = token.externalWorkload ?? token.pod else {
            throw RPCError(code: .invalidArgument, message: "workload \"\(spec.workload)\" names no namespace and workload ({\"ns\":..,\"external_workload\":..})")
        }
        if case .externalWorkload(let workload)? = snapshot[ExternalWorkload.kind, namespace, name],
           let selected = selectingServer(workload, port: port, in: snapshot) {
            return ServerPolicy(proxyProtocol: proxyProtocol(selected.spec.proxyProtocol), authorizations: [],
                                httpRoutes: [.default],
                                labels: ["group": "policy.linkerd.io", "kind": "server", "name": selected.metadata.name ?? ""])
        }
        let opaque = PortSet.linkerdDefaultOpaquePorts.contains(port)
        return ServerPolicy(proxyProtocol: opaque ? .opaque : proxyProtocol(nil), authorizations: authorizations(defaultPolicy),
                            httpRoutes: [.default], labels: ["group": "", "kind": "default", "name": defaultPolicy.rawValue])
    }

    /// The first Server (by name) in the workload's namespace whose external-workload selector
    /// matches it and whose port is this one (by number or by the workload's port name).
    private func selectingServer(_ workload: ExternalWorkload, port: UInt16, in snapshot: StoreSnapshot) -> Server? {
        let labels = workload.metadata.labels ?? [:]
        for case .server(let server) in snapshot.list(kind: Server.kind, namespace: workload.metadata.namespace ?? "default") {
            guard let selector = server.spec.externalWorkloadSelector, selector.matches(labels) else { continue }
            switch server.spec.port {
            case .number(let number) where number == port: return server
            case .name(let name) where workload.spec.ports?.contains(where: { $0.name == name && $0.port.value == port }) == true: return server
            default: continue
            }
        }
        return nil
    }

    private func proxyProtocol(_ declared: Server.ProxyProtocol?) -> ServerPolicy.ProxyProtocol {
        switch declared {
        case .http1?: .http1
        case .http2?: .http2
        case .grpc?: .grpc
        case .opaque?: .opaque
        case .tls?: .tls
        case .unknown?, nil: .detect(timeout: ServerPolicy.ProxyProtocol.defaultDetectTimeout)
        }
    }

    /// The authorizations a default policy grants.
    func authorizations(_ policy: DefaultPolicy) -> [Authorization] {
        let authentication: Authorization.Authentication
        switch policy {
        case .deny:
            return []
        case .allUnauthenticated, .clusterUnauthenticated:
            authentication = .unauthenticated
        case .allAuthenticated, .clusterAuthenticated:
            authentication = .meshTLS(identities: [], suffixes: [[]])
        }
        return [Authorization(networks: Authorization.Network.everywhere, authentication: authentication,
                              labels: ["group": "", "kind": "default", "name": policy.rawValue], metadata: .default(policy.rawValue))]
    }
}
