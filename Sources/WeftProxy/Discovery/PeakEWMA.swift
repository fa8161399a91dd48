import Foundation

/// Peak-EWMA latency estimate (linkerd-compat §2.8), as tower's balancer that Linkerd uses keeps
/// it: the estimate decays toward zero with the time since it was last updated (time constant
/// `decay`), so an endpoint that is not chosen becomes cheap again; a response slower than the
/// decayed estimate is taken at once (the peak), a faster one is blended in by recency. Pure
/// value; times are nanoseconds.
struct PeakEWMA: Sendable, Equatable {
    private(set) var estimateNanoseconds: Double
    private var stamp: UInt64
    let decayNanoseconds: Double

    init(defaultRTT: Duration = .milliseconds(30), decay: Duration = .seconds(10), now: UInt64) {
        estimateNanoseconds = Double(defaultRTT.components.seconds) * 1e9 + Double(defaultRTT.components.attoseconds) / 1e9
        decayNanoseconds = Double(decay.components.seconds) * 1e9 + Double(decay.components.attoseconds) / 1e9
        stamp = now
    }

    /// The estimate at `now`, decayed since the last update.
    func estimate(at now: UInt64) -> Double {
        guard now > stamp else { return estimateNanoseconds }
        return estimateNanoseconds * exp(-Double(now - stamp) / decayNanoseconds)
    }

    mutating func observe(rttNanoseconds rtt: Double, now: UInt64) {
        let weight = now > stamp ? exp(-Double(now - stamp) / decayNanoseconds) : 1
        let decayed = estimateNanoseconds * weight
        estimateNanoseconds = rtt > decayed ? rtt : decayed + rtt * (1 - weight)
        stamp = max(stamp, now)
    }

    /// The load of an endpoint with this estimate and `inFlight` requests outstanding.
    func cost(inFlight: Int, now: UInt64) -> Double {
        estimate(at: now) * Double(inFlight + 1)
    }
}
