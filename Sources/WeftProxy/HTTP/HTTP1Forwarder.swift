import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// Proxies HTTP/1.x requests from the accepted connection to the target, one exchange at a time
/// (pipelined requests wait in NIO's pipelining handler and are answered in order).
///
/// Bodies stream both ways with backpressure: the downstream connection is read only while the
/// upstream one is writable, and the reverse. Hop-by-hop headers are removed. When the target
/// cannot be reached, or closes before a response, the proxy answers itself — 502 or 504 with an
/// `l5d-proxy-error` header, or a trailers-only gRPC error for gRPC requests — and closes the
/// connection, as Linkerd does.
final class HTTP1Forwarder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private struct Exchange {
        let start: NIODeadline
        let series: HTTPMetrics.Series
        let isGRPC: Bool
        let keepAlive: Bool
        var status: Int?
        var responseStarted = false
        var requestEnded = false
        var grpcStatus: Int?
        /// The request asked to switch protocols (`Connection: upgrade`, e.g. WebSocket); if the
        /// target agrees (101), both connections carry raw bytes from then on.
        var upgradeRequested = false
        /// The target's response allows its connection to be reused.
        var upstreamKeepAlive = true
    }

    private let targeting: RequestTargeting
    private let removesClientIdentity: Bool
    private let clientIdentity: String?
    private let pool: HTTP1ConnectionPool
    /// The target of the upstream connection (or of the request being connected for).
    private var target: ConnectionTarget?
    private let connectTimeout: TimeAmount
    private let metrics: HTTPMetrics
    private let tcp: TCPMetrics
    private let sourceTCP: TCPMetrics
    private let outcome: ConnectionOutcome
    private let logger: Logger
    /// Outbound discovery: requests to a service name go to one of its endpoints, chosen per
    /// request by the loop's balancer.
    private let discovery: LoopDiscovery?
    /// The service of the current request, when discovery resolves its target.
    private var servicePath: String?
    private var endpoint: BalancedEndpoint?
    private var failedEndpoint: BalancedEndpoint?
    /// When the request went on a ready connection to `endpoint` (monotonic nanoseconds): the
    /// endpoint's latency runs from here, so a connection's set-up is not charged to it.
    private var dispatched: UInt64?
    private var attempts = 0
    private var waitedForDiscovery = false
    /// The current request's `l5d-require-id`.
    private var requiredIdentity: String?
    /// Outbound: HTTP/2 connections to endpoints whose proxies take HTTP/1 upgraded to HTTP/2
    /// (`protocol_hint.h2`); each request then goes as one stream with `l5d-orig-proto`.
    private let http2Upstreams: HTTP2Upstreams?
    /// The upstream is an HTTP/2 stream (one exchange), not a pooled HTTP/1 connection.
    private var upstreamIsStream = false
    /// The HTTP/2 connection the stream is on (it knows why it failed, if it did).
    private var streamConnection: HTTP2Upstream?
    /// Originates mesh TLS to endpoints with an identity; `registry` labels those connections'
    /// `tcp_*` series with the endpoint, `tls` and `server_id`.
    private let meshTLS: MeshTLSClient?
    private let registry: MetricRegistry?

    private var context: ChannelHandlerContext?
    private var upstream: Channel?
    private var connecting = false
    /// Request parts read while the upstream connection is being made.
    private var held: [HTTPClientRequestPart] = []
    private var exchange: Exchange?
    private var pendingRead = false
    private var closeWhenIdle = false
    /// The target answered 101 to an upgrade; at the end of that response HTTP leaves both pipelines.
    private var switching = false

    /// - Parameters:
    ///   - removesClientIdentity: drop any `l5d-client-id` the client sent (inbound).
    ///   - clientIdentity: the client's verified mesh identity, sent on as `l5d-client-id`.
    init(targeting: RequestTargeting, connectTimeout: Duration, pool: HTTP1ConnectionPool, metrics: HTTPMetrics,
         tcp: (source: TCPMetrics, destination: TCPMetrics), outcome: ConnectionOutcome, removesClientIdentity: Bool,
         clientIdentity: String? = nil, discovery: LoopDiscovery? = nil, meshTLS: MeshTLSClient? = nil,
         registry: MetricRegistry? = nil, http2Upstreams: HTTP2Upstreams? = nil, logger: Logger) {
        self.http2Upstreams = http2Upstreams
        self.discovery = discovery
        self.meshTLS = meshTLS
        self.registry = registry
        self.outcome = outcome
        self.clientIdentity = clientIdentity
        self.removesClientIdentity = removesClientIdentity
        self.targeting = targeting
        self.pool = pool
        self.connectTimeout = TimeAmount(connectTimeout)
        self.metrics = metrics
        self.tcp = tcp.destination
        self.sourceTCP = tcp.source
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Downstream (client) side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let authority = RequestAuthority.of(head)
            let series = metrics.request(authority: (try? authority.get())?.authority ?? nil)
            let isGRPC = head.headers.first(name: "content-type")?.lowercased().hasPrefix("application/grpc") ?? false
            exchange = Exchange(start: .now(), series: series, isGRPC: isGRPC, keepAlive: head.isKeepAlive)
            if head.method == .CONNECT {
                fail(ProxyError(code: .unsupportedMethod, detail: "CONNECT is not supported"))
                return
            }
            let named: RequestAuthority
            switch authority {
            case .success(let value): named = value
            case .failure(let error):
                fail(error)
                return
            }
            guard let requestTarget = targeting.target(override: head.headers.first(name: RequestTargeting.overrideHeader),
                                                       authority: named.authority) else {
                fail(ProxyError(code: .noTarget, detail: "no target: send l5d-dst-override or Host"))
                return
            }
            if let discovery, let path = discovery.path(of: requestTarget) {
                // A service: the endpoint is chosen when connecting, for this request alone.
                retireUpstream()
                servicePath = path
                target = nil
            } else if requestTarget != target || servicePath != nil {
                // A new target (ingress mode): the previous exchange is over, its connection goes.
                retireUpstream()
                servicePath = nil
                target = requestTarget
            }
            var forwarded = HTTPRequestHead(version: .http1_1, method: head.method, uri: named.originForm ?? head.uri,
                                            headers: HopByHopHeaders.removing(from: head.headers))
            if let upgrade = head.headers.first(name: "upgrade"),
               head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }),
               !upgrade.lowercased().contains("h2c") {
                // The one hop-by-hop header that is passed on: a protocol switch the target may
                // accept (WebSocket). Not h2c: HTTP/2 goes by prior knowledge, and an HTTP/1
                // connection that turns into HTTP/2 behind the proxy's back is not relayed.
                forwarded.headers.add(name: "connection", value: "upgrade")
                forwarded.headers.add(name: "upgrade", value: upgrade)
                exchange?.upgradeRequested = true
            }
            forwarded.headers.remove(name: RequestTargeting.overrideHeader)
            requiredIdentity = removesClientIdentity ? nil : head.headers.first(name: MeshHeaders.requireID)
            forwarded.headers.remove(name: MeshHeaders.requireID)
            if removesClientIdentity { forwarded.headers.remove(name: MeshHeaders.clientID) }
            if let clientIdentity { forwarded.headers.add(name: MeshHeaders.clientID, value: clientIdentity) }
            if named.originForm != nil, let authority = named.authority {
                forwarded.headers.replaceOrAdd(name: "host", value: authority)
            } else if head.version == .http1_0 && !forwarded.headers.contains(name: "host") {
                forwarded.headers.add(name: "host", value: requestTarget.description)
            }
            send(.head(forwarded))
        case .body(let buffer):
            send(.body(.byteBuffer(buffer)))
        case .end(let trailers):
            exchange?.requestEnded = true
            send(.end(trailers))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        upstream?.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        // Read from the client only when the request can go somewhere.
        if connecting || (upstream.map { !$0.isWritable } ?? false) {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstream?.close(promise: nil)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.read() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            if exchange == nil { context.close(promise: nil) } else { closeWhenIdle = true }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func send(_ part: HTTPClientRequestPart) {
        if let upstream {
            upstream.write(part, promise: nil)
            if case .end = part { upstream.flush() }
            return
        }
        held.append(part)
        if !connecting { connect() }
    }

    // MARK: Upstream (target) side

    /// Lets go of the upstream connection without treating its close as a failure.
    private func retireUpstream() {
        guard let upstream else { return }
        upstreamIsStream = false
        (try? upstream.pipeline.syncOperations.handler(type: UpstreamRelay.self))?.detach()
        upstream.close(promise: nil)
        self.upstream = nil
    }

    /// After a complete exchange: the upstream connection goes back to the pool for any client's
    /// next request to the same target, or is closed when it cannot be reused.
    private func releaseUpstream(reusable: Bool) {
        if upstreamIsStream, let stream = upstream {
            // The stream ends with the exchange; the HTTP/2 connection stays for the next one.
            (try? stream.pipeline.syncOperations.handler(type: UpstreamRelay.self))?.detach()
            upstream = nil
            upstreamIsStream = false
            return
        }
        guard reusable, let upstream, let target else {
            if !reusable { retireUpstream() }
            return
        }
        (try? upstream.pipeline.syncOperations.handler(type: UpstreamRelay.self))?.detach()
        self.upstream = nil
        pool.put(upstream, for: target)
    }

    private func connect() {
        guard let context else { return }
        if let discovery, let servicePath, endpoint == nil {
            switch discovery.resolve(servicePath, afterWaiting: waitedForDiscovery, excluding: failedEndpoint) {
            case .endpoint(let chosen):
                if let error = Self.requirementFailure(requiredIdentity, chosen, originatesMeshTLS: meshTLS != nil) {
                    fail(error)
                    return
                }
                chosen.started(now: discovery.clock.now())
                endpoint = chosen
                target = chosen.target
            case .wait(let ready):
                connecting = true
                ready.assumeIsolated().whenComplete { _ in
                    self.connecting = false
                    self.waitedForDiscovery = true
                    self.connect()
                }
                return
            case .failure(let error):
                fail(error)
                return
            }
        }
        guard let target else { return }
        if let requiredIdentity, endpoint == nil {
            fail(ProxyError(code: .identityRequired, detail: "l5d-require-id: \(target) is not a meshed endpoint, it cannot prove \(requiredIdentity)"))
            return
        }
        if let endpoint, endpoint.endpoint.h2, exchange?.upgradeRequested != true,
           let upstreams = http2Upstreams, let connection = upstreams.upstream(for: target, peer: endpoint.endpoint.meshPeer) {
            openStream(on: connection, to: target)
            return
        }
        if let pooled = pool.take(target),
           let relay = try? pooled.pipeline.syncOperations.handler(type: UpstreamRelay.self) {
            relay.attach(self)
            use(pooled)
            return
        }
        connecting = true
        let peer = meshTLS.flatMap { client in endpoint?.endpoint.meshPeer.map { (client, $0) } }
        let handshakeTimeout = connectTimeout
        let bootstrap = ClientBootstrap.upstream(on: context.eventLoop, connectTimeout: connectTimeout)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let (client, peer) = peer {
                        try client.secure(channel, peer: peer, handshakeTimeout: handshakeTimeout)
                    }
                    try sync.addHandler(HTTPRequestEncoder())
                    // Bytes after a 101 response belong to the new protocol: they are handed on.
                    try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes,
                                                                                informationalResponseStrategy: .forward)))
                }
            }
        let connecting = bootstrap.connect(to: target)
        connecting.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
            self.connecting = false
            switch result {
            case .success(let channel):
                self.endpoint?.connected()
                self.attach(channel)
            case .failure(let error):
                self.connectFailed(error, target: target)
            }
        }
    }

    /// Nothing was sent: another endpoint of the service may take the request.
    private func connectFailed(_ error: any Error, target: ConnectionTarget) {
        if let endpoint, attempts < 2, context != nil {
            logger.info("endpoint refused the connection; trying another", metadata: ["endpoint": "\(target)", "error": "\(error)"])
            endpoint.abandoned()
            endpoint.connectFailed(now: discovery?.clock.now() ?? 0)
            failedEndpoint = endpoint
            self.endpoint = nil
            self.target = nil
            attempts += 1
            connect()
            return
        }
        fail(error as? ProxyError ?? ProxyError(connecting: target, failure: error, timeout: connectTimeout))
    }

    /// Sends the request as one stream on the shared HTTP/2 connection to a meshed endpoint,
    /// with `l5d-orig-proto: HTTP/1.1` so that its proxy hands it to the app as HTTP/1.1.
    private func openStream(on connection: HTTP2Upstream, to target: ConnectionTarget) {
        connecting = true
        connection.multiplexer().flatMap { multiplexer in
            multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                }
            }
        }.assumeIsolated().whenComplete { result in
            self.connecting = false
            switch result {
            case .success(let stream):
                connection.streamOpened()
                stream.closeFuture.assumeIsolated().whenComplete { _ in connection.streamClosed() }
                guard let context = self.context, context.channel.isActive,
                      (try? stream.pipeline.syncOperations.addHandler(UpstreamRelay(forwarder: self))) != nil else {
                    stream.close(promise: nil)
                    return
                }
                self.endpoint?.connected()
                self.upstreamIsStream = true
                self.streamConnection = connection
                for (index, part) in self.held.enumerated() {
                    if case .head(var head) = part {
                        head.headers.replaceOrAdd(name: MeshHeaders.originalProtocol, value: "HTTP/1.1")
                        self.held[index] = .head(head)
                    }
                }
                self.use(stream)
            case .failure(let error):
                self.connectFailed(error, target: target)
            }
        }
    }

    /// Makes `channel` this connection's upstream, sends it the request parts held meanwhile,
    /// and reads from the client again if a read was put off while there was no upstream.
    private func use(_ channel: Channel) {
        upstream = channel
        if endpoint != nil { dispatched = discovery?.clock.now() }
        for part in held { channel.write(part, promise: nil) }
        held.removeAll()
        channel.flush()
        if pendingRead, channel.isWritable {
            pendingRead = false
            context?.read()
        }
    }

    private func attach(_ channel: Channel) {
        guard let context, context.channel.isActive else {
            channel.close(promise: nil)
            return
        }
        let tcp = endpointTCP() ?? tcp
        tcp.opened()
        channel.closeFuture.whenComplete { _ in tcp.closed() }
        if let target { pool.watch(channel, for: target) }
        do {
            try channel.pipeline.syncOperations.addHandler(UpstreamRelay(forwarder: self))
        } catch {
            channel.close(promise: nil)
            fail(ProxyError(code: .connectFailed, detail: "cannot set up the connection"))
            return
        }
        use(channel)
    }

    /// Why `endpoint` cannot take a request that requires `identity` (`l5d-require-id`): it must
    /// be reached over mesh TLS as exactly that identity.
    static func requirementFailure(_ identity: String?, _ endpoint: BalancedEndpoint, originatesMeshTLS: Bool) -> ProxyError? {
        guard let identity else { return nil }
        guard originatesMeshTLS, let peer = endpoint.endpoint.meshPeer else {
            return ProxyError(code: .identityRequired, detail: "l5d-require-id: \(endpoint.target) is not reached over mesh TLS, it cannot prove \(identity)")
        }
        guard peer.identity == identity else {
            return ProxyError(code: .identityRequired, detail: "l5d-require-id: \(endpoint.target) is \(peer.identity), not \(identity)")
        }
        return nil
    }

    /// The `tcp_*` series of a connection to a discovered endpoint: its address, and `tls` and
    /// `server_id` when it is reached over mesh TLS.
    private func endpointTCP() -> TCPMetrics? {
        guard let registry, let endpoint else { return nil }
        let peer = meshTLS == nil ? nil : endpoint.endpoint.meshPeer
        return TCPMetrics(registry: registry, direction: "outbound", peer: "dst", targetAddress: endpoint.target.description,
                          tls: peer == nil ? "disabled" : "true", serverID: peer?.identity)
    }

    /// A response part from the target.
    fileprivate func receive(_ part: HTTPClientResponsePart) {
        guard let context else { return }
        switch part {
        case .head(let head):
            var headers = HopByHopHeaders.removing(from: head.headers)
            headers.remove(name: MeshHeaders.originalProtocol)
            let informational = (100..<200).contains(head.status.code) && head.status.code != 101
            if head.status == .switchingProtocols {
                guard exchange?.upgradeRequested == true, let upgrade = head.headers.first(name: "upgrade") else {
                    fail(ProxyError(code: .upstreamClosed, detail: "the target switched protocols without being asked"))
                    return
                }
                headers.add(name: "connection", value: "upgrade")
                headers.add(name: "upgrade", value: upgrade)
                exchange?.status = 101
                switching = true
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: headers))), promise: nil)
                return
            }
            if !informational {
                exchange?.status = Int(head.status.code)
                exchange?.upstreamKeepAlive = head.isKeepAlive
                exchange?.responseStarted = true
                if let value = head.headers.first(name: "grpc-status") { exchange?.grpcStatus = Int(value) }
                if !(exchange?.keepAlive ?? true) || closeWhenIdle { headers.replaceOrAdd(name: "connection", value: "close") }
            }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: headers))), promise: nil)
            if informational { context.flush() }
        case .body(let buffer):
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            if switching {
                // The 101 is complete and the decoder has stopped: now the bytes change protocol.
                finishExchange(error: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                switchToRawBytes()
                return
            }
            if let value = trailers?.first(name: "grpc-status") { exchange?.grpcStatus = Int(value) }
            let keepAlive = (exchange?.keepAlive ?? false) && !closeWhenIdle
            releaseUpstream(reusable: (exchange?.requestEnded ?? false) && (exchange?.upstreamKeepAlive ?? false))
            finishExchange(error: nil)
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }

    /// After a 101: takes HTTP out of both pipelines and joins the two connections byte for byte,
    /// without losing bytes the target sent right after its 101.
    private func switchToRawBytes() {
        guard let context, let upstream else { return }
        let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair(first: sourceTCP, second: tcp, outcome: outcome)
        do {
            let up = upstream.pipeline.syncOperations
            let down = context.pipeline.syncOperations
            // Both glue handlers first, then the client's HTTP handlers (so nothing written to the
            // client meets an HTTP encoder), then the target's: its decoder hands the bytes that
            // followed the 101 to the glue on its way out.
            try down.addHandler(downstreamGlue, position: .after(self))
            try up.addHandler(upstreamGlue)
            down.removeHandler(try down.handler(type: HTTPRequestErrorHandler.self), promise: nil)
            down.removeHandler(try down.handler(type: HTTPHeadTimeoutHandler.self), promise: nil)
            down.removeHandler(try down.handler(type: HTTPServerPipelineHandler.self), promise: nil)
            down.removeHandler(try down.handler(type: NIOHTTPResponseHeadersValidator.self), promise: nil)
            down.removeHandler(try down.handler(type: HTTPResponseEncoder.self), promise: nil)
            down.removeHandler(try down.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
            up.removeHandler(try up.handler(type: UpstreamRelay.self), promise: nil)
            up.removeHandler(try up.handler(type: HTTPRequestEncoder.self), promise: nil)
            // Bytes that followed the 101 reach the glue as the decoder leaves; send them on then.
            let decoderGone = upstream.eventLoop.makePromise(of: Void.self)
            let client = context.channel
            decoderGone.futureResult.whenComplete { _ in client.flush() }
            up.removeHandler(try up.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self), promise: decoderGone)
            self.upstream = nil
            down.removeHandler(self, promise: nil)
        } catch {
            logger.info("protocol switch failed", metadata: ["error": "\(error)"])
            upstream.close(promise: nil)
            context.close(promise: nil)
            return
        }
        logger.debug("switched protocols", metadata: ["target": "\(target.map { "\($0)" } ?? "?")"])
        context.flush()
        upstream.read()
        context.channel.read()
    }

    fileprivate func upstreamReadComplete() {
        context?.flush()
    }

    /// Why the upstream connection failed, when it said (mesh TLS: a failed handshake or a peer
    /// that is not the expected identity); reported when it closes.
    private var upstreamFailure: ProxyError?

    fileprivate func upstreamError(_ error: any Error) {
        guard upstreamFailure == nil else { return }  // the first error is the cause
        upstreamFailure = ProxyError(meshTLSFailure: error)
    }

    fileprivate func upstreamClosed() {
        upstream = nil
        let failure = upstreamFailure ?? streamConnection?.failure
        upstreamFailure = nil
        streamConnection = nil
        if exchange != nil {
            fail(failure ?? ProxyError(code: .upstreamClosed, detail: "connection closed by the target before the response ended"))
        }
    }

    fileprivate func upstreamWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    fileprivate var downstreamWritable: Bool { context?.channel.isWritable ?? false }

    private func finishExchange(error: String?) {
        guard let exchange else { return }
        let now = NIODeadline.now()
        if let endpoint {
            if let discovery, let dispatched {
                let finished = discovery.clock.now()
                endpoint.finished(rttNanoseconds: finished &- dispatched, now: finished)
            } else {
                endpoint.abandoned()
            }
        }
        endpoint = nil
        dispatched = nil
        failedEndpoint = nil
        attempts = 0
        waitedForDiscovery = false
        let elapsed = Double((now - exchange.start).nanoseconds) / 1_000_000
        exchange.series.responded(status: exchange.status, grpcStatus: exchange.grpcStatus, latencyMilliseconds: elapsed, error: error)
        self.exchange = nil
    }

    /// Answers the request in flight with the proxy's own error and closes the connection; a
    /// response that already started can only be cut short.
    private func fail(_ error: ProxyError) {
        guard let context else { return }
        logger.info("request failed", metadata: ["target": "\(target.map { "\($0)" } ?? "?")", "error": "\(error.message)"])
        if error.isTransportFailure { outcome.markFailed() }
        held.removeAll()
        upstream?.close(promise: nil)
        guard let current = exchange, !current.responseStarted else {
            finishExchange(error: error.code.rawValue)
            context.close(promise: nil)
            return
        }
        var headers = HTTPHeaders([("l5d-proxy-error", error.message), ("connection", "close")])
        let status: HTTPResponseStatus
        if current.isGRPC {
            status = .ok
            headers.add(name: "content-type", value: "application/grpc")
            headers.add(name: "grpc-status", value: String(error.grpcStatus))
            headers.add(name: "grpc-message", value: error.message)
            exchange?.grpcStatus = error.grpcStatus
        } else {
            status = error.status
            headers.add(name: "content-length", value: "0")
        }
        exchange?.status = Int(status.code)
        finishExchange(error: error.code.rawValue)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// Sits on the upstream channel and hands every response part to the forwarder, reading only
/// while the client can take more.
private final class UpstreamRelay: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private var forwarder: HTTP1Forwarder?

    init(forwarder: HTTP1Forwarder) {
        self.forwarder = forwarder
    }

    /// Stops relaying: the connection is idle in the pool, or being closed.
    func detach() {
        forwarder = nil
    }

    /// Relays to `forwarder` from now on (the connection was taken from the pool).
    func attach(_ forwarder: HTTP1Forwarder) {
        self.forwarder = forwarder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        forwarder?.receive(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        forwarder?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        forwarder?.upstreamClosed()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { forwarder?.upstreamWritable() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        forwarder?.upstreamError(error)
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        // When the client cannot take more, the read is dropped; the forwarder asks again once
        // the client is writable.
        if forwarder?.downstreamWritable ?? true { context.read() }
    }
}
