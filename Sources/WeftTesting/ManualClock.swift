import Synchronization
import WeftCore

/// A clock that moves only when a test says so: hand its ``clock`` to the code under test, then
/// ``advance(by:)``. Starts at 1 s so that "never" (0) stays in the past.
public final class ManualClock: Sendable {
    private let nanoseconds: Mutex<UInt64>

    public init(startingAt start: UInt64 = 1_000_000_000) {
        nanoseconds = Mutex(start)
    }

    /// Monotonic nanoseconds now.
    public var now: UInt64 { nanoseconds.withLock { $0 } }

    /// Moves time forward.
    public func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        precondition(seconds >= 0 && attoseconds >= 0, "a manual clock only moves forward")
        nanoseconds.withLock { $0 += UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000) }
    }

    /// The clock to inject where the code under test reads the time.
    public var clock: MonotonicClock {
        MonotonicClock { [self] in now }
    }
}
