import Logging
import NIOCore
import NIOHTTP2
import NIOPosix

/// The HTTP/2 connection to the target of one downstream connection, made when the first stream
/// needs it and shared by all of that connection's streams.
final class HTTP2Upstream {
    private enum State {
        case idle
        case connecting([EventLoopPromise<NIOHTTP2Handler.StreamMultiplexer>])
        case ready(NIOHTTP2Handler.StreamMultiplexer, Channel)
    }

    private let eventLoop: EventLoop
    private let target: ConnectionTarget
    private let connectTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let tcp: TCPMetrics
    /// A meshed peer, reached over mesh TLS.
    private let meshTLS: (client: MeshTLSClient, peer: MeshPeer)?
    private var state = State.idle
    /// Why the last connection failed, when mesh TLS said (read by streams that ended with it).
    private(set) var failure: ProxyError?
    /// Streams in use; when none are for the idle timeout, the connection is closed.
    private var activeStreams = 0
    private var idleTimer: Scheduled<Void>?

    init(eventLoop: EventLoop, target: ConnectionTarget, connectTimeout: Duration, idleTimeout: Duration, tcp: TCPMetrics,
         meshTLS: (client: MeshTLSClient, peer: MeshPeer)? = nil) {
        self.meshTLS = meshTLS
        self.eventLoop = eventLoop
        self.target = target
        self.connectTimeout = TimeAmount(connectTimeout)
        self.idleTimeout = TimeAmount(idleTimeout)
        self.tcp = tcp
    }

    /// A stream on this connection started.
    func streamOpened() {
        activeStreams += 1
        idleTimer?.cancel()
        idleTimer = nil
    }

    /// A stream on this connection ended; the last one starts the idle timer.
    func streamClosed() {
        activeStreams -= 1
        guard activeStreams == 0 else { return }
        idleTimer = eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) { [self] in
            idleTimer = nil
            if activeStreams == 0 { close() }
        }
    }

    /// The multiplexer of a connected upstream, connecting first if needed. Fails with a
    /// ``ProxyError``.
    private func multiplexer() -> EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer> {
        switch state {
        case .ready(let multiplexer, _):
            return eventLoop.makeSucceededFuture(multiplexer)
        case .connecting(var waiters):
            let promise = eventLoop.makePromise(of: NIOHTTP2Handler.StreamMultiplexer.self)
            waiters.append(promise)
            state = .connecting(waiters)
            return promise.futureResult
        case .idle:
            let promise = eventLoop.makePromise(of: NIOHTTP2Handler.StreamMultiplexer.self)
            state = .connecting([promise])
            connect()
            return promise.futureResult
        }
    }

    /// A new stream on this connection (connecting first if needed), set up by `initializer`.
    /// On a connection that is up, no future is made beyond the stream's own.
    func openStream(_ initializer: @escaping NIOChannelInitializer) -> EventLoopFuture<Channel> {
        if case .ready(let multiplexer, _) = state { return multiplexer.createStreamChannel(initializer) }
        return multiplexer().flatMap { multiplexer in multiplexer.createStreamChannel(initializer) }
    }

    /// Closes the upstream connection if it is up; the next stream connects again. (A connect in
    /// progress is left to finish for the streams waiting on it.)
    func close() {
        guard case .ready(_, let channel) = state else { return }
        channel.close(promise: nil)
        state = .idle
    }

    /// The target sent GOAWAY on `channel`: new streams go over a new connection, while the
    /// streams already on `channel` finish there.
    private func retire(_ channel: Channel) {
        if case .ready(_, let current) = state, current === channel { state = .idle }
    }

    private func connect() {
        let upstream = NIOLoopBound(self, eventLoop: eventLoop)
        let meshTLS = meshTLS
        let handshakeTimeout = connectTimeout
        let bootstrap = ClientBootstrap.upstream(on: eventLoop, connectTimeout: connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let meshTLS { try meshTLS.client.secure(channel, peer: meshTLS.peer, handshakeTimeout: handshakeTimeout) }
                    let goAway = UpstreamGoAwayHandler { [channel] in upstream.value.retire(channel) }
                    try channel.pipeline.syncOperations.addHandler(HTTP2ConnectionFlusher(isClient: true))
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: HTTP2Limits.connection, streamConfiguration: .init(),
                        streamDelegate: goAway.streamDelegate(on: channel.eventLoop),
                        inboundStreamInitializer: { stream in
                            // The target may not push streams to the proxy.
                            stream.close()
                        })
                    try channel.pipeline.syncOperations.addHandler(goAway)
                    try channel.pipeline.syncOperations.addHandler(FailureRecorder { error in
                        if let failure = ProxyError(meshTLSFailure: error), upstream.value.failure == nil { upstream.value.failure = failure }
                    })
                }
            }
        let connecting = bootstrap.connect(to: target)
        connecting.assumeIsolated().whenComplete { result in
            guard case .connecting(let waiters) = self.state else {
                if case .success(let channel) = result { channel.close(promise: nil) }
                return
            }
            switch result {
            case .success(let channel):
                self.failure = nil
                do {
                    let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
                    self.state = .ready(multiplexer, channel)
                    self.tcp.opened()
                    let tcp = self.tcp
                    channel.closeFuture.assumeIsolated().whenComplete { _ in
                        tcp.closed()
                        if case .ready(_, let current) = self.state, current === channel { self.state = .idle }
                    }
                    for waiter in waiters { waiter.succeed(multiplexer) }
                } catch {
                    channel.close(promise: nil)
                    self.state = .idle
                    for waiter in waiters { waiter.fail(ProxyError(code: .connectFailed, detail: "cannot set up HTTP/2 to \(self.target)")) }
                }
            case .failure(let error):
                self.state = .idle
                let failure = ProxyError(connecting: self.target, failure: error, timeout: self.connectTimeout)
                for waiter in waiters { waiter.fail(failure) }
            }
        }
    }
}

