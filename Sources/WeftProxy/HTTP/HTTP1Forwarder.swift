import Logging
import NIOCore
import NIOHTTP1
import WeftCore
import WeftPolicy

/// What the HTTP/1 forwarders of one accepted connection share.
struct HTTP1Forwarding {
    let targeting: RequestTargeting
    let direction: Direction
    let connectTimeout: Duration
    let pool: HTTP1ConnectionPool
    let metrics: HTTPMetrics
    let tcp: (source: TCPMetrics, destination: TCPMetrics)
    let outcome: ConnectionOutcome
    /// The client's verified mesh identity, sent on as `l5d-client-id` (inbound).
    var clientIdentity: String? = nil
    /// Inbound: whether the port's policy admits each request.
    var authorization: ConnectionAuthorization? = nil
    /// Outbound: requests to a service name go to one of its endpoints, chosen per request.
    var discovery: LoopDiscovery? = nil
    /// Outbound: originates mesh TLS to endpoints with an identity.
    var meshTLS: MeshTLSClient? = nil
    /// Labels the `tcp_*` series of connections to discovered endpoints.
    var registry: MetricRegistry? = nil
    /// Outbound: HTTP/2 connections to endpoints whose proxies take HTTP/1 upgraded to HTTP/2.
    var http2Upstreams: HTTP2Upstreams? = nil
    /// The client connection's HTTP/1 handlers, taken out after a protocol switch (nil where the
    /// requests come as HTTP/2 streams: no switch then).
    var serverHandlers: HTTP1ServerHandlers? = nil
    let clock: MonotonicClock
    let logger: Logger

    /// Inbound: a client's own `l5d-client-id` is dropped (only a verified one is sent on).
    var removesClientIdentity: Bool { direction == .inbound }
}

