import NIOCore
import NIOHPACK
import NIOHTTP2
import WeftPolicy

/// The HTTP/2 relay's retries and timeouts (downstream side), under the rule the route stage
/// chose for the stream. A retried attempt's upstream stream is reset and the kept request goes
/// through the route stage again; nothing of its response reaches the client.
extension HTTP2StreamRelay: NIOScheduledCallbackHandler {
    /// Called when the route stage has chosen the rule, for each attempt: on the first, the
    /// request's frames start being kept (the first HEADERS as the client sent them) and the
    /// request timer starts; every attempt gets its own timer.
    func startAttempt(original first: HTTP2Frame.FramePayload.Headers) {
        guard let routed, let context, let start else { return }
        if attempts == nil, let retry = routed.retry {
            var frames = held
            frames[0] = .headers(first)
            attempts = RequestAttempts(policy: retry, method: first.headers.first(name: ":method") ?? "", parts: frames,
                                       measure: RequestAttempts.measure)
        }
        let now = clock.now()
        if requestDeadline == nil, let timeout = routed.timeouts?.request {
            requestDeadline = start &+ RequestDeadlines.nanoseconds(timeout)
        }
        attemptDeadline = attempts?.policy.perAttemptTimeout.map { now &+ RequestDeadlines.nanoseconds($0) }
        armDeadline(now: now, on: context.eventLoop)
    }

    /// Watches the earlier deadline with one callback (cancelling the one before).
    private func armDeadline(now: UInt64, on eventLoop: EventLoop) {
        if let callback = deadlineCallback {
            eventLoop.assumeIsolated().cancelScheduledCallback(callback)
            deadlineCallback = nil
        }
        guard let next = RequestDeadlines.earlier(requestDeadline, attemptDeadline) else { return }
        deadlineCallback = try? eventLoop.assumeIsolated().scheduleCallback(in: RequestDeadlines.delay(until: next, now: now), handler: self)
    }

    /// A deadline passed: the request's, or the attempt's (retried, or answered).
    func handleScheduledCallback(eventLoop: some EventLoop) {
        deadlineCallback = nil
        guard !recorded, let routed else { return }
        let now = clock.now()
        if let deadline = requestDeadline, now >= deadline {
            let timeout = routed.timeouts?.request ?? .zero
            timedOut(ProxyError(code: .requestTimeout, detail: "no response within the request timeout of \(timeout)"))
            return
        }
        if let deadline = attemptDeadline, now >= deadline {
            attemptDeadline = nil
            if status == nil, !retryLost(timedOut: true) {
                let timeout = attempts?.policy.perAttemptTimeout ?? .zero
                timedOut(ProxyError(code: .attemptTimeout, detail: "no response within the attempt timeout of \(timeout)"))
                return
            }
        }
        if let context { armDeadline(now: now, on: context.eventLoop) }
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
                if retries(status: 200, grpcStatus: grpcStatus) { return true }
                deliver(.headers(head))
                deliver(payload)
                return true
            }
            guard let value = headers.headers.first(name: ":status"), let code = Int(value), !(100..<200).contains(code) else { return false }
            if isGRPC, code == 200, !headers.endStream, headers.headers.first(name: "grpc-status") == nil {
                heldResponse = headers
                return true
            }
            let grpcStatus = headers.headers.first(name: "grpc-status").flatMap { Int($0) }
            return retries(status: code, grpcStatus: grpcStatus)
        default:
            if let head = heldResponse {
                heldResponse = nil
                if (attempts?.retries ?? 0) > 0 { routed?.retryCounters?.successes.increment() }
                endRetries()
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

    /// A response with `status` (and `grpcStatus`) ended the attempt: true when it is retried;
    /// else the response starts and is never retried from here.
    private func retries(status: Int, grpcStatus: Int?) -> Bool {
        guard var attempts, let discovery else { return false }
        let decision = discovery.decide(&attempts, status: status, grpcStatus: grpcStatus)
        self.attempts = attempts
        if act(on: decision, answered: true) { return true }
        endRetries()
        return false
    }

    private func endRetries() {
        attempts = nil
        attemptDeadline = nil
    }

    /// The current attempt's stream closed or was reset before a response, or its timer ran
    /// out: true when it is tried again.
    func retryLost(timedOut: Bool) -> Bool {
        guard var attempts, status == nil, !recorded, let discovery else { return false }
        let decision = discovery.decide(&attempts, status: nil, grpcStatus: nil, timedOut: timedOut)
        self.attempts = attempts
        return act(on: decision, answered: false)
    }

    /// The current attempt failed before anything of it was sent (no endpoint, or no
    /// connection): true when it is tried again (safe for any method).
    func retryUnsent() -> Bool {
        guard var attempts, let discovery else { return false }
        let decision = discovery.decide(&attempts, status: nil, grpcStatus: nil, unsent: true)
        self.attempts = attempts
        return act(on: decision, answered: false)
    }

    private func act(on decision: RequestAttempts<HTTP2Frame.FramePayload>.Decision, answered: Bool) -> Bool {
        let counters = routed?.retryCounters
        switch decision {
        case .retry(let delay):
            guard routed?.mayRetry(now: clock.now()) ?? true else { return false }  // the profile's budget is spent
            counters?.requests.increment()
            retry(after: delay)
            return true
        case .deliver:
            if answered, (attempts?.retries ?? 0) > 0 { counters?.successes.increment() }
        case .limitExceeded:
            counters?.limitExceeded.increment()
        case .overflow:
            counters?.overflow.increment()
        }
        return false
    }

    /// Resets the current attempt's stream and sends the kept request again after `delay`.
    private func retry(after delay: Duration) {
        guard let context, let attempts, case .downstream(_, let upstreams, _, _, _) = side else { return }
        attemptDeadline = nil
        let now = clock.now()
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
    }

    /// On an upstream stream lost before its response: whether the downstream partner tries its
    /// request again (then it has left this stream).
    func partnerRetries() -> Bool {
        guard case .upstream = side, let partner, partner.attempts != nil else { return false }
        return partner.retryLost(timedOut: false)
    }

    /// Parts this stream from its partner, so that closing either leaves the other alone.
    private func unlinkPartner() {
        partner?.partner = nil
        partner = nil
    }

    /// Ends the stream's retries and timers.
    func stopAttempts() {
        attempts = nil
        requestDeadline = nil
        attemptDeadline = nil
        if let callback = deadlineCallback, let context {
            context.eventLoop.assumeIsolated().cancelScheduledCallback(callback)
        }
        deadlineCallback = nil
    }
}
