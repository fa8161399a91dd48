/// A ServiceProfile's retry budget (Linkerd 2.15's `retryBudget`): retries may add at most
/// `ratio` of the requests made within the last `ttl`, plus `minimumPerSecond` per second of it,
/// so that a failing service sees at most `(1 + ratio) ×` its requests plus `minimumPerSecond`
/// per second (averaged over the window). Counted in one-second buckets over the window (at most
/// 60); a value, kept on the proxy's event loop.
public struct RetryBudget: Sendable {
    /// The profile's `retryBudget`.
    public struct Settings: Sendable, Equatable {
        public var ratio: Double
        public var minimumPerSecond: UInt32
        public var ttl: Duration

        /// Linkerd's defaults: 20 %, 10 per second, over 10 s.
        public static let linkerdDefault = Settings(ratio: 0.2, minimumPerSecond: 10, ttl: .seconds(10))

        public init(ratio: Double, minimumPerSecond: UInt32, ttl: Duration) {
            self.ratio = ratio
            self.minimumPerSecond = minimumPerSecond
            self.ttl = ttl
        }
    }

    public let settings: Settings
    private var requests: [UInt32]
    private var retries: [UInt32]
    /// The second (of the monotonic clock) the newest bucket counts.
    private var current: UInt64 = 0

    public init(_ settings: Settings) {
        self.settings = settings
        let seconds = Int(min(max(settings.ttl.components.seconds, 1), 60))
        requests = Array(repeating: 0, count: seconds)
        retries = Array(repeating: 0, count: seconds)
    }

    /// A request was made at `now` (monotonic nanoseconds).
    public mutating func deposit(now: UInt64) {
        let index = advance(to: now)
        requests[index] &+= 1
    }

    /// Whether a retry may be made at `now`; if so it is counted.
    public mutating func withdraw(now: UInt64) -> Bool {
        let index = advance(to: now)
        let made = requests.reduce(0) { $0 + Double($1) }
        let spent = retries.reduce(0) { $0 + Double($1) }
        let allowed = settings.ratio * made + Double(settings.minimumPerSecond) * Double(retries.count)
        guard spent + 1 <= allowed else { return false }
        retries[index] &+= 1
        return true
    }

    /// Clears the buckets that fell out of the window and returns the index of `now`'s bucket.
    private mutating func advance(to now: UInt64) -> Int {
        let second = now / 1_000_000_000
        let count = UInt64(requests.count)
        if second > current {
            let stale = min(second - current, count)
            for step in 1...stale {
                let index = Int((current + step) % count)
                requests[index] = 0
                retries[index] = 0
            }
            current = second
        }
        return Int(current % count)
    }
}
