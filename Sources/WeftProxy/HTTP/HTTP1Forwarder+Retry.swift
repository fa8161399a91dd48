import NIOCore
import NIOHTTP1
import WeftPolicy

/// The HTTP/1 forwarder's retries and timeouts, under the rule the route stage chose for the
/// request (``RetryState`` keeps them; ``RetryPolicy`` says when a failed attempt is tried
/// again). A retried attempt goes through the route stage again, so it may reach another backend
/// and another endpoint; nothing of a retried attempt's response reaches the client.
extension HTTP1Forwarder: NIOScheduledCallbackHandler {
    /// Called when the route stage has chosen the rule, for each attempt.
    func startAttempt(original head: HTTPRequestHead) {
        guard let routed, let context, let exchange else { return }
        let now = forwarding.clock.now()
        retries.start(routed: routed, original: .head(head), parts: held, method: head.method.rawValue, requestStart: exchange.start,
                      now: now, measure: RequestAttempts.measure)
        retries.arm(now: now, on: context.eventLoop, handler: self)
    }

    /// A deadline passed: the request's (answered 504 by ``fail(_:)``), or the attempt's
    /// (retried, or answered 504).
    func handleScheduledCallback(eventLoop: some EventLoop) {
        guard exchange != nil, let routed, let context else { return }
        let now = forwarding.clock.now()
        switch retries.expired(now: now, routed: routed) {
        case .request(let timeout)?:
            fail(ProxyError(code: .requestTimeout, detail: "no response within the request timeout of \(timeout)"))
            return
        case .attempt(let timeout)?:
            if exchange?.responseStarted == false, !retry(.lost(timedOut: true)) {
                fail(ProxyError(code: .attemptTimeout, detail: "no response within the attempt timeout of \(timeout)"))
                return
            }
        case nil:
            break
        }
        retries.arm(now: now, on: context.eventLoop, handler: self)
    }

    /// A response head of the current attempt: true when the attempt is given up for another
    /// (its connection closed, the head dropped).
    func retriesResponse(_ head: HTTPResponseHead) -> Bool {
        let grpcStatus = head.headers.first(name: "grpc-status").flatMap { Int($0) }
        return retry(.answered(status: Int(head.status.code), grpcStatus: grpcStatus))
    }

    /// Decides the current attempt's failure: true when the request is sent again after the
    /// backoff.
    func retry(_ failure: RetryState<HTTPClientRequestPart>.Failure) -> Bool {
        guard let discovery = forwarding.discovery, let context else { return false }
        let now = forwarding.clock.now()
        guard let delay = retries.decide(failure, discovery: discovery, routed: routed, now: now), let attempts = retries.attempts else {
            return false
        }
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
        return true
    }

    /// Ends the request's retries and timers (the exchange is over).
    func stopAttempts() {
        retries.stop(on: context?.eventLoop)
    }
}