/// Proxies HTTP/1.x requests from the accepted connection to the target, one exchange at a time
/// (pipelined requests wait in NIO's pipelining handler and are answered in order).
///
/// Bodies stream both ways with backpressure: the downstream connection is read only while the
/// upstream one is writable, and the reverse. Hop-by-hop headers are removed. When the target
/// cannot be reached, or closes before a response, the proxy answers itself (``SyntheticResponse``)
/// and closes the connection, as Linkerd does. The upstream side — choosing an endpoint and
/// connecting — is in `HTTP1Forwarder+Upstream.swift`.
final class HTTP1Forwarder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let forwarding: HTTP1Forwarding
    var context: ChannelHandlerContext?
    var upstream = HTTP1UpstreamState.none
    var exchange: HTTP1Exchange?
    /// The target of the upstream connection (or of the request being connected for).
    var target: ConnectionTarget?
    /// The service of the current request, when discovery resolves its target.
    var service: LogicalTarget?
    /// The endpoint of the current request, and when the request went out on a ready connection
    /// to it (its latency runs from there: a connection's set-up is not charged to it).
    var endpoint: BalancedEndpoint?
    var dispatched: UInt64?
    /// The current request's `l5d-require-id`.
    var requiredIdentity: String?
    /// The current request's route rule (its response filters, its series), if its service has routes.
    var routed: RoutedRequest?
    /// Request parts read while the upstream connection is being made (its storage kept for the
    /// connection's next request), and how many body bytes they hold.
    var held: [HTTPClientRequestPart] = []
    var heldBodyBytes = 0
    /// How many body bytes may be read while the upstream connection is being made. Reading on
    /// (rather than stopping) keeps the client's socket registered for reads, which saves two
    /// `epoll_ctl` calls per request; past this, reading waits for the connection.
    static let maximumHeldBodyBytes = 64 * 1024
    var pendingRead = false
    /// The request's retries and deadlines (``HTTP1Forwarder+Retry``).
    var retries = RetryState<HTTPClientRequestPart>()
    private var closeWhenIdle = false
    /// Why the upstream connection failed, when it said (mesh TLS: a failed handshake or a peer
    /// that is not the expected identity); reported when it closes.
    private var upstreamFailure: ProxyError?
    /// Inbound: the current request was refused by policy; its body is read and dropped, and the
    /// refusal answered when it ends (keeping the connection).
    private var refusal: ProxyError?

    init(_ forwarding: HTTP1Forwarding) {
        self.forwarding = forwarding
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
            begin(head)
        case .body(let buffer):
            guard refusal == nil else { return }
            send(.body(.byteBuffer(buffer)))
        case .end(let trailers):
            if let refusal {
                self.refusal = nil
                answer(refusal)
                return
            }
            exchange?.requestEnded = true
            send(.end(trailers))
        }
    }

    /// A new request: its exchange, its target, and its head as it goes on.
    private func begin(_ head: HTTPRequestHead) {
        let authority = RequestAuthority.of(head)
        let series = forwarding.metrics.request(authority: (try? authority.get())?.authority ?? nil)
        let isGRPC = ContentType.isGRPC(head.headers.first(name: "content-type"))
        exchange = HTTP1Exchange(start: forwarding.clock.now(), series: series, isGRPC: isGRPC, keepAlive: head.isKeepAlive)
        if head.method == .CONNECT {
            fail(ProxyError(code: .unsupportedMethod, detail: "CONNECT is not supported"))
            return
        }
        if let authorization = forwarding.authorization, let refused = authorization.refusal(HTTP1RoutableRequest(head)) {
            refusal = refused
            return
        }
        let named: RequestAuthority
        switch authority {
        case .success(let value): named = value
        case .failure(let error):
            fail(error)
            return
        }
        guard let requestTarget = forwarding.targeting.target(override: head.headers.first(name: RequestTargeting.overrideHeader),
                                                              authority: named.authority) else {
            fail(ProxyError(code: .noTarget, detail: "no target: send l5d-dst-override or Host"))
            return
        }
        if let discovery = forwarding.discovery, let logical = discovery.logical(for: requestTarget) {
            // A service: the endpoint is chosen when connecting, for this request alone.
            retireUpstream()
            service = logical
            target = nil
        } else if requestTarget != target || service != nil {
            // A new target (ingress mode): the previous exchange is over, its connection goes.
            retireUpstream()
            service = nil
            target = requestTarget
        }
        send(.head(forwardedHead(head, named: named, target: requestTarget)))
    }

    /// The request head as it goes to the target: hop-by-hop headers removed (but a protocol
    /// switch the target may accept), the mesh headers handled, and a `Host` where one is needed.
    private func forwardedHead(_ head: HTTPRequestHead, named: RequestAuthority, target: ConnectionTarget) -> HTTPRequestHead {
        var forwarded = HTTPRequestHead(version: .http1_1, method: head.method, uri: named.originForm ?? head.uri,
                                        headers: HopByHopHeaders.removing(from: head.headers))
        if let upgrade = head.headers.first(name: "upgrade"),
           head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }),
           !upgrade.lowercased().contains("h2c") {
            // Not h2c: HTTP/2 goes by prior knowledge, and an HTTP/1 connection that turns into
            // HTTP/2 behind the proxy's back is not relayed.
            forwarded.headers.add(name: "connection", value: "upgrade")
            forwarded.headers.add(name: "upgrade", value: upgrade)
            exchange?.upgradeRequested = true
        }
        forwarded.headers.removeIfPresent(name: RequestTargeting.overrideHeader)
        requiredIdentity = forwarding.removesClientIdentity ? nil : head.headers.first(name: MeshHeaders.requireID)
        forwarded.headers.removeIfPresent(name: MeshHeaders.requireID)
        if forwarding.removesClientIdentity { forwarded.headers.removeIfPresent(name: MeshHeaders.clientID) }
        if let clientIdentity = forwarding.clientIdentity { forwarded.headers.add(name: MeshHeaders.clientID, value: clientIdentity) }
        if named.originForm != nil, let authority = named.authority {
            forwarded.headers.replaceOrAdd(name: "host", value: authority)
        } else if head.version == .http1_0 && !forwarded.headers.contains(name: "host") {
            forwarded.headers.add(name: "host", value: target.description)
        }
        return forwarded
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        upstream.connection?.channel.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        // Read from the client only when the request can go somewhere.
        switch upstream {
        case .connecting where heldBodyBytes >= Self.maximumHeldBodyBytes: pendingRead = true
        case .ready(let connection) where !connection.channel.isWritable: pendingRead = true
        default: context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstream.connection?.channel.close(promise: nil)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream.connection?.channel.read() }
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
        // What is left of a request the proxy already answered goes nowhere.
        guard exchange != nil else { return }
        if retries.attempts != nil { retries.keep(part, RequestAttempts.measure(part)) }
        switch upstream {
        case .ready(let connection):
            connection.channel.write(part, promise: nil)
            if case .end = part { connection.channel.flush() }
        case .connecting:
            hold(part)
        case .none:
            hold(part)
            connect()
        }
    }

    private func hold(_ part: HTTPClientRequestPart) {
        if case .body(.byteBuffer(let bytes)) = part { heldBodyBytes += bytes.readableBytes }
        held.append(part)
    }

    /// Forgets the held parts, keeping their storage for the next request.
    func dropHeld() {
        held.removeAll(keepingCapacity: true)
        heldBodyBytes = 0
    }

    // MARK: Responses from the target (through ``UpstreamRelay``)

    /// A response part from the target.
    func receive(_ part: HTTPClientResponsePart) {
        guard let context else { return }
        switch part {
        case .head(let head):
            var headers = HopByHopHeaders.removing(from: head.headers)
            headers.removeIfPresent(name: MeshHeaders.originalProtocol)
            let informational = (100..<200).contains(head.status.code) && head.status.code != 101
            if !informational, head.status != .switchingProtocols, retries.attempts != nil, retriesResponse(head) { return }
            if head.status == .switchingProtocols {
                guard exchange?.upgradeRequested == true, let upgrade = head.headers.first(name: "upgrade") else {
                    fail(ProxyError(code: .upstreamClosed, detail: "the target switched protocols without being asked"))
                    return
                }
                headers.add(name: "connection", value: "upgrade")
                headers.add(name: "upgrade", value: upgrade)
                exchange?.status = 101
                exchange?.switching = true
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
            if !informational, let selection = routed?.selection, selection.modifiesResponses {
                selection.modifyResponse(&headers)
            }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: headers))), promise: nil)
            if informational { context.flush() }
        case .body(let buffer):
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            if exchange?.switching == true {
                // The 101 is complete and the decoder has stopped: now the bytes change protocol.
                finishExchange(error: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                switchToRawBytes(context: context)
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

    /// After a 101: both connections carry raw bytes from now on (``HTTP1ProtocolSwitch``).
    private func switchToRawBytes(context: ChannelHandlerContext) {
        guard let connection = upstream.connection else { return }
        upstream = .none
        let switched = HTTP1ProtocolSwitch(client: context, server: forwarding.serverHandlers, forwarder: self,
                                           upstream: connection, tcp: forwarding.tcp, outcome: forwarding.outcome)
        do {
            try switched.splice()
            forwarding.logger.debug("switched protocols", metadata: ["target": "\(target.map { "\($0)" } ?? "?")"])
        } catch {
            forwarding.logger.info("protocol switch failed", metadata: ["error": "\(error)"])
            connection.channel.close(promise: nil)
            context.close(promise: nil)
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamError(_ error: any Error) {
        guard upstreamFailure == nil else { return }  // the first error is the cause
        upstreamFailure = ProxyError(meshTLSFailure: error)
    }

    func upstreamClosed() {
        let failure = upstreamFailure ?? upstream.connection?.http2?.failure
        upstream = .none
        upstreamFailure = nil
        if exchange != nil {
            if exchange?.responseStarted == false, retries.attempts != nil, retry(.lost(timedOut: false)) { return }
            fail(failure ?? ProxyError(code: .upstreamClosed, detail: "connection closed by the target before the response ended"))
        }
    }

    func upstreamWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    var downstreamWritable: Bool { context?.channel.isWritable ?? false }

    func finishExchange(error: String?) {
        guard let exchange else { return }
        stopAttempts()
        let now = forwarding.clock.now()
        if let endpoint {
            if let dispatched {
                endpoint.finished(rttNanoseconds: now &- dispatched, now: now,
                                  failed: BalancedEndpoint.isFailure(status: exchange.status, grpcStatus: exchange.grpcStatus, error: error))
            } else {
                endpoint.abandoned()
            }
        }
        routed?.finished(status: exchange.status, grpcStatus: exchange.grpcStatus, error: error, start: exchange.start, dispatched: dispatched, now: now)
        routed = nil
        endpoint = nil
        dispatched = nil
        let elapsed = Double(now &- exchange.start) / 1_000_000
        exchange.series.responded(status: exchange.status, grpcStatus: exchange.grpcStatus, latencyMilliseconds: elapsed, error: error)
        self.exchange = nil
    }

    /// Answers a request the proxy refused before sending anything on, once the whole request has
    /// been read: the connection stays open when the client keeps it alive.
    private func answer(_ error: ProxyError) {
        guard let context, let current = exchange else { return }
        let response = SyntheticResponse(error, isGRPC: current.isGRPC)
        if let code = response.grpcStatus { exchange?.grpcStatus = code }
        exchange?.status = response.status
        let keepAlive = current.keepAlive && !closeWhenIdle
        finishExchange(error: error.code.rawValue)
        context.write(wrapOutboundOut(.head(response.http1Head(keepAlive: keepAlive))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { written.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }

    /// Answers the request in flight with the proxy's own error and closes the connection; a
    /// response that already started can only be cut short.
    func fail(_ error: ProxyError) {
        guard let context else { return }
        forwarding.logger.info("request failed", metadata: ["target": "\(target.map { "\($0)" } ?? "?")", "error": "\(error.message)"])
        if error.isTransportFailure { forwarding.outcome.markFailed() }
        dropHeld()
        retireUpstream()  // detached first: its close is not another failure
        guard let current = exchange, !current.responseStarted else {
            finishExchange(error: error.code.rawValue)
            context.close(promise: nil)
            return
        }
        let response = SyntheticResponse(error, isGRPC: current.isGRPC)
        if let code = response.grpcStatus { exchange?.grpcStatus = code }
        exchange?.status = response.status
        finishExchange(error: error.code.rawValue)
        context.write(wrapOutboundOut(.head(response.http1Head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
