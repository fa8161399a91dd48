import WeftCore

/// A `linkerd.io` ServiceProfile: per-route metrics, retries and timeouts, a retry budget and
/// traffic split for the service its name (`<svc>.<ns>.svc.<cluster-domain>`) names.
public struct ServiceProfile: ResourceObject {
    public static let kind = "ServiceProfile"
    public static let supportedAPIVersions = ["linkerd.io/v1alpha2", "linkerd.io/v1alpha1"]

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Hashable, Sendable, Codable {
        public var routes: [Route]?
        public var retryBudget: RetryBudget?
        public var dstOverrides: [WeightedDestination]?
        public var opaquePorts: [PortNumber]?
    }

    public struct Route: Hashable, Sendable, Codable {
        public var name: String
        public var condition: RequestMatch
        public var responseClasses: [ResponseClass]?
        public var isRetryable: Bool?
        public var timeout: GoDuration?
    }

    /// Every field that is set must match (Linkerd ANDs them); at least one must be set.
    public struct RequestMatch: Hashable, Sendable, Codable {
        public var all: [RequestMatch]?
        public var any: [RequestMatch]?
        public var not: Boxed<RequestMatch>?
        public var pathRegex: String?
        public var method: String?
    }

    public struct ResponseClass: Hashable, Sendable, Codable {
        public var condition: ResponseMatch
        public var isFailure: Bool?
    }

    public struct ResponseMatch: Hashable, Sendable, Codable {
        public var all: [ResponseMatch]?
        public var any: [ResponseMatch]?
        public var not: Boxed<ResponseMatch>?
        public var status: StatusRange?
    }

    public struct StatusRange: Hashable, Sendable, Codable {
        public var min: UInt32?
        public var max: UInt32?
    }

    public struct RetryBudget: Hashable, Sendable, Codable {
        public var retryRatio: Double
        public var minRetriesPerSecond: UInt32
        public var ttl: GoDuration
    }

    public struct WeightedDestination: Hashable, Sendable, Codable {
        public var authority: String
        public var weight: Quantity
    }

    public func validateContent(into v: inout Validation) {
        let spec = FieldPath.root / "spec"
        var names: Set<String> = []
        for (index, route) in (self.spec.routes ?? []).enumerated() {
            let here = spec / "routes" / index
            v.require(!route.name.isEmpty, here / "name", "must not be empty")
            if !names.insert(route.name).inserted { v.fail(here / "name", "duplicate route name \"\(route.name)\"") }
            validate(route.condition, at: here / "condition", depth: 0, into: &v)
            for (classIndex, responseClass) in (route.responseClasses ?? []).enumerated() {
                validate(responseClass.condition, at: here / "responseClasses" / classIndex / "condition", depth: 0, into: &v)
            }
        }
        if let budget = self.spec.retryBudget {
            let here = spec / "retryBudget"
            v.require(budget.retryRatio >= 0 && budget.retryRatio <= 1000, here / "retryRatio", "must be between 0 and 1000")
        }
        for (index, destination) in (self.spec.dstOverrides ?? []).enumerated() {
            let here = spec / "dstOverrides" / index
            let host = destination.authority.split(separator: ":", maxSplits: 1)
            if host.isEmpty || NameRules.dnsSubdomain(String(host[0])) != nil && IPAddressText.problem(String(host[0])) != nil {
                v.fail(here / "authority", "\"\(destination.authority)\" must be host[:port]")
            } else if host.count == 2, !(UInt16(host[1]).map { $0 > 0 } ?? false) {
                v.fail(here / "authority", "\"\(destination.authority)\" has an invalid port")
            }
            v.require(destination.weight.milliValue >= 0, here / "weight", "must not be negative")
        }
    }

    /// The deepest `all`/`any`/`not` nesting accepted.
    static let maximumMatchDepth = 16

    private func validate(_ match: RequestMatch, at path: FieldPath, depth: Int, into v: inout Validation) {
        guard depth < Self.maximumMatchDepth else {
            v.fail(path, "is nested more than \(Self.maximumMatchDepth) levels deep")
            return
        }
        let setCount = [match.all != nil, match.any != nil, match.not != nil, match.pathRegex != nil, match.method != nil]
            .filter { $0 }.count
        v.require(setCount > 0, path, "must set at least one of pathRegex, method, all, any and not")
        if let regex = match.pathRegex, let problem = RegexRule.problem(with: regex) { v.fail(path / "pathRegex", problem) }
        if let method = match.method, !method.utf8.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) || method.isEmpty {
            v.fail(path / "method", "\"\(method)\" must be an upper-case HTTP method such as GET")
        }
        for (index, child) in (match.all ?? []).enumerated() { validate(child, at: path / "all" / index, depth: depth + 1, into: &v) }
        for (index, child) in (match.any ?? []).enumerated() { validate(child, at: path / "any" / index, depth: depth + 1, into: &v) }
        if let child = match.not { validate(child.value, at: path / "not", depth: depth + 1, into: &v) }
    }

    private func validate(_ match: ResponseMatch, at path: FieldPath, depth: Int, into v: inout Validation) {
        guard depth < Self.maximumMatchDepth else {
            v.fail(path, "is nested more than \(Self.maximumMatchDepth) levels deep")
            return
        }
        let setCount = [match.all != nil, match.any != nil, match.not != nil, match.status != nil].filter { $0 }.count
        v.require(setCount > 0, path, "must set at least one of status, all, any and not")
        if let status = match.status {
            for (field, value) in [("min", status.min), ("max", status.max)] {
                if let value, !(100...599).contains(value) { v.fail(path / "status" / field, "must be between 100 and 599") }
            }
            if let min = status.min, let max = status.max, min > max {
                v.fail(path / "status", "min \(min) is greater than max \(max)")
            }
        }
        for (index, child) in (match.all ?? []).enumerated() { validate(child, at: path / "all" / index, depth: depth + 1, into: &v) }
        for (index, child) in (match.any ?? []).enumerated() { validate(child, at: path / "any" / index, depth: depth + 1, into: &v) }
        if let child = match.not { validate(child.value, at: path / "not", depth: depth + 1, into: &v) }
    }
}
