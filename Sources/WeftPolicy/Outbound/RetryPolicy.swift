/// When a rule's requests are tried again, and how long to wait between tries (Linkerd 2.16's
/// route retries, the proxy API's `HttpRoute.Retry`/`GrpcRoute.Retry`). Pure: the proxy asks it
/// about each response and each failure.
///
/// The rule against double execution: a request is tried again only when nothing of the response
/// reached the client, its whole body is at hand (at most ``maximumRequestBytes``), the limit is
/// not spent, and either the target answered with a status the conditions name (it answered, so
/// it saw the request and chose to fail it), or the attempt failed after the request went out —
/// a lost connection or the attempt's own timeout — and the request is idempotent (RFC 9110
/// §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE) or the rule set a per-attempt timeout
/// (the route says explicitly that timed-out attempts are retried).
public struct RetryPolicy: Sendable, Equatable {
    /// The responses that are retried.
    public enum Conditions: Sendable, Equatable {
        /// HTTP statuses.
        case http([ClosedRange<UInt16>])
        /// gRPC status codes, as a bit set (bit `n` is code `n`).
        case grpc(codes: UInt32)
        /// A ServiceProfile route's response classes: what they call a failure.
        case responseClasses([ProfileRoutes.ResponseClass])
    }

    /// Retries per request (not counting the first attempt).
    public var limit: UInt32
    public var conditions: Conditions
    /// Each attempt's timeout; an attempt that runs out is abandoned and may be retried.
    public var perAttemptTimeout: Duration?
    /// Requests with longer bodies are sent once.
    public var maximumRequestBytes: Int
    /// The first wait and the longest; each retry waits twice the previous, jittered.
    public var minimumBackoff: Duration
    public var maximumBackoff: Duration

    /// Linkerd's body limit for retries.
    public static let defaultMaximumRequestBytes = 64 * 1024
    /// The most retries a policy may ask for.
    public static let maximumLimit: UInt32 = 10

    public init(limit: UInt32, conditions: Conditions, perAttemptTimeout: Duration? = nil,
                maximumRequestBytes: Int = RetryPolicy.defaultMaximumRequestBytes,
                minimumBackoff: Duration = .milliseconds(25), maximumBackoff: Duration = .milliseconds(250)) {
        self.limit = limit
        self.conditions = conditions
        self.perAttemptTimeout = perAttemptTimeout
        self.maximumRequestBytes = maximumRequestBytes
        self.minimumBackoff = minimumBackoff
        self.maximumBackoff = maximumBackoff
    }

    /// The gRPC codes as a bit set.
    public static func grpcCodes(_ codes: some Sequence<UInt8>) -> UInt32 {
        codes.reduce(0) { $0 | (1 << UInt32($1 & 31)) }
    }

    /// Whether a response with `status` (and, for gRPC, `grpcStatus` from its head or a
    /// trailers-only response) is one the conditions retry.
    public func retries(status: Int, grpcStatus: Int?) -> Bool {
        switch conditions {
        case .http(let ranges):
            guard let code = UInt16(exactly: status) else { return false }
            return ranges.contains { $0.contains(code) }
        case .grpc(let codes):
            guard let grpcStatus, (0..<32).contains(grpcStatus) else { return false }
            return codes & (1 << UInt32(grpcStatus)) != 0
        case .responseClasses(let classes):
            return ProfileRoutes.ResponseClass.failed(classes, status: status, grpcStatus: grpcStatus)
        }
    }

    /// Whether an attempt that failed after the request went out (no response head, or its own
    /// timeout) may be tried again, for a request with `method`.
    public func retriesLostAttempt(method: String, timedOut: Bool) -> Bool {
        Self.isIdempotent(method) || (timedOut && perAttemptTimeout != nil)
    }

    /// RFC 9110's idempotent methods.
    public static func isIdempotent(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE": true
        default: false
        }
    }

    /// How long to wait before retry number `retry` (1 for the first): the minimum doubled per
    /// retry up to the maximum, then drawn uniformly from its upper half.
    public func backoff(retry: UInt32, using random: inout some RandomNumberGenerator) -> Duration {
        let minimum = max(Self.nanoseconds(minimumBackoff), 0)
        let maximum = max(Self.nanoseconds(maximumBackoff), minimum)
        let shift = min(retry == 0 ? 0 : retry - 1, 20)
        let base = min(minimum << Int64(shift), maximum)
        guard base > 1 else { return .nanoseconds(base) }
        return .nanoseconds(Int64.random(in: (base / 2)...base, using: &random))
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow ? .max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
