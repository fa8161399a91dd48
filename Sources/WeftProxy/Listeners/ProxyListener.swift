import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import WeftCore

/// One listening socket of the proxy and the connections it accepted.
final class ProxyListener: Sendable {
    let setup: ConnectionSetup
    let tracker = ConnectionTracker()

    init(setup: ConnectionSetup) {
        self.setup = setup
    }

    /// Binds and starts accepting.
    func bind(group: EventLoopGroup) async throws -> Channel {
        let setup = setup
        let tracker = tracker
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        if setup.role.address.protocol == .inet6 {
            // IPv6 only: an IPv4 listener on the same port is another listener (dual stack is
            // two listeners, each reading its own family's original destinations).
            bootstrap = bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
        }
        bootstrap = bootstrap
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                tracker.add(channel)
                return setup.configure(channel)
            }
        let server: Channel
        do {
            server = try await bootstrap.bind(to: setup.role.address).get()
        } catch {
            throw ListenError(listener: setup.role.name, address: "\(setup.role.address)", error: error)
        }
        setup.logger.info("listening", metadata: ["listener": "\(setup.role.name)", "address": "\(server.localAddress.map { "\($0)" } ?? "?")"])
        return server
    }
}

/// All of the proxy's listeners, as one long-lived service: it accepts until graceful shutdown,
/// then stops accepting on every listener at once, lets open connections finish for up to the
/// grace period, and closes the rest.
final class ProxyListeners: Service {
    let listeners: [ProxyListener]
    let group: EventLoopGroup
    let gracePeriod: Duration
    let readiness: ProxyReadiness
    /// With identity, nothing is served before the first certificate.
    let credentials: CredentialStore?
    let logger: Logger

    init(listeners: [ProxyListener], group: EventLoopGroup, gracePeriod: Duration, readiness: ProxyReadiness,
         credentials: CredentialStore?, logger: Logger) {
        self.credentials = credentials
        self.listeners = listeners
        self.group = group
        self.gracePeriod = gracePeriod
        self.readiness = readiness
        self.logger = logger
    }

    func run() async throws {
        if let credentials {
            logger.info("waiting for a certificate before listening")
            do {
                try await cancelWhenGracefulShutdown { try await credentials.waitForFirst() }
            } catch is CancellationError {
                return
            }
        }
        var servers: [Channel] = []
        do {
            for listener in listeners {
                servers.append(try await listener.bind(group: group))
            }
        } catch {
            for server in servers { try? await server.close() }
            throw error
        }
        readiness.markReady()

        // Serve until asked to stop (or cancelled).
        try? await gracefulShutdown()
        for server in servers { try? await server.close() }
        let open = listeners.reduce(0) { $0 + $1.tracker.count }
        logger.info("shutting down", metadata: ["open connections": "\(open)", "grace period": "\(gracePeriod)"])
        for listener in listeners { listener.tracker.quiesce() }
        let grace = gracePeriod
        let trackers = listeners.map(\.tracker)
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for tracker in trackers { await tracker.waitUntilDrained() }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: grace)
                return false
            }
            if await group.next() == false {
                // The grace period is over: close what is left, which also ends the drain wait.
                let left = trackers.reduce(0) { $0 + $1.count }
                self.logger.info("grace period over, closing connections", metadata: ["connections": "\(left)"])
                for tracker in trackers { tracker.closeAll() }
            }
            group.cancelAll()
        }
    }
}
