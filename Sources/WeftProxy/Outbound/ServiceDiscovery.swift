import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import WeftCore

/// What discovery knows of one service.
enum DiscoveryState: Equatable, Sendable {
    /// The service exists; its endpoints (possibly none).
    case endpoints([DiscoveredEndpoint])
    /// The destination service says there is no such service.
    case unknown
}

/// Watches services with `Destination.Get` for the proxy's event loops (linkerd-compat §1.4):
/// one stream per service name however many connections use it, started when a loop first asks
/// and stopped when no loop has used the service for the idle timeout. Each state is handed to
/// the subscribed loops as an immutable value; the data path reads only its loop's copy.
///
/// When the stream fails (the controller is down or restarting), loops keep the last state and
/// the stream is retried with capped exponential backoff; the first message of a new stream
/// replaces the old state entirely, so endpoints removed meanwhile are dropped. The last state of
/// a service no longer watched is remembered (for up to ``maximumRemembered`` services) and used
/// again, as stale, when the service is used again, so that an idle service still works while
/// the controller is unreachable.

final class ServiceDiscovery: ServiceLifecycle.Service, Sendable {
    /// What is known of a service: kept while it is watched, and remembered after.
    private struct Known {
        var latest: DiscoveryState?
        /// The service's profile: its traffic split and, encoded, its routes (nil: none came).
        var profile: ProfileUpdate?
        /// The service's outbound policy, encoded: nil until one comes, `.some(nil)` when it has none.
        var policy: [UInt8]??
    }

    private struct Watch {
        var task: Task<Void, Never>?
        var subscribers: [ObjectIdentifier: NIOLoopBound<LoopDiscovery>] = [:]
        var known = Known()
    }

    /// Where outbound policies are read (the policy service), and as which workload.
    struct PolicySource: Sendable {
        let host: String
        let port: Int
        let workload: String
        /// Mutual TLS to the policy service (`LINKERD2_PROXY_POLICY_SVC_NAME`), else plaintext.
        let security: ControlPlaneSecurity?
    }

    let configuration: DiscoveryConfiguration
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private struct Watches {
        var active: [String: Watch] = [:]
        var remembered: [String: Known] = [:]
    }

    /// The most services whose last state is kept after their watch stops.
    static let maximumRemembered = 1_024

    private let watches = Mutex(Watches())
    private let logger: Logger

    private static let getMethod = MethodDescriptor(fullyQualifiedService: "io.linkerd.proxy.destination.Destination", method: "Get")
    private static let getProfileMethod = MethodDescriptor(fullyQualifiedService: "io.linkerd.proxy.destination.Destination", method: "GetProfile")
    private static let watchPolicyMethod = MethodDescriptor(fullyQualifiedService: "io.linkerd.proxy.outbound.OutboundPolicies", method: "Watch")

    /// The policy service's client and this workload's name; nil: services have no routes.
    private let policyClient: (client: GRPCClient<HTTP2ClientTransport.Posix>, workload: String)?
    /// Policies refused whole (``LoopDiscovery/updatePolicy(_:_:)``).
    private let refusedPolicies: Counter
    /// Where loops register the per-route series.
    let registry: MetricRegistry

    /// Whether services' outbound policies are watched (a policy service is configured).
    var watchesPolicies: Bool { policyClient != nil }

    init(configuration: DiscoveryConfiguration, security: ControlPlaneSecurity?, policy: PolicySource?, registry: MetricRegistry,
         eventLoopGroup: any EventLoopGroup, logger: Logger) throws {
        self.configuration = configuration
        let backoff = (configuration.backoffMinimum, configuration.backoffMaximum)
        client = try .controlPlane(.dns(host: configuration.host, port: configuration.port), backoff: backoff, security: security,
                                   eventLoopGroup: eventLoopGroup)
        policyClient = try policy.map { source in
            (try .controlPlane(.dns(host: source.host, port: source.port), backoff: backoff, security: source.security,
                               eventLoopGroup: eventLoopGroup), source.workload)
        }
        self.registry = registry
        refusedPolicies = registry.counter("outbound_policy_refused_total",
                                           help: "Outbound policies the proxy refused (the routes in force were kept)", labels: Labels([]))
        self.logger = logger
    }

