/// Selects objects by their labels: all `matchLabels` and all `matchExpressions` must hold.
/// An empty selector selects everything.
public struct LabelSelector: Hashable, Sendable, Codable, Validatable {
    public var matchLabels: [String: String]?
    public var matchExpressions: [Requirement]?

    public init(matchLabels: [String: String]? = nil, matchExpressions: [Requirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    /// One `matchExpressions` entry.
    public struct Requirement: Hashable, Sendable, Codable {
        public enum Operator: String, ClosedSetValue {
            case `in` = "In"
            case notIn = "NotIn"
            case exists = "Exists"
            case doesNotExist = "DoesNotExist"
        }

        public var key: String
        public var `operator`: Operator
        public var values: [String]?

        public init(key: String, operator: Operator, values: [String]? = nil) {
            self.key = key
            self.operator = `operator`
            self.values = values
        }
    }

    /// Whether an object with `labels` is selected.
    public func matches(_ labels: [String: String]) -> Bool {
        for (key, value) in matchLabels ?? [:] where labels[key] != value { return false }
        for requirement in matchExpressions ?? [] {
            let value = labels[requirement.key]
            let values = requirement.values ?? []
            switch requirement.operator {
            case .in: if value == nil || !values.contains(value!) { return false }
            case .notIn: if let value, values.contains(value) { return false }
            case .exists: if value == nil { return false }
            case .doesNotExist: if value != nil { return false }
            }
        }
        return true
    }

    public func validate(at path: FieldPath, into v: inout Validation) {
        for key in (matchLabels ?? [:]).keys.sorted() {
            if let problem = NameRules.labelKey(key) { v.fail(path / "matchLabels", problem) }
            if let problem = NameRules.labelValue(matchLabels![key]!) { v.fail(path / "matchLabels" / key, problem) }
        }
        for (index, requirement) in (matchExpressions ?? []).enumerated() {
            let here = path / "matchExpressions" / index
            if let problem = NameRules.labelKey(requirement.key) { v.fail(here / "key", problem) }
            let values = requirement.values ?? []
            switch requirement.operator {
            case .in, .notIn:
                v.require(!values.isEmpty, here / "values", "must not be empty for operator \(requirement.operator.rawValue)")
            case .exists, .doesNotExist:
                v.require(values.isEmpty, here / "values", "must be empty for operator \(requirement.operator.rawValue)")
            }
            for (valueIndex, value) in values.enumerated() {
                if let problem = NameRules.labelValue(value) { v.fail(here / "values" / valueIndex, problem) }
            }
        }
    }
}
