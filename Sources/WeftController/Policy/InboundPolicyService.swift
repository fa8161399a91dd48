import GRPCCore
import SwiftProtobuf
import WeftAPI
import WeftCore
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
        var sent: Io_Linkerd_Proxy_Inbound_Server?
        for await snapshot in await store.snapshots() {
            let started = ContinuousClock.now
            let server = try builder.server(for: request, in: snapshot)
            guard server != sent else { continue }
            try await response.write(server)
            sent = server
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

    public func server(for spec: Io_Linkerd_Proxy_Inbound_PortSpec, in snapshot: StoreSnapshot) throws(RPCError) -> Io_Linkerd_Proxy_Inbound_Server {
        guard let port = UInt16(exactly: spec.port), port > 0 else {
            throw RPCError(code: .invalidArgument, message: "port \(spec.port) is not a TCP port")
        }
        let token = ContextToken(parsing: spec.workload)
        guard let namespace = token.namespace, let name = token.externalWorkload ?? token.pod else {
            throw RPCError(code: .invalidArgument, message: "workload \"\(spec.workload)\" names no namespace and workload ({\"ns\":..,\"external_workload\":..})")
        }
        var server = Io_Linkerd_Proxy_Inbound_Server()
        if case .externalWorkload(let workload)? = snapshot[ExternalWorkload.kind, namespace, name],
           let selected = selectingServer(workload, port: port, in: snapshot) {
            server.protocol = proxyProtocol(selected.spec.proxyProtocol, routes: defaultRoutes())
            server.authorizations = []
            server.labels = ["group": "policy.linkerd.io", "kind": "server", "name": selected.metadata.name ?? ""]
            return server
        }
        server.protocol = PortSet.linkerdDefaultOpaquePorts.contains(port)
            ? .with { $0.opaque = .init() }
            : proxyProtocol(nil, routes: defaultRoutes())
        server.authorizations = authorizations(defaultPolicy)
        server.labels = ["group": "", "kind": "default", "name": defaultPolicy.rawValue]
        return server
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

    private func proxyProtocol(_ declared: Server.ProxyProtocol?, routes: [Io_Linkerd_Proxy_Inbound_HttpRoute]) -> Io_Linkerd_Proxy_Inbound_ProxyProtocol {
        var result = Io_Linkerd_Proxy_Inbound_ProxyProtocol()
        switch declared {
        case .http1?: result.http1 = .with { $0.routes = routes }
        case .http2?: result.http2 = .with { $0.routes = routes }
        case .grpc?: result.grpc = .init()
        case .opaque?: result.opaque = .init()
        case .tls?: result.tls = .init()
        case .unknown?, nil:
            result.detect = .with {
                $0.timeout = .init(seconds: 10)
                $0.httpRoutes = routes
            }
        }
        return result
    }

    /// The route every server has while no HTTPRoute names it: every path.
    private func defaultRoutes() -> [Io_Linkerd_Proxy_Inbound_HttpRoute] {
        [.with {
            $0.metadata = .with { $0.default = "default" }
            $0.rules = [.with { $0.matches = [.with { $0.path = .with { $0.prefix = "/" } }] }]
        }]
    }

    /// The authorizations a default policy grants.
    func authorizations(_ policy: DefaultPolicy) -> [Io_Linkerd_Proxy_Inbound_Authz] {
        let everyone: [Io_Linkerd_Proxy_Inbound_Network] = [
            .with { $0.net = .init(IPNetwork(address: .v4(0), prefixLength: 0)) },
            .with { $0.net = .init(IPNetwork(address: .v6(first: 0, last: 0), prefixLength: 0)) },
        ]
        let authentication: Io_Linkerd_Proxy_Inbound_Authn
        switch policy {
        case .deny:
            return []
        case .allUnauthenticated, .clusterUnauthenticated:
            authentication = .with { $0.unauthenticated = .init() }
        case .allAuthenticated, .clusterAuthenticated:
            authentication = .with { $0.meshTls = .with { $0.identities = .with { $0.suffixes = [.init()] } } }
        }
        return [.with {
            $0.networks = everyone
            $0.authentication = authentication
            $0.labels = ["group": "", "kind": "default", "name": policy.rawValue]
            $0.metadata = .with { $0.default = policy.rawValue }
        }]
    }
}
