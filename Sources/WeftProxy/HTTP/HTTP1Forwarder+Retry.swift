import NIOCore
import NIOHTTP1
import WeftPolicy

/// The HTTP/1 forwarder's retries and timeouts, under the rule the route stage chose for the
/// request (``RetryPolicy`` says when a failed attempt is tried again). A retried attempt goes
/// through the route stage again, so it may reach another backend and another endpoint; nothing
/// of a retried attempt's response reaches the client.
extension HTTP1Forwarder: NIOScheduledCallbackHandler {
    /// Called when the route stage has chosen the rule, for each attempt: on the first, the
    /// request's parts start being kept (the head as the client sent it) and the request timer
    /// starts; every attempt gets its own timer.
    func startAttempt(original head: HTTPRequestHead) {
        guard let routed, let context, let exchange else { return }
        if attempts == nil, let retry = routed.retry {
            var parts = held
            parts[0] = .head(head)
            attempts = RequestAttempts(policy: retry, method: head.method.rawValue, parts: parts, measure: RequestAttempts.measure)
        }
        let now = forwarding.clock.now()
        if requestDeadline == nil, let timeout = routed.timeouts?.request {
            requestDeadline = exchange.start &+ RequestDeadlines.nanoseconds(timeout)
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

    /// A deadline passed: the request's (answered 504 by ``fail(_:)``), or the attempt's
    /// (retried, or answered 504).
    func handleScheduledCallback(eventLoop: some EventLoop) {
        deadlineCallback = nil
        guard exchange != nil, let routed else { return }
        let now = forwarding.clock.now()
        if let deadline = requestDeadline, now >= deadline {
            let timeout = routed.timeouts?.request ?? .zero
            fail(ProxyError(code: .requestTimeout, detail: "no response within the request timeout of \(timeout)"))
            return
        }
        if let deadline = attemptDeadline, now >= deadline {
            attemptDeadline = nil
            if exchange?.responseStarted == false, !retryLost(timedOut: true) {
                let timeout = attempts?.policy.perAttemptTimeout ?? .zero
                fail(ProxyError(code: .attemptTimeout, detail: "no response within the attempt timeout of \(timeout)"))
                return
            }
        }
        if let context { armDeadline(now: now, on: context.eventLoop) }
    }

    /// A response head of the current attempt: true when the attempt is given up for another
    /// (its connection closed, the head dropped).
    func retriesResponse(_ head: HTTPResponseHead) -> Bool {
        guard var attempts, let discovery = forwarding.discovery else { return false }
        let grpcStatus = head.headers.first(name: "grpc-status").flatMap { Int($0) }
        let decision = discovery.decide(&attempts, status: Int(head.status.code), grpcStatus: grpcStatus)
        self.attempts = attempts
        if act(on: decision, answered: true) { return true }
        // The response starts: it is never retried from here (its attempt deadline passes with
        // the request's).
        self.attempts = nil
        attemptDeadline = nil
        return false
    }

    /// The current attempt was lost without a response head (its connection closed, or its
    /// timer ran out): true when it is tried again.
    func retryLost(timedOut: Bool) -> Bool {
        guard var attempts, let discovery = forwarding.discovery else { return false }
        let decision = discovery.decide(&attempts, status: nil, grpcStatus: nil, timedOut: timedOut)
        self.attempts = attempts
        return act(on: decision, answered: false)
    }

    /// The current attempt failed before anything of it was sent (no endpoint, or no
    /// connection): true when it is tried again (safe for any method).
    func retryUnsent() -> Bool {
        guard var attempts, let discovery = forwarding.discovery else { return false }
        let decision = discovery.decide(&attempts, status: nil, grpcStatus: nil, unsent: true)
        self.attempts = attempts
        return act(on: decision, answered: false)
    }

    /// Retries, or counts why not; true when retrying.
    private func act(on decision: RequestAttempts<HTTPClientRequestPart>.Decision, answered: Bool) -> Bool {
        let counters = routed?.retryCounters
        switch decision {
        case .retry(let delay):
            guard routed?.mayRetry(now: forwarding.clock.now()) ?? true else { return false }  // the profile's budget is spent
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

    /// Gives the current attempt up and sends the kept request again after `delay`.
    private func retry(after delay: Duration) {
        guard let context, let attempts else { return }
        attemptDeadline = nil
        let now = forwarding.clock.now()
        if let endpoint {
            if let dispatched { endpoint.finished(rttNanoseconds: now &- dispatched, now: now, failed: true) } else { endpoint.abandoned() }
        }
        endpoint = nil
        dispatched = nil
        retireUpstream()
        upstream = .connecting
        held = attempts.replay
        forwarding.logger.debug("retrying", metadata: ["retry": "\(attempts.retries)", "after": "\(delay)"])
        context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
            guard self.exchange != nil, case .connecting = upstream else { return }
            connect()
        }
    }

    /// Ends the request's retries and timers (the exchange is over).
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
