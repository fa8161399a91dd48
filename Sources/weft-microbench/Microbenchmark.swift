/// One operation of the data path run many times, and the allocations it makes per run.
///
/// `prepare` builds whatever the operation needs (buffers, loads, distributions) and returns the
/// operation itself; only the operation's runs are counted. Results are counts, not times, so
/// they are the same on any machine and can be checked in CI.
struct Microbenchmark {
    let name: String
    let prepare: () -> () -> Void

    /// Allocations per run of the operation: `warmUp` runs first (caches, first-use
    /// initialisation), then `runs` counted ones.
    func allocationsPerRun(counter: AllocationCounter, warmUp: Int = 1_000, runs: Int = 10_000) -> Double {
        let operation = prepare()
        for _ in 0..<warmUp { operation() }
        let before = counter.count
        for _ in 0..<runs { operation() }
        return Double(counter.count - before) / Double(runs)
    }

    /// Nanoseconds per run of the operation, over `runs` runs after `warmUp`.
    func nanosecondsPerRun(warmUp: Int = 10_000, runs: Int = 200_000) -> Int {
        let operation = prepare()
        for _ in 0..<warmUp { operation() }
        let start = ContinuousClock.now
        for _ in 0..<runs { operation() }
        let elapsed = ContinuousClock.now - start
        return Int((elapsed / runs).components.attoseconds / 1_000_000_000)
    }
}
