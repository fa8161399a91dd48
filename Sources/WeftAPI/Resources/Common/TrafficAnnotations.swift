/// Linkerd 2.16's retry and timeout annotations, read from a Service (the defaults for its
/// routes), an HTTPRoute or a GRPCRoute:
/// `retry.linkerd.io/http` (`5xx`, `gateway-error`, `504`, `500-504`, comma-separated),
/// `retry.linkerd.io/grpc` (`cancelled`, `deadline-exceeded`, `internal`, `resource-exhausted`,
/// `unavailable`), `retry.linkerd.io/limit` (default 1), `retry.linkerd.io/timeout` (per attempt),
/// `timeout.linkerd.io/request`, `/response`, `/idle`. Durations need a unit (`300ms`, `5s`).
public struct TrafficAnnotations: Sendable, Equatable {
    /// The retry annotations, when any is present.
    public struct Retry: Sendable, Equatable {
        /// The HTTP statuses to retry.
        public var httpStatuses: [ClosedRange<UInt16>] = []
        /// The gRPC status codes to retry.
        public var grpcCodes: [UInt8] = []
        public var limit: UInt32 = 1
        /// Each attempt's timeout; a timed-out attempt is retried.
        public var timeout: GoDuration?

        public init() {}
    }

    public var retry: Retry?
    public var requestTimeout: GoDuration?
    public var responseTimeout: GoDuration?
    public var idleTimeout: GoDuration?

    /// No annotations.
    public init() {}

    /// The longest retry limit accepted: a limit bounds how many times one request may reach a
    /// backend, and beyond this it would only amplify an outage.
    public static let maximumLimit: UInt32 = 10
    /// The gRPC statuses Linkerd retries by name, with their codes.
    public static let grpcCodeNames: [(String, UInt8)] = [
        ("cancelled", 1), ("deadline-exceeded", 4), ("resource-exhausted", 8), ("internal", 13), ("unavailable", 14),
    ]

    static let httpKey = "retry.linkerd.io/http"
    static let grpcKey = "retry.linkerd.io/grpc"
    static let limitKey = "retry.linkerd.io/limit"
    static let retryTimeoutKey = "retry.linkerd.io/timeout"
    static let timeoutKeys = ["timeout.linkerd.io/request", "timeout.linkerd.io/response", "timeout.linkerd.io/idle"]

    /// Reads `annotations`; every value that is not valid is reported with its key and left out.
    public static func read(_ annotations: [String: String]?) -> (TrafficAnnotations, [(key: String, problem: String)]) {
        var result = TrafficAnnotations()
        var problems: [(key: String, problem: String)] = []
        let annotations = annotations ?? [:]
        var retry = Retry()
        var retrySet = false
        if let value = annotations[httpKey] {
            retrySet = true
            switch httpStatuses(value) {
            case .success(let ranges): retry.httpStatuses = ranges
            case .failure(let problem): problems.append((httpKey, problem.message))
            }
        }
        if let value = annotations[grpcKey] {
            retrySet = true
            switch grpcCodes(value) {
            case .success(let codes): retry.grpcCodes = codes
            case .failure(let problem): problems.append((grpcKey, problem.message))
            }
        }
        if let value = annotations[limitKey] {
            retrySet = true
            if let limit = UInt32(value), limit <= maximumLimit {
                retry.limit = limit
            } else {
                problems.append((limitKey, "\"\(value)\" must be a whole number from 0 to \(maximumLimit)"))
            }
        }
        if let value = annotations[retryTimeoutKey] {
            retrySet = true
            switch duration(value) {
            case .success(let timeout): retry.timeout = timeout
            case .failure(let problem): problems.append((retryTimeoutKey, problem.message))
            }
        }
        if retrySet { result.retry = retry }
        for (index, key) in timeoutKeys.enumerated() {
            guard let value = annotations[key] else { continue }
            switch duration(value) {
            case .success(let timeout):
                switch index {
                case 0: result.requestTimeout = timeout
                case 1: result.responseTimeout = timeout
                default: result.idleTimeout = timeout
                }
            case .failure(let problem): problems.append((key, problem.message))
            }
        }
        return (result, problems)
    }

    /// Reports every invalid annotation under `metadata.annotations`, and an HTTP condition on a
    /// GRPCRoute or a gRPC one on an HTTPRoute (Linkerd ignores those; Weft says so).
    public static func validate(_ metadata: ObjectMeta, kind: String, into v: inout Validation) {
        let path = FieldPath.root / "metadata" / "annotations"
        for (key, problem) in read(metadata.annotations).1 { v.fail(path / key, problem) }
        if kind == Service.kind {
            for (key, problem) in FailureAccrualAnnotations.read(metadata.annotations).1 { v.fail(path / key, problem) }
        }
        let annotations = metadata.annotations ?? [:]
        if kind == GRPCRoute.kind, annotations[httpKey] != nil {
            v.fail(path / httpKey, "is for HTTPRoutes and Services; a GRPCRoute takes \(grpcKey)")
        }
        if kind == HTTPRoute.kind, annotations[grpcKey] != nil {
            v.fail(path / grpcKey, "is for GRPCRoutes and Services; an HTTPRoute takes \(httpKey)")
        }
    }

    struct Problem: Error {
        let message: String
    }

    static func httpStatuses(_ value: String) -> Result<[ClosedRange<UInt16>], Problem> {
        var ranges: [ClosedRange<UInt16>] = []
        for item in value.split(separator: ",", omittingEmptySubsequences: false) {
            let item = item.trimmingSpaces.lowercased()
            switch item {
            case "5xx": ranges.append(500...599)
            case "gateway-error": ranges.append(502...504)
            default:
                let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
                let numbers = bounds.compactMap { UInt16($0) }.filter { (100...599).contains($0) }
                guard numbers.count == bounds.count, (1...2).contains(numbers.count), numbers[0] <= numbers[numbers.count - 1] else {
                    return .failure(Problem(message: "\"\(item)\" in \"\(value)\" must be 5xx, gateway-error, a status (100–599) or a range like 500-504"))
                }
                ranges.append(numbers[0]...numbers[numbers.count - 1])
            }
        }
        return .success(ranges)
    }

    static func grpcCodes(_ value: String) -> Result<[UInt8], Problem> {
        var codes: [UInt8] = []
        for item in value.split(separator: ",", omittingEmptySubsequences: false) {
            let name = item.trimmingSpaces.lowercased()
            guard let code = grpcCodeNames.first(where: { $0.0 == name })?.1 else {
                let names = grpcCodeNames.map(\.0).joined(separator: ", ")
                return .failure(Problem(message: "\"\(name)\" in \"\(value)\" is not a gRPC status Linkerd retries (\(names))"))
            }
            if !codes.contains(code) { codes.append(code) }
        }
        return .success(codes)
    }

    static func duration(_ value: String) -> Result<GoDuration, Problem> {
        switch GoDuration.parse(value) {
        case .success(let duration) where duration.nanoseconds > 0 && duration.nanoseconds <= 86_400 * 1_000_000_000:
            return .success(duration)
        case .success:
            return .failure(Problem(message: "\"\(value)\" must be longer than 0 and at most 24h"))
        case .failure(let error):
            return .failure(Problem(message: "\(error.message) (e.g. 300ms or 5s)"))
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