/// The HTTP/2 settings the proxy uses on both sides.
enum HTTP2Limits {
    /// At most 1,000 concurrent streams per connection and a 16 KiB header list; NIO's validation,
    /// reset-flood and CONTINUATION-flood protections stay on.
    static let connection: NIOHTTP2Handler.ConnectionConfiguration = {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        configuration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 1_000),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 16 * 1024),
            HTTP2Setting(parameter: .initialWindowSize, value: 65_535),
        ]
        return configuration
    }()
}

/// The upstream HTTP/2 connections of one listener: one per target, made when a stream first
/// needs it, shared by the streams of every client connection (HTTP/2 multiplexes them), and
/// closed when it has carried no stream for the idle timeout.
final class HTTP2Upstreams {
    /// The most distinct targets kept connected at once.
    static let maximumTargets = 1_024

    private let eventLoop: EventLoop
    private let connectTimeout: Duration
    private let idleTimeout: Duration
    private let tcp: @Sendable (ConnectionTarget, MeshPeer?) -> TCPMetrics
    private var upstreams: [ConnectionTarget: HTTP2Upstream] = [:]
    /// Originates mesh TLS to peers that have an identity (outbound with identity).
    private let meshTLS: MeshTLSClient?

    init(eventLoop: EventLoop, connectTimeout: Duration, idleTimeout: Duration, meshTLS: MeshTLSClient? = nil,
         tcp: @escaping @Sendable (ConnectionTarget, MeshPeer?) -> TCPMetrics) {
        self.meshTLS = meshTLS
        self.eventLoop = eventLoop
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.tcp = tcp
    }

    /// Whether connections to meshed peers use mesh TLS (this proxy has identity, outbound).
    var originatesMeshTLS: Bool { meshTLS != nil }

    /// The connection to `target` (over mesh TLS when it is a meshed `peer` and this proxy has
    /// identity), or `nil` when too many targets are connected.
    func upstream(for target: ConnectionTarget, peer: MeshPeer? = nil) -> HTTP2Upstream? {
        if let existing = upstreams[target] { return existing }
        guard upstreams.count < Self.maximumTargets else { return nil }
        let secured = meshTLS.flatMap { client in peer.map { (client, $0) } }
        let created = HTTP2Upstream(eventLoop: eventLoop, target: target, connectTimeout: connectTimeout,
                                    idleTimeout: idleTimeout, tcp: tcp(target, secured?.1), meshTLS: secured)
        upstreams[target] = created
        return created
    }

    /// Closes every upstream connection (shutdown).
    func closeAll() {
        for upstream in upstreams.values { upstream.close() }
        upstreams.removeAll()
    }
}

/// Hands the errors that reach the end of a connection's pipeline to its owner.
private final class FailureRecorder: ChannelInboundHandler {
    typealias InboundIn = Any

    private let record: (any Error) -> Void

    init(record: @escaping (any Error) -> Void) {
        self.record = record
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        record(error)
        context.fireErrorCaught(error)
    }
}
