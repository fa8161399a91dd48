import WeftCore
import WeftPolicy

/// Reads the routes of the destination API's `DestinationProfile` by hand into
/// ``ProfileRoutes`` (the traffic split is ``DestinationWire/decodeTrafficSplit(_:)``'s). A route
/// the proxy cannot use (a pattern ``RegexRule`` refuses, conditions nested deeper than
/// ``maximumDepth``, a condition of no kind) refuses the profile's routes whole.
enum ProfileWire {
    /// The deepest `all`/`any`/`not` nesting read.
    static let maximumDepth = 16

    static func routes(_ bytes: [UInt8]) throws(RoutePolicyError) -> ProfileRoutes {
        do {
            var reader = ProtobufReader(bytes[...])
            var routes: [ProfileRoutes.Route] = []
            var budget = RetryBudget.Settings.linkerdDefault
            try reader.fields { field, reader in
                switch field {
                case 1: routes.append(try route(try reader.message()))
                case 2: budget = try self.budget(try reader.message())
                default: return false
                }
                return true
            }
            return try ProfileRoutes(routes, budget: budget)
        } catch let error as RoutePolicyError {
            throw error
        } catch {
            throw RoutePolicyError("malformed profile: \(error)")
        }
    }

    /// `Route { RequestMatch condition = 1; repeated ResponseClass response_classes = 2;
    /// map<string, string> metrics_labels = 3; bool is_retryable = 4; Duration timeout = 5; }`, `ResponseClass { ResponseMatch condition = 1;
    /// bool is_failure = 2; }`.
    private static func route(_ message: ProtobufReader) throws -> ProfileRoutes.Route {
        var reader = message
        var condition: ProfileRoutes.RequestCondition?
        var classes: [ProfileRoutes.ResponseClass] = []
        var name = ""
        var isRetryable = false
        var timeout: Duration?
        try reader.fields { field, reader in
            switch field {
            case 1: condition = try requestCondition(try reader.message(), depth: 0)
            case 2:
                var responseClass = try reader.message()
                var match: ProfileRoutes.ResponseCondition?
                var isFailure = false
                try responseClass.fields { part, responseClass in
                    switch part {
                    case 1: match = try responseCondition(try responseClass.message(), depth: 0)
                    case 2: isFailure = try responseClass.varint() != 0
                    default: return false
                    }
                    return true
                }
                guard let match else { throw RoutePolicyError("a response class without a condition") }
                classes.append(ProfileRoutes.ResponseClass(condition: match, isFailure: isFailure))
            case 3:
                var entry = try reader.message()
                var (key, value) = ("", "")
                try entry.fields { part, entry in
                    switch part {
                    case 1: key = try entry.string()
                    case 2: value = try entry.string()
                    default: return false
                    }
                    return true
                }
                if key == "route" { name = value }
            case 4: isRetryable = try reader.varint() != 0
            case 5: timeout = try OutboundPolicyWire.duration(try reader.message())
            default: return false
            }
            return true
        }
        guard let condition else { throw RoutePolicyError("profile route \(name) has no condition") }
        return ProfileRoutes.Route(name: name, condition: condition, responseClasses: classes, isRetryable: isRetryable,
                                   timeout: timeout.flatMap { $0 > .zero ? $0 : nil })
    }

    /// `RetryBudget { float retry_ratio = 1; uint32 min_retries_per_second = 2; Duration ttl = 3; }`;
    /// a ratio above 100 or a minimum above 10,000 per second refuses the profile's routes.
    private static func budget(_ message: ProtobufReader) throws -> RetryBudget.Settings {
        var reader = message
        var settings = RetryBudget.Settings(ratio: 0, minimumPerSecond: 0, ttl: .seconds(10))
        try reader.fields { field, reader in
            switch field {
            case 1:
                let ratio = Double(Float(bitPattern: try reader.fixed32()))
                guard ratio.isFinite, (0...100).contains(ratio) else { throw RoutePolicyError("a retry ratio of \(ratio)") }
                settings.ratio = ratio
            case 2:
                let minimum = try reader.varint()
                guard minimum <= 10_000 else { throw RoutePolicyError("at least \(minimum) retries per second") }
                settings.minimumPerSecond = UInt32(minimum)
            case 3: settings.ttl = try OutboundPolicyWire.duration(try reader.message())
            default: return false
            }
            return true
        }
        return settings
    }

    /// `RequestMatch { oneof match { Seq all = 1; Seq any = 2; RequestMatch not = 3;
    /// PathMatch path = 4; HttpMethod method = 5; } }`, `Seq { repeated RequestMatch matches = 1; }`,
    /// `PathMatch { string regex = 1; }`.
    private static func requestCondition(_ message: ProtobufReader, depth: Int) throws -> ProfileRoutes.RequestCondition {
        guard depth < maximumDepth else { throw RoutePolicyError("route conditions nested deeper than \(maximumDepth)") }
        var reader = message
        var condition: ProfileRoutes.RequestCondition?
        try reader.fields { field, reader in
            switch field {
            case 1, 2:
                var sequence = try reader.message()
                var conditions: [ProfileRoutes.RequestCondition] = []
                try sequence.fields { part, sequence in
                    guard part == 1 else { return false }
                    conditions.append(try requestCondition(try sequence.message(), depth: depth + 1))
                    return true
                }
                condition = field == 1 ? .all(conditions) : .any(conditions)
            case 3: condition = .not(try requestCondition(try reader.message(), depth: depth + 1))
            case 4:
                var path = try reader.message()
                try path.fields { part, path in
                    guard part == 1 else { return false }
                    condition = .path(try RoutePattern(try path.string()))
                    return true
                }
            case 5: condition = .method(try OutboundPolicyWire.method(try reader.message()))
            default: return false
            }
            return true
        }
        guard let condition else { throw RoutePolicyError("a route condition of no kind") }
        return condition
    }

    /// `ResponseMatch { oneof match { Seq all = 1; Seq any = 2; ResponseMatch not = 3;
    /// HttpStatusRange status = 4; } }`, `HttpStatusRange { uint32 min = 1; uint32 max = 2; }`.
    private static func responseCondition(_ message: ProtobufReader, depth: Int) throws -> ProfileRoutes.ResponseCondition {
        guard depth < maximumDepth else { throw RoutePolicyError("response conditions nested deeper than \(maximumDepth)") }
        var reader = message
        var condition: ProfileRoutes.ResponseCondition?
        try reader.fields { field, reader in
            switch field {
            case 1, 2:
                var sequence = try reader.message()
                var conditions: [ProfileRoutes.ResponseCondition] = []
                try sequence.fields { part, sequence in
                    guard part == 1 else { return false }
                    conditions.append(try responseCondition(try sequence.message(), depth: depth + 1))
                    return true
                }
                condition = field == 1 ? .all(conditions) : .any(conditions)
            case 3: condition = .not(try responseCondition(try reader.message(), depth: depth + 1))
            case 4:
                var range = try reader.message()
                var (minimum, maximum) = (0, 0)
                try range.fields { part, range in
                    switch part {
                    case 1: minimum = Int(clamping: try range.varint())
                    case 2: maximum = Int(clamping: try range.varint())
                    default: return false
                    }
                    return true
                }
                condition = .status(minimum: minimum, maximum: maximum)
            default: return false
            }
            return true
        }
        guard let condition else { throw RoutePolicyError("a response condition of no kind") }
        return condition
    }
}
