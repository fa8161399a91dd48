/// Failure accrual (Linkerd's consecutive-failures circuit breaker): after
/// `maximumFailures` failed responses in a row an endpoint is ejected for a penalty (the
/// minimum, doubled on each ejection in a row up to the maximum, plus up to `jitterRatio` of it
/// at random); when the penalty ends it is on probation: the balancer gives it one request and
/// no other until that one ends — a success restores it, a failure ejects it again.
extension EndpointLoad {
    /// Whether the balancer must leave the endpoint out at `now`: ejected, or on probation with
    /// its deciding request still out.
    public func isEjected(now: UInt64) -> Bool {
        ejectedUntil > now || (onProbation && inFlight > 0)
    }

    /// Records a response's outcome under `accrual`; returns true when the endpoint's ejection
    /// changed (ejected, or restored after probation).
    public mutating func accrue(failed: Bool, now: UInt64, accrual: ClientPolicy.FailureAccrual,
                                using random: inout some RandomNumberGenerator) -> Bool {
        guard failed else {
            let restored = onProbation
            consecutiveFailures = 0
            onProbation = false
            penalty = 0
            return restored
        }
        consecutiveFailures &+= 1
        guard onProbation || consecutiveFailures >= max(accrual.maximumFailures, 1) else { return false }
        let minimum = UInt64(min(max(accrual.minimumPenalty.nanoseconds, 1), 3.6e12).rounded())
        let maximum = max(UInt64(min(max(accrual.maximumPenalty.nanoseconds, 0), 3.6e12).rounded()), minimum)
        penalty = penalty == 0 ? minimum : min(penalty * 2, maximum)
        let jitter = UInt64(Double(penalty) * min(max(accrual.jitterRatio, 0), 1) * Double.random(in: 0..<1, using: &random))
        ejectedUntil = now + penalty + jitter
        onProbation = true
        consecutiveFailures = 0
        return true
    }

    /// Forgets an ejection (the service's accrual was turned off).
    public mutating func clearAccrual() {
        consecutiveFailures = 0
        ejectedUntil = 0
        onProbation = false
        penalty = 0
    }
}
