import WeftCore

/// An HTTPRoute, in Linkerd's group (`policy.linkerd.io` v1alpha1–v1beta3) or the Gateway API's
/// (`gateway.networking.k8s.io` v1beta1, v1). Attached to a Server it refines inbound policy per
/// route; attached to a Service it routes outbound traffic.
public struct HTTPRoute: ResourceObject {
    public static let kind = "HTTPRoute"
    public static let supportedAPIVersions = [
        "policy.linkerd.io/v1beta3", "policy.linkerd.io/v1beta2", "policy.linkerd.io/v1beta1", "policy.linkerd.io/v1alpha1",
        "gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1",
    ]
    /// The versions that have per-rule `timeouts`.
    static let versionsWithTimeouts = ["policy.linkerd.io/v1beta3", "gateway.networking.k8s.io/v1"]

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
        public var timeouts: Timeouts?
    }

    public struct Match: Hashable, Sendable, Codable {
        public var path: PathMatch?
        public var headers: [GatewayRoute.HeaderMatch]?
        public var queryParams: [GatewayRoute.HeaderMatch]?
        public var method: Method?
    }

    public struct PathMatch: Hashable, Sendable, Codable {
        public enum MatchType: String, ClosedSetValue {
            case exact = "Exact"
            case pathPrefix = "PathPrefix"
            case regularExpression = "RegularExpression"
        }

        /// Default `PathPrefix`.
        public var type: MatchType?
        /// Default `/`.
        public var value: String?
    }

    public enum Method: String, ClosedSetValue {
        case get = "GET", head = "HEAD", post = "POST", put = "PUT", delete = "DELETE"
        case connect = "CONNECT", options = "OPTIONS", trace = "TRACE", patch = "PATCH"
    }

    public struct Filter: Hashable, Sendable, Codable {
        public var type: String
        public var requestHeaderModifier: GatewayRoute.HeaderModifier?
        public var responseHeaderModifier: GatewayRoute.HeaderModifier?
        public var requestRedirect: Redirect?
        public var urlRewrite: UnsupportedValue?
        public var requestMirror: UnsupportedValue?
        public var extensionRef: UnsupportedValue?
    }

    public struct Redirect: Hashable, Sendable, Codable {
        public var scheme: String?
        public var hostname: String?
        public var path: PathModifier?
        public var port: PortNumber?
        public var statusCode: Int?
    }

    public struct PathModifier: Hashable, Sendable, Codable {
        public enum ModifierType: String, ClosedSetValue {
            case replaceFullPath = "ReplaceFullPath"
            case replacePrefixMatch = "ReplacePrefixMatch"
        }

        public var type: ModifierType
        public var replaceFullPath: String?
        public var replacePrefixMatch: String?
    }

    public struct Timeouts: Hashable, Sendable, Codable {
        public var request: GoDuration?
        public var backendRequest: GoDuration?
    }

    /// Filter types Weft applies.
    static let supportedFilters = ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect"]

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
                validate(match, at: rulePath / "matches" / matchIndex, into: &v)
            }
            let filters = rule.filters ?? []
            v.require(filters.count <= GatewayRoute.maximumEntries, rulePath / "filters", "must have at most \(GatewayRoute.maximumEntries) entries")
            var seenTypes: Set<String> = []
            for (filterIndex, filter) in filters.enumerated() {
                let here = rulePath / "filters" / filterIndex
                validate(filter, at: here, into: &v)
                if !seenTypes.insert(filter.type).inserted {
                    v.fail(here / "type", "\(filter.type) may appear only once per rule")
                }
                if filter.requestRedirect?.path?.type == .replacePrefixMatch,
                   !matches.allSatisfy({ ($0.path?.type ?? .pathPrefix) == .pathPrefix }) {
                    v.fail(here / "requestRedirect" / "path", "ReplacePrefixMatch needs every match of the rule to be a PathPrefix path match")
                }
            }
            GatewayRoute.validate(backendRefs: rule.backendRefs, at: rulePath / "backendRefs", into: &v)
            for (backendIndex, backend) in (rule.backendRefs ?? []).enumerated() {
                for (filterIndex, filter) in (backend.filters ?? []).enumerated() {
                    validate(filter, at: rulePath / "backendRefs" / backendIndex / "filters" / filterIndex, into: &v)
                }
            }
            if let timeouts = rule.timeouts {
                v.requireVersion(true, rulePath / "timeouts", apiVersion: apiVersion, allowed: Self.versionsWithTimeouts)
                for (field, duration) in [("request", timeouts.request), ("backendRequest", timeouts.backendRequest)] {
                    if let duration, !duration.isGatewayAPIFormat {
                        v.fail(rulePath / "timeouts" / field,
                               "\"\(duration.text)\" must be a Gateway API duration: 1 to 4 groups of up to 5 digits with h, m, s or ms (e.g. 1m30s, 500ms)")
                    }
                }
                if let request = timeouts.request, let backend = timeouts.backendRequest,
                   request.nanoseconds != 0, backend.nanoseconds > request.nanoseconds {
                    v.fail(rulePath / "timeouts" / "backendRequest", "must not be longer than request (\(request.text))")
                }
            }
        }
        if let parents = status?.parents {
            for (index, parent) in parents.enumerated() {
                parent.conditions?.validateEach(at: FieldPath.root / "status" / "parents" / index / "conditions", into: &v)
            }
        }
    }

    private func validate(_ match: Match, at path: FieldPath, into v: inout Validation) {
        if let pathMatch = match.path {
            let value = pathMatch.value ?? "/"
            let here = path / "path" / "value"
            switch pathMatch.type ?? .pathPrefix {
            case .exact, .pathPrefix:
                if !value.hasPrefix("/") {
                    v.fail(here, "must start with \"/\"")
                } else if value.utf8.count > 1024 {
                    v.fail(here, "must be at most 1024 characters")
                } else if let bad = ["//", "/./", "/../", "%2f", "%2F", "#"].first(where: { value.contains($0) })
                            ?? (value.hasSuffix("/..") || value.hasSuffix("/.") ? "a trailing dot segment" : nil) {
                    v.fail(here, "must not contain \(bad.hasPrefix("a ") ? bad : "\"\(bad)\"")")
                }
            case .regularExpression:
                if let problem = RegexRule.problem(with: value) { v.fail(here, problem) }
            }
        }
        GatewayRoute.validate(headerMatches: match.headers, at: path / "headers", into: &v)
        let params = match.queryParams ?? []
        v.require(params.count <= GatewayRoute.maximumEntries, path / "queryParams", "must have at most \(GatewayRoute.maximumEntries) entries")
        for (index, param) in params.enumerated() {
            let here = path / "queryParams" / index
            v.require(!param.name.isEmpty && param.name.utf8.count <= 256, here / "name", "must be 1 to 256 characters")
            if param.type == .regularExpression, let problem = RegexRule.problem(with: param.value) {
                v.fail(here / "value", problem)
            }
        }
    }

    private func validate(_ filter: Filter, at path: FieldPath, into v: inout Validation) {
        let fields = [
            (name: "requestHeaderModifier", isSet: filter.requestHeaderModifier != nil),
            (name: "responseHeaderModifier", isSet: filter.responseHeaderModifier != nil),
            (name: "requestRedirect", isSet: filter.requestRedirect != nil),
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
        if let redirect = filter.requestRedirect {
            let here = path / "requestRedirect"
            if let scheme = redirect.scheme, scheme != "http", scheme != "https" {
                v.fail(here / "scheme", "must be http or https")
            }
            if let host = redirect.hostname, let problem = NameRules.hostname(host) { v.fail(here / "hostname", problem) }
            if let code = redirect.statusCode, code != 301, code != 302 {
                v.fail(here / "statusCode", "must be 301 or 302")
            }
            if let modifier = redirect.path {
                switch modifier.type {
                case .replaceFullPath:
                    v.require(modifier.replaceFullPath != nil, here / "path" / "replaceFullPath", "is required for ReplaceFullPath")
                    v.require(modifier.replacePrefixMatch == nil, here / "path" / "replacePrefixMatch", "must not be set for ReplaceFullPath")
                case .replacePrefixMatch:
                    v.require(modifier.replacePrefixMatch != nil, here / "path" / "replacePrefixMatch", "is required for ReplacePrefixMatch")
                    v.require(modifier.replaceFullPath == nil, here / "path" / "replaceFullPath", "must not be set for ReplacePrefixMatch")
                }
                for value in [modifier.replaceFullPath, modifier.replacePrefixMatch].compactMap({ $0 }) where !value.hasPrefix("/") {
                    v.fail(here / "path", "replacement \"\(value)\" must start with \"/\"")
                }
            }
        }
    }
}
