import GRPCCore
import Logging
import SwiftProtobuf
import WeftAPI
import WeftCore
import WeftStore

/// `io.linkerd.proxy.outbound.OutboundPolicies`: for a service (by authority, or by cluster IP),
/// its protocol and routes, as Linkerd 2.15's policy controller sends them without HTTPRoutes
/// (linkerd-compat §1.6): an opaque port gets one opaque route; any other port `detect` with a
/// default route matching every path, each leading to the service's backend, balanced by
/// P2C over Peak-EWMA (30 ms, 10 s) behind a queue (100, 3 s). Routes from HTTPRoute and
/// GRPCRoute objects plug in at ``OutboundPolicyBuilder/routes``.
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
        try builder.policy(for: request, in: await store.snapshot())
    }

    public func watch(request: Io_Linkerd_Proxy_Outbound_TrafficSpec, response: RPCWriter<Io_Linkerd_Proxy_Outbound_OutboundPolicy>,
                      context: ServerContext) async throws {
        metrics.watchStarted("outbound_watch")
        defer { metrics.watchEnded("outbound_watch") }
        var sent: Io_Linkerd_Proxy_Outbound_OutboundPolicy?
        for await snapshot in await store.snapshots() {
            let started = ContinuousClock.now
            let policy = try builder.policy(for: request, in: snapshot)
            guard policy != sent else { continue }
            try await response.write(policy)
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

    public func policy(for spec: Io_Linkerd_Proxy_Outbound_TrafficSpec, in snapshot: StoreSnapshot) throws(RPCError) -> Io_Linkerd_Proxy_Outbound_OutboundPolicy {
        let (service, port) = try target(spec, in: snapshot)
        let authority = ServiceAuthority(service: service.metadata.name ?? "", namespace: service.metadata.namespace ?? "default", port: port)
        let resource = Io_Linkerd_Proxy_Meta_Metadata.with {
            $0.resource = .with {
                $0.group = "core"
                $0.kind = "Service"
                $0.name = authority.service
                $0.namespace = authority.namespace
                $0.port = UInt32(port)
            }
        }
        let backend = Io_Linkerd_Proxy_Outbound_Backend.with {
            $0.metadata = resource
            $0.queue = .with {
                $0.capacity = 100
                $0.failfastTimeout = .init(seconds: 3)
            }
            $0.balancer = .with {
                $0.discovery = .with { $0.dst = .with { $0.path = "\(authority.fullyQualifiedName(clusterDomain: clusterDomain)):\(port)" } }
                $0.peakEwma = .with {
                    $0.defaultRtt = .init(seconds: 0, nanos: 30_000_000)
                    $0.decay = .init(seconds: 10)
                }
            }
        }
        let opaqueRoute = Io_Linkerd_Proxy_Outbound_OpaqueRoute.with {
            $0.metadata = .with { $0.default = "opaq" }
            $0.rules = [.with { $0.backends = .with { $0.firstAvailable = .with { $0.backends = [.with { $0.backend = backend }] } } }]
        }
        var policy = Io_Linkerd_Proxy_Outbound_OutboundPolicy()
        policy.metadata = resource
        if OpaquePorts.of(service).contains(port) {
            policy.protocol = .with { $0.opaque = .with { $0.routes = [opaqueRoute] } }
            return policy
        }
        let routes = self.routes(backend: backend)
        policy.protocol = .with {
            $0.detect = .with {
                $0.timeout = .init(seconds: 10)
                $0.opaque = .with { $0.routes = [opaqueRoute] }
                $0.http1 = .with { $0.routes = routes }
                $0.http2 = .with { $0.routes = routes }
            }
        }
        return policy
    }

    /// The HTTP routes of a service: today the default route, every path to the service backend.
    func routes(backend: Io_Linkerd_Proxy_Outbound_Backend) -> [Io_Linkerd_Proxy_Outbound_HttpRoute] {
        [.with {
            $0.metadata = .with { $0.default = "http" }
            $0.rules = [.with {
                $0.matches = [.with { $0.path = .with { $0.prefix = "/" } }]
                $0.backends = .with { $0.firstAvailable = .with { $0.backends = [.with { $0.backend = backend }] } }
            }]
        }]
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
            for case .service(let service) in snapshot.list(kind: Service.kind) where service.spec.clusterIP.flatMap(IPAddress.init) == ip {
                return (service, port)
            }
            throw RPCError(code: .notFound, message: "no service has the cluster IP \(ip)")
        case nil:
            throw RPCError(code: .invalidArgument, message: "the traffic spec names no target")
        }
    }
}
