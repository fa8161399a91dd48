/// Linkerd's failure-accrual annotations on a Service:
/// `balancer.linkerd.io/failure-accrual: consecutive` turns the circuit breaker on;
/// `…-consecutive-max-failures` (default 7), `…-consecutive-min-penalty` (1s),
/// `…-consecutive-max-penalty` (1m) and `…-consecutive-jitter-ratio` (0.5) tune it.
public struct FailureAccrualAnnotations: Sendable, Equatable {
    public var maximumFailures: UInt32 = 7
    public var minimumPenalty = GoDuration(nanoseconds: 1_000_000_000, text: "1s")
    public var maximumPenalty = GoDuration(nanoseconds: 60_000_000_000, text: "1m")
    public var jitterRatio = 0.5

    static let modeKey = "balancer.linkerd.io/failure-accrual"
    static let prefix = "balancer.linkerd.io/failure-accrual-consecutive-"

    /// The accrual the annotations ask for (nil: none), and every invalid value with its key.
    public static func read(_ annotations: [String: String]?) -> (FailureAccrualAnnotations?, [(key: String, problem: String)]) {
        let annotations = annotations ?? [:]
        var problems: [(key: String, problem: String)] = []
        var result = FailureAccrualAnnotations()
        if let value = annotations[prefix + "max-failures"] {
            if let failures = UInt32(value), (1...1_000).contains(failures) {
                result.maximumFailures = failures
            } else {
                problems.append((prefix + "max-failures", "\"\(value)\" must be a whole number from 1 to 1000"))
            }
        }
        for (name, keyPath) in [("min-penalty", \FailureAccrualAnnotations.minimumPenalty), ("max-penalty", \.maximumPenalty)] {
            guard let value = annotations[prefix + name] else { continue }
            switch TrafficAnnotations.duration(value) {
            case .success(let duration): result[keyPath: keyPath] = duration
            case .failure(let problem): problems.append((prefix + name, problem.message))
            }
        }
        if result.maximumPenalty.nanoseconds < result.minimumPenalty.nanoseconds {
            problems.append((prefix + "max-penalty", "\(result.maximumPenalty) must not be shorter than the min-penalty \(result.minimumPenalty)"))
        }
        if let value = annotations[prefix + "jitter-ratio"] {
            if let ratio = Double(value), ratio.isFinite, (0...100).contains(ratio) {
                result.jitterRatio = ratio
            } else {
                problems.append((prefix + "jitter-ratio", "\"\(value)\" must be a number from 0 to 100"))
            }
        }
        switch annotations[modeKey] {
        case "consecutive"?: return (result, problems)
        case nil: return (nil, problems)
        case let other?:
            problems.append((modeKey, "\"\(other)\" is not a failure accrual Weft knows (consecutive)"))
            return (nil, problems)
        }
    }
}
