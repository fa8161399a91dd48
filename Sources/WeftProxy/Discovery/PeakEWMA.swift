import Foundation

/// Peak-EWMA latency estimate (linkerd-compat §2.8): a slower response than the estimate is
/// taken at once, a faster one pulls the estimate down exponentially with the time since the
/// last observation (time constant `decay`). Pure value; times are nanoseconds.
struct PeakEWMA: Sendable, Equatable {
    private(set) var estimateNanoseconds: Double
    private var stamp: UInt64
    let decayNanoseconds: Double

    init(defaultRTT: Duration = .milliseconds(30), decay: Duration = .seconds(10), now: UInt64) {
        estimateNanoseconds = Double(defaultRTT.components.seconds) * 1e9 + Double(defaultRTT.components.attoseconds) / 1e9
        decayNanoseconds = Double(decay.components.seconds) * 1e9 + Double(decay.components.attoseconds) / 1e9
        stamp = now
    }

    mutating func observe(rttNanoseconds rtt: Double, now: UInt64) {
        let elapsed = Double(now &- stamp)
        stamp = max(stamp, now)
        if rtt > estimateNanoseconds {
            estimateNanoseconds = rtt
        } else {
            let weight = exp(-elapsed / decayNanoseconds)
            estimateNanoseconds = estimateNanoseconds * weight + rtt * (1 - weight)
        }
    }

    /// The load of an endpoint with this estimate and `inFlight` requests outstanding.
    func cost(inFlight: Int) -> Double {
        estimateNanoseconds * Double(inFlight + 1)
    }
}
