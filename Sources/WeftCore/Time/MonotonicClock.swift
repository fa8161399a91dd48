import NIOCore

/// Where the data path reads the time: monotonic nanoseconds (the clock `NIODeadline` uses).
/// Injected so that tests can drive time by hand (`WeftTesting.ManualClock`); the proxy runs on
/// ``system``.
public struct MonotonicClock: Sendable {
    @usableFromInline
    let read: @Sendable () -> UInt64

    /// A clock reading `read`, which must never go backwards.
    public init(_ read: @escaping @Sendable () -> UInt64) {
        self.read = read
    }

    /// The system's monotonic clock.
    public static let system = MonotonicClock { NIODeadline.now().uptimeNanoseconds }

    /// Monotonic nanoseconds now.
    @inlinable
    public func now() -> UInt64 { read() }

    /// The same instant as an `NIODeadline`, for scheduling on an event loop.
    public func deadline() -> NIODeadline { .uptimeNanoseconds(read()) }
}
