import Logging
import WeftCore
import NIOCore
import NIOPosix
import ServiceLifecycle
import WeftPolicy

/// The whole proxy: its listeners and admin server as services of one group, which stops them
/// gracefully on SIGTERM, SIGINT or `/shutdown`.
public struct ProxyApplication: Sendable {
    public static let version = WeftRelease.version

    public let configuration: ProxyConfiguration
    public let environment: [String: String]
    public let logger: Logger

    public init(configuration: ProxyConfiguration, environment: [String: String], logger: Logger) {
        self.configuration = configuration
        self.environment = environment
        self.logger = logger
    }

    /// Runs until shut down. One event loop, as Linkerd's proxy runs single-threaded by default.
    public func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // One clock for the whole data path: discovery, pools and connections read it.
        let clock = MonotonicClock.system
        let loop = group.next()
        let registry = MetricRegistry()
        var credentials: CredentialStore?
        var meshTLS: MeshTLSServer?
        var meshTLSClient: MeshTLSClient?
        if let identity = configuration.identity {
            let store = CredentialStore()
            credentials = store
            meshTLS = try MeshTLSServer(serverName: identity.serverName, credentials: store, anchors: identity.trustAnchors)
            meshTLSClient = try MeshTLSClient(credentials: store, anchors: identity.trustAnchors)
        }
        var discovery: ServiceDiscovery?
        var loopDiscovery: NIOLoopBoundBox<LoopDiscovery>?
        // The control plane over mutual TLS where its names are configured (linkerd-compat §2.2).
        func security(_ serverName: String?) -> ControlPlaneSecurity? {
            guard let serverName, let identity = self.configuration.identity, let credentials else { return nil }
            return ControlPlaneSecurity(serverName: serverName, anchors: identity.trustAnchors, credentials: credentials)
        }
        if let configuration = configuration.discovery {
            let policySource = self.configuration.inboundPolicy.map {
                ServiceDiscovery.PolicySource(host: $0.host, port: $0.port, workload: $0.workload, security: security($0.serverName))
            }
            let service = try ServiceDiscovery(configuration: configuration, security: security(configuration.serverName),
                                               policy: policySource, registry: registry,
                                               eventLoopGroup: group, logger: logger)
            discovery = service
            loopDiscovery = NIOLoopBoundBox.makeBoxSendingValue(LoopDiscovery(eventLoop: loop, discovery: service, clock: clock), eventLoop: loop)
        }
        // Inbound policy: from the policy service when there is one (ports wait for theirs),
        // else LINKERD2_PROXY_INBOUND_DEFAULT_POLICY for every port.
        let readiness = ProxyReadiness(credentials: credentials)
        var inboundPolicies: InboundPolicies?
        let fallback = configuration.inboundPolicy == nil ? configuration.inboundDefaultPolicy.serverPolicy : nil
        let loopPolicies = NIOLoopBoundBox.makeBoxSendingValue(LoopInboundPolicies(fallback: fallback), eventLoop: loop)
        if let configuration = configuration.inboundPolicy {
            let bound = try await loop.submit { NIOLoopBound(loopPolicies.value, eventLoop: loop) }.get()
            let service = try InboundPolicies(configuration: configuration, loop: bound, readiness: readiness,
                                            security: security(configuration.serverName), eventLoopGroup: group, logger: logger)
            let requestWatch = service.requestWatch
            try await loop.submit { loopPolicies.value.requestWatch = { requestWatch.yield($0) } }.get()
            inboundPolicies = service
        }
        let listeners = makeListeners(group: group, loop: loop, clock: clock, registry: registry, meshTLS: meshTLS, meshTLSClient: meshTLSClient,
                                      discovery: loopDiscovery, policies: loopPolicies, readiness: readiness, credentials: credentials)
        let trigger = ShutdownTrigger()
        let admin = AdminServer(
            address: configuration.adminListenAddress, group: group,
            context: .init(registry: registry, readiness: readiness, environment: environment,
                           shutdownEnabled: configuration.shutdownEndpointEnabled,
                           requestShutdown: { trigger.fire() }, version: Self.version),
            tls: configuration.adminTLS ? meshTLS : nil, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: admin),
            .init(service: listeners),
            .init(service: trigger, successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if let discovery { services.append(.init(service: discovery)) }
        if let inboundPolicies { services.append(.init(service: inboundPolicies)) }
        if let identity = configuration.identity, let credentials {
            switch identity.provider {
            case .identityService(let settings):
                services.append(.init(service: IdentityClient(configuration: identity, service: settings, store: credentials,
                                                              registry: registry, eventLoopGroup: group, logger: logger)))
            case .workloadAPI(let socketPath):
                services.append(.init(service: try WorkloadAPIClient(configuration: identity, socketPath: socketPath, store: credentials,
                                                                     registry: registry, eventLoopGroup: group, logger: logger)))
            }
        }
        let serviceGroup = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await serviceGroup.run()
        try await group.shutdownGracefully()
    }
    /// Every listener the configuration asks for, each with its connection set-up: the loop's
    /// HTTP/1 pool and HTTP/2 upstreams per listener, mesh TLS in (inbound) and out (outbound),
    /// discovery (outbound) and inbound policy (inbound).
    private func makeListeners(group: EventLoopGroup, loop: EventLoop, clock: MonotonicClock, registry: MetricRegistry, meshTLS: MeshTLSServer?, meshTLSClient: MeshTLSClient?,
                               discovery: NIOLoopBoundBox<LoopDiscovery>?, policies: NIOLoopBoundBox<LoopInboundPolicies>?,
                               readiness: ProxyReadiness, credentials: CredentialStore?) -> ProxyListeners {
        let roles = configuration.listenerRoles
        var directTargets: [UInt16: ConnectionTarget] = [:]
        for mapping in configuration.inboundPorts {
            if let port = mapping.listen.port { directTargets[UInt16(port)] = mapping.target }
        }
        let addresses = roles.map(\.address)
        return ProxyListeners(
            listeners: roles.map { role in
                let pool = NIOLoopBoundBox.makeBoxSendingValue(
                    HTTP1ConnectionPool(eventLoop: loop, idleTimeout: role.poolIdleTimeout, clock: clock), eventLoop: loop)
                let direction = role.direction
                let http2 = NIOLoopBoundBox.makeBoxSendingValue(
                    HTTP2Upstreams(eventLoop: loop, connectTimeout: role.connectTimeout, idleTimeout: role.poolIdleTimeout,
                                   meshTLS: direction == .outbound ? meshTLSClient : nil) { target, peer in
                        TCPMetrics(registry: registry, direction: direction, peer: "dst", targetAddress: target.description,
                                   tls: peer == nil ? .disabled : .established, serverID: peer?.identity)
                    },
                    eventLoop: loop)
                return ProxyListener(setup: ConnectionSetup(role: role, opaquePorts: configuration.opaquePorts, proxyAddresses: addresses,
                                                            registry: registry, pool: pool, http2Upstreams: http2,
                                                            meshTLS: role.detectsTLS ? meshTLS : nil, meshTLSClient: meshTLSClient,
                                                            discovery: role.direction == .outbound ? discovery : nil,
                                                            inboundPolicies: role.direction == .inbound ? policies : nil,
                                                            directTargets: directTargets, clock: clock, logger: logger))
            },
            group: group, gracePeriod: configuration.shutdownGracePeriod, readiness: readiness, credentials: credentials, logger: logger)
    }
}

/// Lets the admin server's `/shutdown` start the same graceful shutdown as SIGTERM: this service
/// ends when fired, and a service that ends makes its group shut down.
final class ShutdownTrigger: Service {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self)
    }

    func fire() {
        continuation.yield()
    }

    func run() async throws {
        // Ends on the first fire, or when the group shuts down for another reason.
        await withGracefulShutdownHandler {
            for await _ in stream { break }
        } onGracefulShutdown: { [continuation] in
            continuation.finish()
        }
    }
}
