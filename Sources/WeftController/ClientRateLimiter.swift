/// A token bucket per client: `burst` requests at once, then `perSecond`. Value type over an
/// injected clock; the service keeps it behind a lock.
public struct ClientRateLimiter: Sendable {
    /// Buckets kept at most; when full, the stalest are forgotten (they were full anyway).
    public static let maximumClients = 10_000

    public let burst: Double
    public let perSecond: Double
    private var buckets: [String: (tokens: Double, updated: Double)] = [:]

    /// The defaults let a whole machine of proxies start at once (they all certify from one
    /// address in standalone mode) while a flood from one client is cut to a trickle.
    public init(burst: Double = 50, perSecond: Double = 10) {
        self.burst = burst
        self.perSecond = perSecond
    }

    /// Takes one token for `client` at time `now` (seconds, monotonic); false when it has none.
    public mutating func allow(_ client: String, now: Double) -> Bool {
        var bucket = buckets[client] ?? (burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * perSecond)
        bucket.updated = now
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        if buckets[client] == nil, buckets.count >= Self.maximumClients { forgetFull(now: now) }
        buckets[client] = bucket
        return allowed
    }

    private mutating func forgetFull(now: Double) {
        buckets = buckets.filter { $0.value.tokens + (now - $0.value.updated) * perSecond < burst }
        if buckets.count >= Self.maximumClients { buckets.removeAll() }
    }
}
