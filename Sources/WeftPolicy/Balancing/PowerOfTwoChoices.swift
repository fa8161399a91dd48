/// The endpoint choice: power of two choices over Peak-EWMA (linkerd-compat §2.8), with two
/// fairness rules of Weft's own so that equal replicas share load evenly and none starves:
///
/// 1. **Probe the forgotten.** An endpoint that has not been given a request for `probeAfter`
///    (or ever: a new endpoint) takes the next one. Its answer then replaces its stale estimate
///    (see ``EndpointLoad/picked(now:staleAfter:)``), so one slow answer long ago, or the 30 ms
///    default of a cold endpoint, keeps nobody out for more than `probeAfter`.
/// 2. **Near-equal is equal.** Of the two endpoints drawn, the cheaper wins as in Linkerd, unless
///    their costs are within `tieRatio` of each other: then the winner is drawn at random. With
///    two endpoints P2C compares the same pair every time, and without this rule the slightly
///    cheaper replica would take every request.
///
/// Endpoints backing off after a connect failure are left out while others remain; endpoints
/// ejected by failure accrual are always left out (none at all: nil). Pure and
/// allocation-free; randomness and time are passed in.
public struct PowerOfTwoChoices: Sendable, Equatable {
    public var probeAfterNanoseconds: UInt64
    public var tieRatio: Double

    public init(probeAfter: Duration = .seconds(1), tieRatio: Double = 1.25) {
        probeAfterNanoseconds = UInt64(probeAfter.nanoseconds)
        self.tieRatio = tieRatio
    }

    /// The index of the endpoint for the next request among `count`, or nil when none may take
    /// it. `load(i)` is endpoint `i`'s load, or nil for one that may not be chosen (the endpoint
    /// a failed attempt just left).
    public func choose<R: RandomNumberGenerator>(count: Int, now: UInt64, using random: inout R,
                                                 load: (Int) -> EndpointLoad?) -> Int? {
        var eligible = 0
        var available = 0
        var stalest: (index: Int, picked: UInt64)?
        for index in 0..<count {
            guard let endpoint = load(index), !endpoint.isEjected(now: now) else { continue }
            eligible += 1
            guard !endpoint.isBackingOff(now: now) else { continue }
            available += 1
            let picked = endpoint.lastPicked ?? 0
            if endpoint.lastPicked == nil || now &- picked >= probeAfterNanoseconds, now >= picked,
               stalest.map({ picked < $0.picked }) ?? true {
                stalest = (index, picked)
            }
        }
        if let stalest { return stalest.index }
        // Only when every endpoint is backing off are they tried anyway.
        let onlyAvailable = available > 0
        let candidates = onlyAvailable ? available : eligible
        func candidate(_ position: Int) -> (index: Int, load: EndpointLoad) {
            var seen = 0
            for index in 0..<count {
                guard let endpoint = load(index), !endpoint.isEjected(now: now), !onlyAvailable || !endpoint.isBackingOff(now: now) else { continue }
                if seen == position { return (index, endpoint) }
                seen += 1
            }
            preconditionFailure("candidate \(position) of \(candidates) not found")
        }
        switch candidates {
        case 0: return nil
        case 1: return candidate(0).index
        default:
            let first = Int.random(in: 0..<candidates, using: &random)
            var second = Int.random(in: 0..<(candidates - 1), using: &random)
            if second >= first { second += 1 }
            let a = candidate(first), b = candidate(second)
            let costA = a.load.cost(now: now), costB = b.load.cost(now: now)
            if max(costA, costB) <= min(costA, costB) * tieRatio {
                return Bool.random(using: &random) ? a.index : b.index
            }
            return costA <= costB ? a.index : b.index
        }
    }
}
