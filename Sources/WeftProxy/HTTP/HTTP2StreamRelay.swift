import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import WeftCore
import WeftPolicy

/// Joins a downstream HTTP/2 stream to an upstream one, frame payload by frame payload.
///
/// The downstream relay opens the upstream stream when the request's first frame arrives (holding
/// frames until then), and answers with the proxy's own error response when the target cannot be
/// reached. Each side reads only while its partner can write, so HTTP/2 flow control holds end to
/// end. When either stream closes (ended, reset, or its connection gone), the other is closed,
/// which resets it if it had not finished.
final class HTTP2StreamRelay: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    enum Side {
        var name: String {
            if case .downstream = self { "downstream" } else { "upstream" }
        }

        /// The client's stream; owns the exchange's bookkeeping.
        case downstream(RequestTargeting, HTTP2Upstreams, HTTPMetrics, removesClientIdentity: Bool, clientIdentity: String?)
        /// The stream to the target.
        case upstream
    }

    let side: Side
    let stallTimeout: TimeAmount
    let clock: MonotonicClock
    let logger: Logger
    weak var partner: HTTP2StreamRelay?
    var context: ChannelHandlerContext?
    var held: [HTTP2Frame.FramePayload] = []
    var pendingRead = false
    /// Running while this side holds data its partner cannot take (flow control).
    var stallTimer: Scheduled<Void>?
    var waitingForUpstream = false
    /// The proxy answered this stream itself; later request frames are dropped.
    var answered = false
    /// END_STREAM has been read from this stream's peer, and written to it.
    var receivedEnd = false
    var sentEnd = false
    // Exchange bookkeeping (downstream side).
    /// When the request's first HEADERS arrived (monotonic nanoseconds).
    var start: UInt64?
    var series: HTTPMetrics.Series?
    /// The connection this stream's request goes over, chosen from its first HEADERS.
    var upstream: HTTP2Upstream?
    /// Outbound discovery: the service this stream goes to, the endpoint chosen for it, and the
    /// endpoints tried so far.
    var discovery: LoopDiscovery?
    var service: LogicalTarget?
    var endpoint: BalancedEndpoint?
    /// When the stream to the endpoint was open and the request went on it (monotonic
    /// nanoseconds): the endpoint's latency is measured from here, not from the choice.
    var dispatched: UInt64?
    /// The stream's `l5d-require-id` (outbound).
    var requiredIdentity: String?
    /// On the upstream side: the connection whose stream count this stream is part of.
    var upstreamConnection: HTTP2Upstream?
    var isGRPC = false
    /// The stream's route rule (its response filters, its series), if its service has routes.
    var routed: RoutedRequest?
    var status: Int?
    var grpcStatus: Int?
    var recorded = false
    /// The stream's retries and deadlines (``HTTP2StreamRelay+Retry``).
    var retries = RetryState<HTTP2Frame.FramePayload>()
    /// A gRPC response's head held until the next frame shows whether trailers end it at once.
    var heldResponse: HTTP2Frame.FramePayload.Headers?
    /// Inbound: whether the port's policy admits the stream's request.
    var authorization: ConnectionAuthorization?

    private init(side: Side, stallTimeout: TimeAmount, clock: MonotonicClock, logger: Logger) {
        self.side = side
        self.stallTimeout = stallTimeout
        self.clock = clock
        self.logger = logger
    }

    /// The relay for a stream the client opened.
    /// - Parameter stallTimeout: how long either side may hold data that the other side's peer
    ///   does not take (its flow-control window stays shut) before the exchange is reset.
    /// - Parameter removesClientIdentity: drop any `l5d-client-id` the client sent (inbound).
    static func downstream(targeting: RequestTargeting, upstreams: HTTP2Upstreams, metrics: HTTPMetrics,
                           stallTimeout: TimeAmount, removesClientIdentity: Bool, clientIdentity: String? = nil,
                           discovery: LoopDiscovery? = nil, authorization: ConnectionAuthorization? = nil,
                           clock: MonotonicClock, logger: Logger) -> HTTP2StreamRelay {
        let relay = HTTP2StreamRelay(side: .downstream(targeting, upstreams, metrics, removesClientIdentity: removesClientIdentity,
                                                       clientIdentity: clientIdentity),
                                     stallTimeout: stallTimeout, clock: clock, logger: logger)
        relay.discovery = discovery
        relay.authorization = authorization
        return relay
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        // Only HEADERS and DATA cross (a reset crosses in `errorCaught`); flow control and
        // priority belong to each stream.
        switch payload {
        case .headers, .data: break
        default: return
        }
        if payload.endsStream { receivedEnd = true }
        switch side {
        case .downstream(let targeting, let upstreams, let metrics, let removesClientIdentity, let clientIdentity):
            var payload = payload
            if start == nil, case .headers(var headers) = payload {
                start = clock.now()
                series = metrics.request(authority: headers.headers.first(name: ":authority"))
                isGRPC = ContentType.isGRPC(headers.headers.first(name: "content-type"))
                if let authorization, let refusal = authorization.refusal(HTTP2RoutableRequest(headers.headers)) {
                    respond(with: refusal)
                    return
                }
                let override = headers.headers.first(name: RequestTargeting.overrideHeader)
                guard let target = targeting.target(override: override, authority: headers.headers.first(name: ":authority")) else {
                    respond(with: ProxyError(code: .noTarget, detail: "no target: send l5d-dst-override or :authority"))
                    return
                }
                if !removesClientIdentity {
                    requiredIdentity = headers.headers.first(name: MeshHeaders.requireID)
                    headers.headers.removeIfPresent(name: MeshHeaders.requireID)
                }
                if let discovery, let logical = discovery.logical(for: target) {
                    service = logical
                } else if let requiredIdentity {
                    respond(with: EndpointConnector.unmeshedFailure(target, requires: requiredIdentity))
                    return
                } else {
                    guard let upstream = upstreams.upstream(for: target) else {
                        respond(with: ProxyError(code: .noTarget, detail: "too many targets"))
                        return
                    }
                    self.upstream = upstream
                }
                headers.headers.removeIfPresent(name: RequestTargeting.overrideHeader)
                if removesClientIdentity { headers.headers.removeIfPresent(name: MeshHeaders.clientID) }
                if let clientIdentity { headers.headers.add(name: MeshHeaders.clientID, value: clientIdentity) }
                payload = .headers(headers)
            }
            if answered {
                return
            }
            if retries.attempts != nil { retries.keep(payload, RequestAttempts.measure(payload)) }
            if let partner {
                partner.partnerWrite(payload)
            } else {
                held.append(payload)
                if !waitingForUpstream {
                    if let upstream {
                        openUpstream(upstream, context: context)
                    } else if service != nil {
                        chooseEndpoint(context: context, upstreams: upstreams)
                    }
                }
            }
        case .upstream:
            if let partner, partner.retries.attempts != nil, partner.interceptsResponse(payload) { return }
            if case .headers(let headers) = payload { partner?.observeResponse(headers) }
            partner?.partnerWrite(payload)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if waitingForUpstream {
            pendingRead = true
        } else if let partner, !(partner.context?.channel.isWritable ?? false) {
            pendingRead = true
            startStallTimer(context: context)
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let partner, partner.pendingRead {
            partner.pendingRead = false
            partner.stallTimer?.cancel()
            partner.stallTimer = nil
            partner.context?.read()
        }
        context.fireChannelWritabilityChanged()
    }

    /// Resets the exchange if the partner stays unwritable for the stall timeout: its peer is not
    /// opening its flow-control window, and the data held for it would be held for ever.
    func startStallTimer(context: ChannelHandlerContext) {
        guard stallTimer == nil else { return }
        stallTimer = context.eventLoop.assumeIsolated().scheduleTask(in: stallTimeout) { [self] in
            stallTimer = nil
            logger.info("stream stalled: its receiver took no data", metadata: ["side": "\(side.name)", "timeout": "\(stallTimeout)"])
            partner?.context?.close(promise: nil)
            self.context?.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stallTimer?.cancel()
        stallTimer = nil
        if case .downstream = side { record(error: status == nil ? "stream closed" : nil) }
        upstreamConnection?.streamClosed()
        upstreamConnection = nil
        // A stream that ended both ways leaves its partner to finish writing and close by itself;
        // one that was reset (or lost its connection) resets the partner.
        if !(receivedEnd && sentEnd), partnerRetries() {
            logger.debug("stream closed before a response: retried", metadata: ["side": "\(side.name)"])
        } else if !(receivedEnd && sentEnd) {
            logger.debug("stream closed before it ended", metadata: ["side": "\(side.name)", "received end": "\(receivedEnd)", "sent end": "\(sentEnd)"])
            partner?.context?.close(promise: nil)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("stream error", metadata: ["side": "\(side.name)", "error": "\(error)"])
        // The peer reset this stream: reset the partner with the same code.
        if let closed = error as? NIOHTTP2Errors.StreamClosed, !partnerRetries() { partner?.reset(closed.errorCode) }
        context.close(promise: nil)
    }

    /// Resets this stream with the code its partner's peer reset the partner with.
    func reset(_ code: HTTP2ErrorCode) {
        guard let context, !(receivedEnd && sentEnd) else { return }
        context.writeAndFlush(wrapOutboundOut(.rstStream(code)), promise: nil)
    }

    func partnerWrite(_ payload: HTTP2Frame.FramePayload) {
        if payload.endsStream { sentEnd = true }
        if let selection = routed?.selection, selection.modifiesResponses, case .headers(var response) = payload,
           response.headers.first(name: ":status") != nil {
            selection.modifyResponse(&response.headers)
            context?.write(wrapOutboundOut(.headers(response)), promise: nil)
            return
        }
        context?.write(wrapOutboundOut(payload), promise: nil)
    }

    /// Picks the stream's endpoint with the endpoint stage (waiting for the service's first
    /// endpoints if needed, trying another when a connection is refused), then joins a stream on
    /// that endpoint's connection.
    func chooseEndpoint(context: ChannelHandlerContext, upstreams: HTTP2Upstreams, afterWaiting: Bool = false) {
        guard let discovery, let service, case .headers(var first)? = held.first else { return }
        waitingForUpstream = true
        // The route stage: the request's rule, its filters, its backend.
        let concrete: ConcreteTarget
        switch discovery.route(service, HTTP2RoutableRequest(first.headers), afterWaiting: afterWaiting) {
        case .wait(let ready):
            ready.assumeIsolated().whenComplete { _ in
                guard let context = self.context, !self.answered else { return }
                self.chooseEndpoint(context: context, upstreams: upstreams, afterWaiting: true)
            }
            return
        case .decided(.answer(let error)):
            waitingForUpstream = false
            respond(with: error)
            return
        case .decided(.forward(let backend, let routed)):
            concrete = backend
            let original = first
            RoutedRequest.prepare(&first.headers, routed: routed, service: service)
            held[0] = .headers(first)
            self.routed = routed
            startAttempt(original: original)
        }
        let eventLoop = context.eventLoop
        var stage = EndpointConnector(discovery: discovery, service: service, requiredIdentity: requiredIdentity,
                                      originatesMeshTLS: upstreams.originatesMeshTLS, logger: logger)
        stage.concrete = concrete
        stage.connect({ (endpoint: BalancedEndpoint) -> EndpointConnector.Opening<HTTP2StreamRelay> in
            guard let upstream = upstreams.upstream(for: endpoint.target, peer: endpoint.endpoint.meshPeer) else {
                return .opening(eventLoop.makeFailedFuture(ProxyError(code: .noTarget, detail: "too many targets")))
            }
            return .opening(self.openStream(on: upstream, eventLoop: eventLoop))
        }) { result in
            self.waitingForUpstream = false
            switch result {
            case .success(let (partner, endpoint)):
                guard !self.recorded, self.context != nil else {
                    // The client gave up meanwhile: the request never went to the endpoint.
                    endpoint.abandoned()
                    partner.context?.close(promise: nil)
                    return
                }
                self.endpoint = endpoint
                self.dispatched = self.clock.now()
                self.join(partner)
            case .failure(let error):
                if !(self.retries.attempts != nil && self.retry(.unsent)) { self.respond(with: error) }
            }
        }
    }

    /// Joins a stream on `upstream`, the connection to the stream's fixed target.
    func openUpstream(_ upstream: HTTP2Upstream, context: ChannelHandlerContext) {
        waitingForUpstream = true
        openStream(on: upstream, eventLoop: context.eventLoop).assumeIsolated().whenComplete { result in
            self.waitingForUpstream = false
            switch result {
            case .success(let partner): self.join(partner)
            case .failure(let error): self.respond(with: error as? ProxyError ?? ProxyError(code: .connectFailed, detail: "\(error)"))
            }
        }
    }

    /// A new stream on `upstream` with its relay, counted on the connection while it is open.
    func openStream(on upstream: HTTP2Upstream, eventLoop: EventLoop) -> EventLoopFuture<HTTP2StreamRelay> {
        let partner = HTTP2StreamRelay(side: .upstream, stallTimeout: stallTimeout, clock: clock, logger: logger)
        let boundPartner = NIOLoopBound(partner, eventLoop: eventLoop)
        return upstream.openStream { stream in
            stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(boundPartner.value) }
        }.assumeIsolated().map { _ in
            upstream.streamOpened()
            partner.upstreamConnection = upstream
            return partner
        }.nonisolated()
    }

    /// Makes `partner` this stream's other side and sends it what was held meanwhile.
    func join(_ partner: HTTP2StreamRelay) {
        guard let context else {
            partner.context?.close(promise: nil)
            return
        }
        self.partner = partner
        partner.partner = self
        for payload in held { partner.partnerWrite(payload) }
        held.removeAll()
        partner.context?.flush()
        if pendingRead {
            pendingRead = false
            context.read()
        }
    }

    /// The response's headers (first the head, possibly later the trailers), seen on the way back.
    func observeResponse(_ headers: HTTP2Frame.FramePayload.Headers) {
        if status == nil, let value = headers.headers.first(name: ":status"), let code = Int(value), !(100..<200).contains(code) {
            status = code
        }
        if let value = headers.headers.first(name: "grpc-status") { grpcStatus = Int(value) }
        if headers.endStream { record(error: nil) }
    }

    func record(error: String?) {
        guard !recorded, let start, let series else { return }
        recorded = true
        stopAttempts()
        let now = clock.now()
        if let endpoint {
            if let dispatched {
                endpoint.finished(rttNanoseconds: now &- dispatched, now: now,
                                  failed: BalancedEndpoint.isFailure(status: status, grpcStatus: grpcStatus, error: error))
            } else {
                endpoint.abandoned()
            }
        }
        endpoint = nil
        routed?.finished(status: status, grpcStatus: grpcStatus, error: error, start: start, dispatched: dispatched, now: now)
        let elapsed = Double(now &- start) / 1_000_000
        series.responded(status: status, grpcStatus: grpcStatus, latencyMilliseconds: elapsed, error: error)
    }

    /// Answers the stream with the proxy's own error, as HTTP or as a trailers-only gRPC response.
    func respond(with error: ProxyError) {
        guard let context, case .downstream = side else { return }
        logger.info("request failed", metadata: ["error": "\(error.message)"])
        held.removeAll()
        answered = true
        let response = SyntheticResponse(error, isGRPC: isGRPC)
        status = response.status
        if let code = response.grpcStatus { grpcStatus = code }
        record(error: error.code.rawValue)
        sentEnd = true
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: response.http2Headers, endStream: true))), promise: nil)
    }
}
