import NIOCore
import NIOHPACK
import NIOHTTP2
import WeftPolicy

/// The HTTP/2 relay's retries and timeouts (downstream side), under the rule the route stage
/// chose for the stream (``RetryState`` keeps them). A retried attempt's upstream stream is reset
/// and the kept request goes through the route stage again; nothing of its response reaches the
/// client.
extension HTTP2StreamRelay: NIOScheduledCallbackHandler {
    /// Called when the route stage has chosen the rule, for each attempt.
    func startAttempt(original first: HTTP2Frame.FramePayload.Headers) {
        guard let routed, let context, let start else { return }
        let now = clock.now()
        retries.start(routed: routed, original: .headers(first), parts: held, method: first.headers.first(name: ":method") ?? "",
                      requestStart: start, now: now, measure: RequestAttempts.measure)
        retries.arm(now: now, on: context.eventLoop, handler: self)
    }

    /// A deadline passed: the request's, or the attempt's (retried, or answered).
    func handleScheduledCallback(eventLoop: some EventLoop) {
        guard !recorded, let routed, let context else { return }
        let now = clock.now()
        switch retries.expired(now: now, routed: routed) {
        case .request(let timeout)?:
            timedOut(ProxyError(code: .requestTimeout, detail: "no response within the request timeout of \(timeout)"))
            return
        case .attempt(let timeout)?:
            if status == nil, !retry(.lost(timedOut: true)) {
                timedOut(ProxyError(code: .attemptTimeout, detail: "no response within the attempt timeout of \(timeout)"))
                return
            }
        case nil:
            break
        }
        retries.arm(now: now, on: context.eventLoop, handler: self)
    }

    /// The response ran out of time: answered by the proxy if nothing of it was sent yet, else
    /// both streams are reset.
    private func timedOut(_ error: ProxyError) {
        guard !recorded, let context else { return }
        let upstream = partner
        unlinkPartner()
        upstream?.context?.close(promise: nil)
        if status == nil {
            respond(with: error)
        } else {
            record(error: error.code.rawValue)
            context.close(promise: nil)
        }
    }

    /// A frame of the current attempt's response, while it may still be retried: true when it
    /// was taken here (held, or dropped with the attempt). A gRPC head without END_STREAM is
    /// held until the next frame: trailers right after it (a server's error, sent as head then
    /// trailers) are classified by their `grpc-status`; data releases the head and the response
    /// starts.
    func interceptsResponse(_ payload: HTTP2Frame.FramePayload) -> Bool {
        guard status == nil else { return false }
        switch payload {
        case .headers(let headers):
            if let head = heldResponse {
                heldResponse = nil
                let grpcStatus = headers.headers.first(name: "grpc-status").flatMap { Int($0) }
                if retry(.answered(status: 200, grpcStatus: grpcStatus)) { return true }
                deliver(.headers(head))
                deliver(payload)
                return true
            }
            guard let value = headers.headers.first(name: ":status"), let code = Int(value), !(100..<200).contains(code) else { return false }
            let grpcStatus = headers.headers.first(name: "grpc-status").flatMap { Int($0) }
            if isGRPC, code == 200, !headers.endStream, grpcStatus == nil {
                heldResponse = headers
                return true
            }
            return retry(.answered(status: code, grpcStatus: grpcStatus))
        default:
            if let head = heldResponse {
                heldResponse = nil
                // Data: the gRPC call succeeds as far as retries go.
                _ = retry(.answered(status: 200, grpcStatus: 0))
                deliver(.headers(head))
            }
            return false
        }
    }

    /// Passes a response frame to the client as the upstream side would.
    private func deliver(_ payload: HTTP2Frame.FramePayload) {
        if case .headers(let headers) = payload { observeResponse(headers) }
        partnerWrite(payload)
    }

    /// Decides the current attempt's failure: true when its stream is reset and the kept
    /// request goes again after the backoff.
    func retry(_ failure: RetryState<HTTP2Frame.FramePayload>.Failure) -> Bool {
        guard !recorded, let discovery, let context, case .downstream(_, let upstreams, _, _, _) = side else { return false }
        if case .answered = failure {} else if status != nil { return false }
        let now = clock.now()
        guard let delay = retries.decide(failure, discovery: discovery, routed: routed, now: now), let attempts = retries.attempts else {
            return false
        }
        if let endpoint {
            if let dispatched { endpoint.finished(rttNanoseconds: now &- dispatched, now: now, failed: true) } else { endpoint.abandoned() }
        }
        endpoint = nil
        dispatched = nil
        let upstream = partner
        unlinkPartner()
        upstream?.context?.close(promise: nil)
        heldResponse = nil
        held = attempts.replay
        waitingForUpstream = true
        context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
            guard let context = self.context, !answered, !recorded else { return }
            chooseEndpoint(context: context, upstreams: upstreams)
        }
        return true
    }

    /// On an upstream stream lost before its response: whether the downstream partner tries its
    /// request again (then it has left this stream).
    func partnerRetries() -> Bool {
        guard case .upstream = side, let partner, partner.retries.attempts != nil else { return false }
        return partner.retry(.lost(timedOut: false))
    }

    /// Parts this stream from its partner, so that closing either leaves the other alone.
    private func unlinkPartner() {
        partner?.partner = nil
        partner = nil
    }

    /// Ends the stream's retries and timers.
    func stopAttempts() {
        retries.stop(on: context?.eventLoop)
    }
}
