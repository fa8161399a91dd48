import WeftCore

/// A Gateway API GRPCRoute (`gateway.networking.k8s.io` v1alpha2, v1): routes and authorizes gRPC
/// calls by service and method.
public struct GRPCRoute: ResourceObject {
    public static let kind = "GRPCRoute"
    public static let supportedAPIVersions = ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha2"]

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: GatewayRoute.RouteStatus?

    public struct Spec: Hashable, Sendable, Codable {
        public var parentRefs: [GatewayRoute.ParentReference]?
        public var hostnames: [String]?
        public var rules: [Rule]?
    }

    public struct Rule: Hashable, Sendable, Codable {
        public var matches: [Match]?
        public var filters: [Filter]?
        public var backendRefs: [GatewayRoute.BackendRef<Filter>]?
    }

    public struct Match: Hashable, Sendable, Codable {
        public var method: MethodMatch?
        public var headers: [GatewayRoute.HeaderMatch]?
    }

    public struct MethodMatch: Hashable, Sendable, Codable {
        /// Default `Exact`.
        public var type: GatewayRoute.StringMatchType?
        public var service: String?
        public var method: String?
    }

    public struct Filter: Hashable, Sendable, Codable {
        public var type: String
        public var requestHeaderModifier: GatewayRoute.HeaderModifier?
        public var responseHeaderModifier: GatewayRoute.HeaderModifier?
        public var requestMirror: UnsupportedValue?
        public var extensionRef: UnsupportedValue?
    }

    static let supportedFilters = ["RequestHeaderModifier", "ResponseHeaderModifier"]

    public func validateContent(into v: inout Validation) {
        TrafficAnnotations.validate(metadata, kind: Self.kind, into: &v)
        let spec = FieldPath.root / "spec"
        GatewayRoute.validate(parentRefs: self.spec.parentRefs, hostnames: self.spec.hostnames, at: spec, into: &v)
        let rules = self.spec.rules ?? []
        v.require(rules.count <= GatewayRoute.maximumRules, spec / "rules", "must have at most \(GatewayRoute.maximumRules) rules")
        for (ruleIndex, rule) in rules.enumerated() {
            let rulePath = spec / "rules" / ruleIndex
            let matches = rule.matches ?? []
            v.require(matches.count <= GatewayRoute.maximumMatches, rulePath / "matches", "must have at most \(GatewayRoute.maximumMatches) entries")
            for (matchIndex, match) in matches.enumerated() {
                let here = rulePath / "matches" / matchIndex
                if let method = match.method { validate(method, at: here / "method", into: &v) }
                GatewayRoute.validate(headerMatches: match.headers, at: here / "headers", into: &v)
            }
            for (filterIndex, filter) in (rule.filters ?? []).enumerated() {
                validate(filter, at: rulePath / "filters" / filterIndex, into: &v)
            }
            GatewayRoute.validate(backendRefs: rule.backendRefs, at: rulePath / "backendRefs", into: &v)
        }
    }

    private func validate(_ match: MethodMatch, at path: FieldPath, into v: inout Validation) {
        guard match.service != nil || match.method != nil else {
            v.fail(path, "must set service, method or both")
            return
        }
        switch match.type ?? .exact {
        case .exact:
            if let service = match.service, !Self.isServiceName(service) {
                v.fail(path / "service", "\"\(service)\" must be a gRPC service name such as pkg.v1.Service")
            }
            if let method = match.method, !Self.isIdentifier(Substring(method)) {
                v.fail(path / "method", "\"\(method)\" must be a gRPC method name such as GetUser")
            }
        case .regularExpression:
            for (field, value) in [("service", match.service), ("method", match.method)] {
                if let value, let problem = RegexRule.problem(with: value) { v.fail(path / field, problem) }
            }
        }
    }

    private func validate(_ filter: Filter, at path: FieldPath, into v: inout Validation) {
        let fields = [
            (name: "requestHeaderModifier", isSet: filter.requestHeaderModifier != nil),
            (name: "responseHeaderModifier", isSet: filter.responseHeaderModifier != nil),
        ]
        guard GatewayRoute.validateFilterShape(type: filter.type, supported: Self.supportedFilters, fields: fields, at: path, into: &v) else {
            return
        }
        if let modifier = filter.requestHeaderModifier {
            GatewayRoute.validate(modifier: modifier, at: path / "requestHeaderModifier", into: &v)
        }
        if let modifier = filter.responseHeaderModifier {
            GatewayRoute.validate(modifier: modifier, at: path / "responseHeaderModifier", into: &v)
        }
    }

    static func isIdentifier(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    static func isServiceName(_ text: String) -> Bool {
        text.utf8.count <= 1024 && !text.isEmpty
            && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isIdentifier($0) }
    }
}
