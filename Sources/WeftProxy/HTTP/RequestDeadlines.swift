import NIOCore

/// Arithmetic of a request's deadlines (monotonic nanoseconds), shared by the HTTP/1 and HTTP/2
/// forwarders: each watches the earlier of its request's and its attempt's deadline with one
/// scheduled callback, so a request with timeouts costs one timer, not two.
enum RequestDeadlines {
    /// `duration` in whole nanoseconds (saturating; negative as 0).
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ UInt64(max(attoseconds, 0) / 1_000_000_000)
    }

    /// The earlier of two optional deadlines.
    static func earlier(_ a: UInt64?, _ b: UInt64?) -> UInt64? {
        switch (a, b) {
        case (let a?, let b?): min(a, b)
        case (let a?, nil): a
        case (nil, let b?): b
        case (nil, nil): nil
        }
    }

    /// How long from `now` until `deadline` (zero once it passed).
    static func delay(until deadline: UInt64, now: UInt64) -> TimeAmount {
        .nanoseconds(Int64(clamping: deadline > now ? deadline - now : 0))
    }
}
