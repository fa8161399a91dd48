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
    private struct Watch {
        var task: Task<Void, Never>?
        var subscribers: [ObjectIdentifier: NIOLoopBound<LoopDiscovery>] = [:]
        var latest: DiscoveryState?
        /// The traffic split of the service's profile (empty: none).
        var split: [TrafficTarget] = []
    }

    let configuration: DiscoveryConfiguration
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private struct Watches {
        var active: [String: Watch] = [:]
        var remembered: [String: (DiscoveryState, [TrafficTarget])] = [:]
    }

    /// The most services whose last state is kept after their watch stops.
    static let maximumRemembered = 1_024

    private let watches = Mutex(Watches())
    private let logger: Logger

    private static let getMethod = MethodDescriptor(fullyQualifiedService: "io.linkerd.proxy.destination.Destination", method: "Get")
    private static let getProfileMethod = MethodDescriptor(fullyQualifiedService: "io.linkerd.proxy.destination.Destination", method: "GetProfile")

    init(configuration: DiscoveryConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) throws {
        self.configuration = configuration
        client = try .controlPlane(.dns(host: configuration.host, port: configuration.port),
                                   backoff: (configuration.backoffMinimum, configuration.backoffMaximum), eventLoopGroup: eventLoopGroup)
        self.logger = logger
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await client.runConnections()
        } onGracefulShutdown: {
            let tasks = self.watches.withLock { watches in
                defer { watches.active.removeAll() }
                return watches.active.values.compactMap(\.task)
            }
            for task in tasks { task.cancel() }
            self.client.beginGracefulShutdown()
        }
    }

    /// `loop` wants the state of `path` (`host:port`): now if known, and at every change.
    func subscribe(_ path: String, loop: NIOLoopBound<LoopDiscovery>) {
        let (start, latest, split) = watches.withLock { watches -> (Bool, DiscoveryState?, [TrafficTarget]) in
            let remembered = watches.remembered.removeValue(forKey: path)
            var watch = watches.active[path] ?? Watch(latest: remembered?.0, split: remembered?.1 ?? [])
            watch.subscribers[ObjectIdentifier(loop.value)] = loop
            let start = watch.task == nil
            if start {
                watch.task = Task { await self.watch(path) }
            }
            watches.active[path] = watch
            return (start, watch.latest, watch.split)
        }
        if start { logger.debug("watching service", metadata: ["path": "\(path)"]) }
        if let latest { loop.eventLoop.execute { loop.value.update(path, latest) } }
        if !split.isEmpty { loop.eventLoop.execute { loop.value.updateSplit(path, split) } }
    }

    /// `loop` no longer uses `path`; the last loop to leave stops the stream.
    func unsubscribe(_ path: String, loop: LoopDiscovery) {
        let task = watches.withLock { watches -> Task<Void, Never>? in
            watches.active[path]?.subscribers[ObjectIdentifier(loop)] = nil
            guard let watch = watches.active[path], watch.subscribers.isEmpty else { return nil }
            watches.active[path] = nil
            if let latest = watch.latest {
                if watches.remembered.count >= Self.maximumRemembered, let any = watches.remembered.keys.first {
                    watches.remembered[any] = nil
                }
                watches.remembered[path] = (latest, watch.split)
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
            watches.active[path]?.latest = state
            return Array(watches.active[path]?.subscribers.values ?? [:].values)
        }
        for loop in subscribers { loop.eventLoop.execute { loop.value.update(path, state) } }
    }

    private func publishSplit(_ path: String, _ split: [TrafficTarget]) {
        let subscribers = watches.withLock { watches -> [NIOLoopBound<LoopDiscovery>] in
            guard watches.active[path]?.split != split else { return [] }
            watches.active[path]?.split = split
            return Array(watches.active[path]?.subscribers.values ?? [:].values)
        }
        logger.debug("traffic split", metadata: ["path": "\(path)", "split": "\(split.map { "\($0.path)=\($0.weight)" })"])
        for loop in subscribers { loop.eventLoop.execute { loop.value.updateSplit(path, split) } }
    }

    /// The endpoints and the profile of `path`, each streamed until cancelled.
    private func watch(_ path: String) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.watchEndpoints(path) }
            group.addTask { await self.watchProfile(path) }
        }
    }

    private func stream(_ method: MethodDescriptor, _ path: String) -> ControlStream {
        ControlStream(client: client, method: method, request: DestinationWire.encodeGet(path: path, contextToken: configuration.contextToken),
                      backoffMinimum: configuration.backoffMinimum, backoffMaximum: configuration.backoffMaximum)
    }

    /// Streams `GetProfile(path)` until cancelled; each profile's traffic split goes to the loops.
    private func watchProfile(_ path: String) async {
        await stream(Self.getProfileMethod, path).follow {
            { bytes in self.publishSplit(path, try DestinationWire.decodeTrafficSplit(bytes)) }
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