    /// A policy for `path` could not be used; the one in force stays.
    func policyRefused(_ path: String, _ error: any Error) {
        refusedPolicies.increment()
        logger.warning("outbound policy refused; keeping the routes in force", metadata: ["path": "\(path)", "error": "\(error)"])
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.client.runConnections() }
                if let policyClient = self.policyClient {
                    group.addTask { try await policyClient.client.runConnections() }
                }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            let tasks = self.watches.withLock { watches in
                defer { watches.active.removeAll() }
                return watches.active.values.compactMap(\.task)
            }
            for task in tasks { task.cancel() }
            self.client.beginGracefulShutdown()
            self.policyClient?.client.beginGracefulShutdown()
        }
    }

    /// `loop` wants the state of `path` (`host:port`): now if known, and at every change.
    func subscribe(_ path: String, loop: NIOLoopBound<LoopDiscovery>) {
        let (start, known) = watches.withLock { watches -> (Bool, Known) in
            let remembered = watches.remembered.removeValue(forKey: path)
            var watch = watches.active[path] ?? Watch(known: remembered ?? Known())
            watch.subscribers[ObjectIdentifier(loop.value)] = loop
            let start = watch.task == nil
            if start {
                watch.task = Task { await self.watch(path) }
            }
            watches.active[path] = watch
            return (start, watch.known)
        }
        if start { logger.debug("watching service", metadata: ["path": "\(path)"]) }
        if let latest = known.latest { loop.eventLoop.execute { loop.value.update(path, latest) } }
        if let profile = known.profile { loop.eventLoop.execute { loop.value.updateProfile(path, profile) } }
        if let policy = known.policy { loop.eventLoop.execute { loop.value.updatePolicy(path, policy) } }
    }

    /// `loop` no longer uses `path`; the last loop to leave stops the stream.
    func unsubscribe(_ path: String, loop: LoopDiscovery) {
        let task = watches.withLock { watches -> Task<Void, Never>? in
            watches.active[path]?.subscribers[ObjectIdentifier(loop)] = nil
            guard let watch = watches.active[path], watch.subscribers.isEmpty else { return nil }
            watches.active[path] = nil
            if watch.known.latest != nil {
                if watches.remembered.count >= Self.maximumRemembered, let any = watches.remembered.keys.first {
                    watches.remembered[any] = nil
                }
                watches.remembered[path] = watch.known
            }
            return watch.task
        }
        if let task {
            task.cancel()
            logger.debug("stopped watching idle service", metadata: ["path": "\(path)"])
        }
    }

    private func publish(_ path: String, _ state: DiscoveryState) {
        let subscribers = watches.withLock { watches -> [NIOLoopBound<LoopDiscovery>] in
            watches.active[path]?.known.latest = state
            return Array(watches.active[path]?.subscribers.values ?? [:].values)
        }
        for loop in subscribers { loop.eventLoop.execute { loop.value.update(path, state) } }
    }

    private func publishProfile(_ path: String, _ profile: ProfileUpdate) {
        let subscribers = watches.withLock { watches -> [NIOLoopBound<LoopDiscovery>] in
            guard watches.active[path] != nil, watches.active[path]?.known.profile != profile else { return [] }
            watches.active[path]?.known.profile = profile
            return Array(watches.active[path]?.subscribers.values ?? [:].values)
        }
        logger.debug("profile", metadata: ["path": "\(path)", "split": "\(profile.split.map { "\($0.path)=\($0.weight)" })"])
        for loop in subscribers { loop.eventLoop.execute { loop.value.updateProfile(path, profile) } }
    }

    private func publishPolicy(_ path: String, _ policy: [UInt8]?) {
        let subscribers = watches.withLock { watches -> [NIOLoopBound<LoopDiscovery>] in
            guard watches.active[path] != nil, watches.active[path]?.known.policy != .some(policy) else { return [] }
            watches.active[path]?.known.policy = .some(policy)
            return Array(watches.active[path]?.subscribers.values ?? [:].values)
        }
        for loop in subscribers { loop.eventLoop.execute { loop.value.updatePolicy(path, policy) } }
    }

    /// The endpoints, the profile and the outbound policy of `path`, each streamed until cancelled.
    private func watch(_ path: String) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.watchEndpoints(path) }
            group.addTask { await self.watchProfile(path) }
            if policyClient != nil { group.addTask { await self.watchPolicy(path) } }
        }
    }

    /// Streams `OutboundPolicies.Watch` for `path` (by authority) until cancelled. A service the
    /// policy service does not know has no routes; while the stream is down the last policy stays.
    private func watchPolicy(_ path: String) async {
        guard let policyClient else { return }
        var spec = ProtobufWriter()
        spec.field(1, policyClient.workload)
        spec.field(3, path)
        let stream = ControlStream(client: policyClient.client, method: Self.watchPolicyMethod, request: spec.bytes,
                                   backoffMinimum: configuration.backoffMinimum, backoffMaximum: configuration.backoffMaximum)
        await stream.follow {
            { bytes in self.publishPolicy(path, bytes) }
        } ended: { ending in
            switch ending {
            case .streamEnded:
                return .continue
            case .failed(let error as RPCError) where error.code == .notFound || error.code == .invalidArgument || error.code == .unimplemented:
                self.publishPolicy(path, nil)
                return .backOffFully
            case .failed(let error):
                self.logger.debug("policy stream failed; keeping the last policy", metadata: ["path": "\(path)", "error": "\(error)"])
                return .continue
            }
        }
    }

    private func stream(_ method: MethodDescriptor, _ path: String) -> ControlStream {
        ControlStream(client: client, method: method, request: DestinationWire.encodeGet(path: path, contextToken: configuration.contextToken),
                      backoffMinimum: configuration.backoffMinimum, backoffMaximum: configuration.backoffMaximum)
    }

    /// Streams `GetProfile(path)` until cancelled; each profile (its traffic split, and its bytes
    /// for the loops to read its routes from) goes to the loops.
    private func watchProfile(_ path: String) async {
        await stream(Self.getProfileMethod, path).follow {
            { bytes in self.publishProfile(path, ProfileUpdate(split: try DestinationWire.decodeTrafficSplit(bytes), bytes: bytes)) }
        } ended: { ending in
            if case .failed(let error) = ending {
                self.logger.debug("profile stream failed; keeping the last profile", metadata: ["path": "\(path)", "error": "\(error)"])
            }
            return .continue
        }
    }

    /// Streams `Get(path)` until cancelled. Until the first message of a new call, loops keep
    /// what they had (stale but usable); that message starts the set afresh.
    private func watchEndpoints(_ path: String) async {
        await stream(Self.getMethod, path).follow {
            var endpoints: [NIOCore.SocketAddress: DiscoveredEndpoint] = [:]
            return { bytes in
                switch try DestinationWire.decodeUpdate(bytes) {
                case .add(let added, let labels):
                    for var endpoint in added {
                        endpoint.labels.merge(labels) { own, _ in own }
                        endpoints[endpoint.address] = endpoint
                    }
                case .remove(let removed):
                    for address in removed { endpoints[address] = nil }
                case .noEndpoints(let exists):
                    endpoints = [:]
                    if !exists {
                        self.publish(path, .unknown)
                        return
                    }
                }
                self.publish(path, .endpoints(endpoints.values.sorted { "\($0.address)" < "\($1.address)" }))
            }
        } ended: { ending in
            switch ending {
            case .streamEnded:
                self.logger.info("destination stream ended; reconnecting", metadata: ["path": "\(path)"])
                return .continue
            case .failed(let error as RPCError) where error.code == .notFound || error.code == .invalidArgument:
                self.publish(path, .unknown)
                self.logger.info("destination refused the name", metadata: ["path": "\(path)", "error": "\(error.message)"])
                return .backOffFully
            case .failed(let error):
                self.logger.info("destination stream failed; keeping the last endpoints", metadata: ["path": "\(path)", "error": "\(error)"])
                return .continue
            }
        }
    }
}
