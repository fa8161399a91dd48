import GRPCCore
import SwiftProtobuf
import WeftAPI
import WeftCore
import WeftPolicy
import WeftStore

/// `io.linkerd.proxy.inbound.InboundServerPolicies`: the policy of one port of one workload
/// (linkerd-compat §1.5). A `Server` that selects the workload's port gives the protocol
/// (`proxyProtocol`) and its authorizations (``InboundAuthorizations``); otherwise the default
/// policy applies, opaque on opaque ports and `detect` elsewhere. Every store change is
/// recomputed and sent on the open `WatchPort` streams when the port's policy changed.
public struct InboundPolicyService: Io_Linkerd_Proxy_Inbound_InboundServerPolicies.SimpleServiceProtocol {
    let store: any ResourceStore
    let builder: InboundPolicyBuilder
    let metrics: ControllerMetrics

    public init(store: any ResourceStore, defaultPolicy: InboundPolicyBuilder.DefaultPolicy, trustDomain: String, metrics: ControllerMetrics) {
        self.store = store
        builder = InboundPolicyBuilder(defaultPolicy: defaultPolicy, trustDomain: trustDomain)
        self.metrics = metrics
    }

    public func getPort(request: Io_Linkerd_Proxy_Inbound_PortSpec, context: ServerContext) async throws -> Io_Linkerd_Proxy_Inbound_Server {
        let snapshot = await store.snapshot()
        _ = try ControlPlaneCaller(context).check(request.workload, what: "workload", required: true, in: snapshot)
        return try builder.server(for: request, in: snapshot)
    }

    public func watchPort(request: Io_Linkerd_Proxy_Inbound_PortSpec, response: RPCWriter<Io_Linkerd_Proxy_Inbound_Server>,
                          context: ServerContext) async throws {
        // Over mutual TLS a workload reads only its own policy (the check is made once: an
        // ExternalWorkload's identity is not expected to change under an open watch).
        _ = try ControlPlaneCaller(context).check(request.workload, what: "workload", required: true, in: await store.snapshot())
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
    /// Linkerd's default inbound policies (`--default-inbound-policy`,
    /// `config.linkerd.io/default-inbound-policy`).
    public typealias DefaultPolicy = DefaultInboundPolicy

    /// The annotation (on a workload, else its Namespace) that overrides the controller's default.
    public static let defaultPolicyAnnotation = "config.linkerd.io/default-inbound-policy"
    /// The annotation listing ports where the default policy admits only mesh-TLS clients.
    public static let requireIdentityAnnotation = "config.linkerd.io/proxy-require-identity-inbound-ports"

    public let defaultPolicy: DefaultPolicy
    public let trustDomain: String

    public init(defaultPolicy: DefaultPolicy, trustDomain: String = "cluster.local") {
        self.defaultPolicy = defaultPolicy
        self.trustDomain = trustDomain
    }

    /// The port's policy as the proxy API sends it.
    public func server(for spec: Io_Linkerd_Proxy_Inbound_PortSpec, in snapshot: StoreSnapshot) throws(RPCError) -> Io_Linkerd_Proxy_Inbound_Server {
        try policy(for: spec, in: snapshot).protobuf
    }

    /// The port's policy: the Server that selects the workload's port with its authorizations,
    /// else the default policy (the workload's annotation, its Namespace's, the controller's),
    /// opaque on Linkerd's default opaque ports and detection elsewhere.
    public func policy(for spec: Io_Linkerd_Proxy_Inbound_PortSpec, in snapshot: StoreSnapshot) throws(RPCError) -> ServerPolicy {
        guard let port = UInt16(exactly: spec.port), port > 0 else {
            throw RPCError(code: .invalidArgument, message: "port \(spec.port) is not a TCP port")
        }
        let token = ContextToken(parsing: spec.workload)
        guard let namespace = token.namespace, let name = token.externalWorkload ?? token.pod else {
            throw RPCError(code: .invalidArgument, message: "workload \"\(spec.workload)\" names no namespace and workload ({\"ns\":..,\"external_workload\":..})")
        }
        let workload: ExternalWorkload?
        if case .externalWorkload(let found)? = snapshot[ExternalWorkload.kind, namespace, name] { workload = found } else { workload = nil }
        if let workload, let selected = selectingServer(workload, port: port, in: snapshot) {
            let authorizations = InboundAuthorizations(snapshot: snapshot, trustDomain: trustDomain)
            return ServerPolicy(proxyProtocol: proxyProtocol(selected.spec.proxyProtocol), authorizations: authorizations.forServer(selected),
                                httpRoutes: InboundRouteBuilder(snapshot: snapshot, authorizations: authorizations).routes(for: selected),
                                labels: ["group": "policy.linkerd.io", "kind": "server", "name": selected.metadata.name ?? ""])
        }
        let policy = defaultPolicy(workload: workload, namespace: namespace, in: snapshot)
        var authorizations = Self.authorizations(policy)
        if let workload, Self.requiresIdentity(workload, port: port) {
            for index in authorizations.indices where authorizations[index].authentication == .unauthenticated {
                authorizations[index].authentication = .meshTLS(identities: [], suffixes: [[]])
            }
        }
        let opaque = PortSet.linkerdDefaultOpaquePorts.contains(port)
        return ServerPolicy(proxyProtocol: opaque ? .opaque : proxyProtocol(nil), authorizations: authorizations,
                            httpRoutes: [.default], labels: ["group": "", "kind": "default", "name": policy.rawValue])
    }

    /// The default policy of a workload: its annotation, else its Namespace's, else the
    /// controller's. An annotation with an unknown value is ignored (`weft apply` refuses it).
    func defaultPolicy(workload: ExternalWorkload?, namespace: String, in snapshot: StoreSnapshot) -> DefaultPolicy {
        if let text = workload?.metadata.annotations?[Self.defaultPolicyAnnotation], let policy = DefaultPolicy(rawValue: text) {
            return policy
        }
        if case .namespace(let object)? = snapshot[Namespace.kind, "", namespace],
           let text = object.metadata.annotations?[Self.defaultPolicyAnnotation], let policy = DefaultPolicy(rawValue: text) {
            return policy
        }
        return defaultPolicy
    }

    /// Whether the workload's `proxy-require-identity-inbound-ports` lists `port`.
    static func requiresIdentity(_ workload: ExternalWorkload, port: UInt16) -> Bool {
        guard let text = workload.metadata.annotations?[requireIdentityAnnotation],
              let ports = PortSet(parsing: text) else { return false }
        return ports.contains(port)
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
    public static func authorizations(_ policy: DefaultPolicy) -> [Authorization] {
        policy.authorizations
    }
}
