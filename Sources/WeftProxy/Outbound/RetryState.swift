import NIOCore
import WeftPolicy

/// One request's retries and deadlines, as the HTTP/1 forwarder and the HTTP/2 relay keep them
/// (each does only what its protocol needs: holding parts, resetting a stream, answering). A
/// value: the request's ``RequestAttempts``, its deadline and its current attempt's (monotonic
/// nanoseconds), and the one scheduled callback that watches the earlier of the two.
struct RetryState<Part> {
    /// Kept while the rule retries and nothing of the response went to the client.
    private(set) var attempts: RequestAttempts<Part>?
    private var requestDeadline: UInt64?
    private var attemptDeadline: UInt64?
    private var callback: NIOScheduledCallback?

    /// Which deadline passed.
    enum Expiry {
        case request(Duration)
        case attempt(Duration)
    }

    /// A new attempt under `routed` (the route stage chose it): on the first, the request's
    /// `parts` start being kept (`original` first: the head as the client sent it) and the
    /// request's deadline is set from `requestStart`; every attempt gets its own deadline.
    mutating func start(routed: RoutedRequest, original: Part, parts: [Part], method: String, requestStart: UInt64, now: UInt64,
                        measure: (Part) -> (bytes: Int, ends: Bool)) {
        if attempts == nil, let retry = routed.retry {
            attempts = RequestAttempts(policy: retry, method: method, parts: parts, first: original, measure: measure)
        }
        if requestDeadline == nil, let timeout = routed.timeouts?.request {
            requestDeadline = requestStart &+ RequestDeadlines.nanoseconds(timeout)
        }
        attemptDeadline = attempts?.policy.perAttemptTimeout.map { now &+ RequestDeadlines.nanoseconds($0) }
    }

    /// Keeps a part of the request that went on (or waits) after the route stage.
    mutating func keep(_ part: Part, _ measured: (bytes: Int, ends: Bool)) {
        attempts?.keep(part, measured)
    }

    /// Watches the earlier deadline with one callback to `handler` (cancelling the one before).
    mutating func arm(now: UInt64, on eventLoop: EventLoop, handler: some NIOScheduledCallbackHandler) {
        cancel(on: eventLoop)
        guard let next = RequestDeadlines.earlier(requestDeadline, attemptDeadline) else { return }
        callback = try? eventLoop.assumeIsolated().scheduleCallback(in: RequestDeadlines.delay(until: next, now: now), handler: handler)
    }

    /// The callback fired at `now`: the deadline that passed (the attempt's is then forgotten),
    /// or nil when none did.
    mutating func expired(now: UInt64, routed: RoutedRequest) -> Expiry? {
        callback = nil
        if let deadline = requestDeadline, now >= deadline { return .request(routed.timeouts?.request ?? .zero) }
        if let deadline = attemptDeadline, now >= deadline {
            attemptDeadline = nil
            return .attempt(attempts?.policy.perAttemptTimeout ?? .zero)
        }
        return nil
    }

    /// What ended the current attempt.
    enum Failure {
        /// A response head with this status (and gRPC status, from its head or its trailers).
        case answered(status: Int, grpcStatus: Int?)
        /// Lost after the request went out: its connection or stream closed, or it timed out.
        case lost(timedOut: Bool)
        /// Nothing of it was sent.
        case unsent
    }

    /// Decides an attempt's end with `discovery`'s random draws and counts it under `routed`:
    /// the wait before the next attempt, or nil (the response goes to the client as it is, and
    /// when it was answered, it is never retried from here).
    mutating func decide(_ failure: Failure, discovery: LoopDiscovery, routed: RoutedRequest?, now: UInt64) -> Duration? {
        guard var attempts else { return nil }
        let decision: RequestAttempts<Part>.Decision
        switch failure {
        case .answered(let status, let grpcStatus): decision = discovery.decide(&attempts, status: status, grpcStatus: grpcStatus)
        case .lost(let timedOut): decision = discovery.decide(&attempts, status: nil, grpcStatus: nil, timedOut: timedOut)
        case .unsent: decision = discovery.decide(&attempts, status: nil, grpcStatus: nil, unsent: true)
        }
        self.attempts = attempts
        let counters = routed?.retryCounters
        switch decision {
        case .retry(let delay):
            // Under a profile, its budget must allow it too.
            if routed?.mayRetry(now: now) ?? true {
                counters?.requests.increment()
                attemptDeadline = nil
                return delay
            }
        case .deliver:
            if case .answered = failure, attempts.retries > 0 { counters?.successes.increment() }
        case .limitExceeded:
            counters?.limitExceeded.increment()
        case .overflow:
            counters?.overflow.increment()
        }
        if case .answered = failure { responseStarts() }
        return nil
    }

    /// The response starts on its way to the client: never retried from here (its attempt
    /// deadline goes; the request's stays).
    mutating func responseStarts() {
        attempts = nil
        attemptDeadline = nil
    }

    /// The request is over: retries and deadlines end.
    mutating func stop(on eventLoop: EventLoop?) {
        attempts = nil
        requestDeadline = nil
        attemptDeadline = nil
        if let eventLoop { cancel(on: eventLoop) }
        callback = nil
    }

    private mutating func cancel(on eventLoop: EventLoop) {
        if let callback { eventLoop.assumeIsolated().cancelScheduledCallback(callback) }
        callback = nil
    }
}
