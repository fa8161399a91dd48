#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Peak-EWMA latency estimate (linkerd-compat §2.8), as tower's balancer that Linkerd uses keeps
/// it: the estimate decays toward zero with the time since it was last updated (time constant
/// `decay`), so an endpoint that is not chosen becomes cheap again; a response slower than the
/// decayed estimate is taken at once (the peak), a faster one is blended in by recency. Pure
/// value; times are monotonic nanoseconds passed in by the caller.
public struct PeakEWMA: Sendable, Equatable {
    public private(set) var estimateNanoseconds: Double
    /// When the estimate was last updated.
    public private(set) var stamp: UInt64
    public let decayNanoseconds: Double

    /// Linkerd's defaults: 30 ms before the first response, a 10 s decay.
    public init(defaultRTT: Duration = .milliseconds(30), decay: Duration = .seconds(10), now: UInt64) {
        estimateNanoseconds = defaultRTT.nanoseconds
        decayNanoseconds = decay.nanoseconds
        stamp = now
    }

    /// The estimate at `now`, decayed since the last update.
    public func estimate(at now: UInt64) -> Double {
        guard now > stamp else { return estimateNanoseconds }
        return estimateNanoseconds * exp(-Double(now - stamp) / decayNanoseconds)
    }

    /// Takes a response's round-trip time into the estimate.
    public mutating func observe(rttNanoseconds rtt: Double, now: UInt64) {
        let weight = now > stamp ? exp(-Double(now - stamp) / decayNanoseconds) : 1
        let decayed = estimateNanoseconds * weight
        estimateNanoseconds = rtt > decayed ? rtt : decayed + rtt * (1 - weight)
        stamp = max(stamp, now)
    }

    /// Replaces the estimate with a fresh measurement (what was known before is too old to blend).
    public mutating func reset(rttNanoseconds rtt: Double, now: UInt64) {
        estimateNanoseconds = rtt
        stamp = max(stamp, now)
    }

    /// The load of an endpoint with this estimate and `inFlight` requests outstanding.
    public func cost(inFlight: Int, now: UInt64) -> Double {
        estimate(at: now) * Double(inFlight + 1)
    }
}

extension Duration {
    /// The duration in nanoseconds, as a floating-point number.
    var nanoseconds: Double {
        Double(components.seconds) * 1e9 + Double(components.attoseconds) / 1e9
    }
}
