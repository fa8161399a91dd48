import NIOCore
import NIOHTTP1
import WeftPolicy

/// The HTTP/1 forwarder's retries and timeouts, under the rule the route stage chose for the
/// request (``RetryPolicy`` says when a failed attempt is tried again). A retried attempt goes
/// through the route stage again, so it may reach another backend and another endpoint; nothing
/// of a retried attempt's response reaches the client.
extension HTTP1Forwarder {
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
        let loop = context.eventLoop.assumeIsolated()
        if requestTimer == nil, let timeout = routed.timeouts?.request {
            let elapsed = Duration.nanoseconds(Int64(clamping: forwarding.clock.now() &- exchange.start))
            requestTimer = loop.scheduleTask(in: TimeAmount(max(timeout - elapsed, .zero))) { [self] in
                requestTimer = nil
                guard self.exchange != nil else { return }
                fail(ProxyError(code: .requestTimeout, detail: "no response within the request timeout of \(timeout)"))
            }
        }
        attemptTimer?.cancel()
        attemptTimer = nil
        if let timeout = attempts?.policy.perAttemptTimeout {
            attemptTimer = loop.scheduleTask(in: TimeAmount(timeout)) { [self] in
                attemptTimer = nil
                guard self.exchange?.responseStarted == false else { return }
                if !retryLost(timedOut: true) {
                    fail(ProxyError(code: .attemptTimeout, detail: "no response within the attempt timeout of \(timeout)"))
                }
            }
        }
    }

    /// A response head of the current attempt: true when the attempt is given up for another
    /// (its connection closed, the head dropped).
    func retriesResponse(_ head: HTTPResponseHead) -> Bool {
        guard var attempts, let discovery = forwarding.discovery else { return false }
        let grpcStatus = head.headers.first(name: "grpc-status").flatMap { Int($0) }
        let decision = discovery.decide(&attempts, status: Int(head.status.code), grpcStatus: grpcStatus)
        self.attempts = attempts
        if act(on: decision, answered: true) { return true }
        // The response starts: it is never retried from here.
        self.attempts = nil
        attemptTimer?.cancel()
        attemptTimer = nil
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
        attemptTimer?.cancel()
        attemptTimer = nil
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
        requestTimer?.cancel()
        requestTimer = nil
        attemptTimer?.cancel()
        attemptTimer = nil
    }
}
