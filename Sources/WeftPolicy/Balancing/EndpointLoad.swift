/// What the balancer knows of one endpoint: its Peak-EWMA latency estimate, its outstanding
/// requests, when it was last picked, and whether a recent connect failure puts it aside. A
/// value; times are monotonic nanoseconds passed in by the caller.
public struct EndpointLoad: Sendable, Equatable {
    public private(set) var ewma: PeakEWMA
    public private(set) var inFlight = 0
    /// When the balancer last gave this endpoint a request; `nil` before the first, so that a
    /// new endpoint is tried at once.
    public private(set) var lastPicked: UInt64?
    /// The last pick was a probe (the endpoint had not been picked for a while): the next
    /// answer replaces the estimate instead of blending into it.
    public private(set) var probing = false
    /// Connect failures put the endpoint aside until then (250 ms, doubling up to 5 s).
    public private(set) var unavailableUntil: UInt64 = 0
    private var failureBackoff: UInt64 = 0
    /// Failure accrual: failures in a row, and an ejection they caused (the endpoint gets no
    /// request until then; the first one after it is on probation and decides alone).
    public internal(set) var consecutiveFailures: UInt32 = 0
    public internal(set) var ejectedUntil: UInt64 = 0
    public internal(set) var onProbation = false
    var penalty: UInt64 = 0

    public init(now: UInt64) {
        ewma = PeakEWMA(now: now)
    }

    /// The balancer's cost at `now`: the decayed estimate times (outstanding requests + 1).
    public func cost(now: UInt64) -> Double {
        ewma.cost(inFlight: inFlight, now: now)
    }

    /// Whether a recent connect failure keeps the endpoint aside at `now`.
    public func isBackingOff(now: UInt64) -> Bool {
        unavailableUntil > now
    }

    /// The balancer gave this endpoint a request. When it had not given it one for `staleAfter`
    /// (or ever), this request is a probe: its answer replaces the estimate rather than blending
    /// in, so a single slow answer long ago does not keep an endpoint out.
    public mutating func picked(now: UInt64, staleAfter: UInt64) {
        if let lastPicked, now >= lastPicked, now - lastPicked < staleAfter {
            // A regular pick; a probe still awaiting its answer stays one.
        } else {
            probing = true
        }
        inFlight += 1
        lastPicked = now
    }

    /// How a failed response counts in the latency estimate, at least: an endpoint that fails
    /// fast must not look faster than one that answers (Weft's rule; Linkerd's Peak-EWMA
    /// measures failures like successes).
    public static let failurePenaltyNanoseconds: UInt64 = 100_000_000

    /// A request ended; `rtt` is the time from sending it on a ready connection to the end of
    /// its response (connection set-up is not the endpoint's latency). A `failed` response counts
    /// as at least ``failurePenaltyNanoseconds``.
    public mutating func finished(rttNanoseconds measured: UInt64, now: UInt64, failed: Bool = false) {
        inFlight = max(0, inFlight - 1)
        let rtt = failed ? max(measured, Self.failurePenaltyNanoseconds) : measured
        if probing {
            probing = false
            ewma.reset(rttNanoseconds: Double(rtt), now: now)
        } else {
            ewma.observe(rttNanoseconds: Double(rtt), now: now)
        }
    }

    /// A request given to this endpoint went elsewhere before it was sent (its connect failed),
    /// or ended without a response worth measuring.
    public mutating func abandoned() {
        inFlight = max(0, inFlight - 1)
    }

    /// A connection attempt failed: the endpoint is avoided for a while.
    public mutating func connectFailed(now: UInt64) {
        failureBackoff = failureBackoff == 0 ? 250_000_000 : min(failureBackoff * 2, 5_000_000_000)
        unavailableUntil = now + failureBackoff
    }

    /// A connection succeeded: the endpoint is trusted again.
    public mutating func connected() {
        failureBackoff = 0
        unavailableUntil = 0
    }
}
