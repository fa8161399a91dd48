import Synchronization

/// A fixed-bucket histogram updated without locks.
public final class Histogram: Sendable {
    /// Linkerd's `response_latency_ms` bounds.
    public static let latencyMillisecondBounds: [Double] = [
        1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500,
        1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000,
    ]

    let bounds: [Double]
    private let buckets: [Counter]
    private let count = Atomic<UInt64>(0)
    /// The sum, in thousandths of the unit, so it can be an integer atomic.
    private let milliSum = Atomic<UInt64>(0)

    public init(bounds: [Double]) {
        self.bounds = bounds
        buckets = bounds.map { _ in Counter() }
    }

    public func observe(_ value: Double) {
        if let index = bounds.firstIndex(where: { value <= $0 }) {
            buckets[index].increment()
        }
        count.wrappingAdd(1, ordering: .relaxed)
        milliSum.wrappingAdd(UInt64(max(0, value) * 1000), ordering: .relaxed)
    }

    /// Cumulative `le` counts, then `+Inf` (the total), the sum and the count.
    func snapshot() -> (cumulative: [UInt64], sum: Double, count: UInt64) {
        var running: UInt64 = 0
        var cumulative: [UInt64] = []
        for bucket in buckets {
            running += bucket.current
            cumulative.append(running)
        }
        return (cumulative, Double(milliSum.load(ordering: .relaxed)) / 1000, count.load(ordering: .relaxed))
    }
}
