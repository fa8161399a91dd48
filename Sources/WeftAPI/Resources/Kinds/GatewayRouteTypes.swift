import WeftCore

/// Pieces shared by HTTPRoute and GRPCRoute (Gateway API shapes, used by Linkerd's and Gateway
/// API's groups alike).
public enum GatewayRoute {
    /// Limits from the Gateway API CRDs.
    static let maximumParentRefs = 32
    static let maximumHostnames = 16
    static let maximumRules = 16
    static let maximumMatches = 8
    static let maximumEntries = 16

    /// A route's parent: a Server (inbound policy) or a Service (outbound policy).
    public struct ParentReference: Hashable, Sendable, Codable {
        public var group: String?
        public var kind: String?
        public var namespace: String?
        public var name: String
        public var sectionName: String?
        public var port: PortNumber?

        public init(group: String?, kind: String?, name: String, port: PortNumber? = nil) {
            self.group = group
            self.kind = kind
            self.name = name
            self.port = port
        }

        /// Whether the parent is a Server, whose routes are inbound policy.
        public var isServer: Bool { kind == "Server" && group == "policy.linkerd.io" }
        /// Whether the parent is a Service, whose routes are outbound policy.
        public var isService: Bool { kind == "Service" && (group == nil || group == "" || group == "core") }
    }

    public enum StringMatchType: String, ClosedSetValue {
        case exact = "Exact"
        case regularExpression = "RegularExpression"
    }

    public struct HeaderMatch: Hashable, Sendable, Codable {
        public var type: StringMatchType?
        public var name: String
        public var value: String
    }

    public struct Header: Hashable, Sendable, Codable {
        public var name: String
        public var value: String
    }

    public struct HeaderModifier: Hashable, Sendable, Codable {
        public var set: [Header]?
        public var add: [Header]?
        public var remove: [String]?
    }

    public struct BackendRef<Filter: Codable & Hashable & Sendable>: Hashable, Sendable, Codable {
        public var group: String?
        public var kind: String?
        public var name: String
        public var namespace: String?
        public var port: PortNumber?
        public var weight: Int32?
        public var filters: [Filter]?
    }

    public struct RouteStatus: Hashable, Sendable, Codable {
        public var parents: [ParentStatus]?

        public init(parents: [ParentStatus]?) {
            self.parents = parents
        }
    }

    public struct ParentStatus: Hashable, Sendable, Codable {
        public var parentRef: ParentReference
        public var controllerName: String
        public var conditions: [Condition]?

        public init(parentRef: ParentReference, controllerName: String, conditions: [Condition]?) {
            self.parentRef = parentRef
            self.controllerName = controllerName
            self.conditions = conditions
        }
    }

    static func validate(parentRefs: [ParentReference]?, hostnames: [String]?, at spec: FieldPath, into v: inout Validation) {
        let parents = parentRefs ?? []
        v.require(!parents.isEmpty, spec / "parentRefs", "must have at least one parent (a Server or a Service)")
        v.require(parents.count <= maximumParentRefs, spec / "parentRefs", "must have at most \(maximumParentRefs) entries")
        for (index, parent) in parents.enumerated() {
            let here = spec / "parentRefs" / index
            if !parent.isServer && !parent.isService {
                v.fail(here, "parent must be a Server (group policy.linkerd.io) or a Service (group core); got kind \(parent.kind ?? "Gateway") in group \(parent.group ?? "gateway.networking.k8s.io")")
            }
            if let problem = NameRules.dnsSubdomain(parent.name) { v.fail(here / "name", problem) }
            if let namespace = parent.namespace, let problem = NameRules.dnsLabel(namespace) {
                v.fail(here / "namespace", problem)
            }
            if parent.isServer && parent.port != nil {
                v.fail(here / "port", "must not be set for a Server parent; the Server names the port")
            }
        }
        let hosts = hostnames ?? []
        v.require(hosts.count <= maximumHostnames, spec / "hostnames", "must have at most \(maximumHostnames) entries")
        for (index, host) in hosts.enumerated() {
            if let problem = NameRules.hostname(host) { v.fail(spec / "hostnames" / index, problem) }
        }
    }

    /// Checks that a filter's `type` is supported and that exactly the field it names is set.
    /// `fields` lists each type-specific field and whether it is set. Returns whether the type is
    /// supported, so the caller checks the field's contents only then.
    static func validateFilterShape(type: String, supported: [String], fields: [(name: String, isSet: Bool)],
                                    at path: FieldPath, into v: inout Validation) -> Bool {
        guard supported.contains(type) else {
            v.fail(path / "type", "filter type \"\(type)\" is not supported (supported: \(supported.joined(separator: ", ")))")
            return false
        }
        // The field for type `RequestHeaderModifier` is `requestHeaderModifier`.
        let expected = type.prefix(1).lowercased() + type.dropFirst()
        for field in fields {
            if field.name == expected && !field.isSet { v.fail(path / field.name, "is required for filter type \(type)") }
            if field.name != expected && field.isSet { v.fail(path / field.name, "must not be set for filter type \(type)") }
        }
        return true
    }

    static func validate(headerMatches: [HeaderMatch]?, at path: FieldPath, into v: inout Validation) {
        let matches = headerMatches ?? []
        v.require(matches.count <= maximumEntries, path, "must have at most \(maximumEntries) entries")
        var seen: Set<String> = []
        for (index, match) in matches.enumerated() {
            let here = path / index
            if let problem = NameRules.headerName(match.name) { v.fail(here / "name", problem) }
            if !seen.insert(match.name.lowercased()).inserted {
                v.fail(here / "name", "header \"\(match.name)\" is matched twice")
            }
            if match.type == .regularExpression {
                if let problem = RegexRule.problem(with: match.value) { v.fail(here / "value", problem) }
            } else if let problem = NameRules.headerValue(match.value) {
                v.fail(here / "value", problem)
            }
        }
    }

    static func validate(modifier: HeaderModifier, at path: FieldPath, into v: inout Validation) {
        var seen: Set<String> = []
        for field in ["set", "add"] {
            let headers = (field == "set" ? modifier.set : modifier.add) ?? []
            v.require(headers.count <= maximumEntries, path / field, "must have at most \(maximumEntries) entries")
            for (index, header) in headers.enumerated() {
                if let problem = NameRules.headerName(header.name) { v.fail(path / field / index / "name", problem) }
                if let problem = NameRules.headerValue(header.value) { v.fail(path / field / index / "value", problem) }
                if !seen.insert(field + ":" + header.name.lowercased()).inserted {
                    v.fail(path / field / index / "name", "header \"\(header.name)\" appears twice")
                }
            }
        }
        let removed = modifier.remove ?? []
        v.require(removed.count <= maximumEntries, path / "remove", "must have at most \(maximumEntries) entries")
        for (index, name) in removed.enumerated() {
            if let problem = NameRules.headerName(name) { v.fail(path / "remove" / index, problem) }
        }
        if (modifier.set ?? []).isEmpty && (modifier.add ?? []).isEmpty && removed.isEmpty {
            v.fail(path, "must set, add or remove at least one header")
        }
    }

    static func validate<F>(backendRefs: [BackendRef<F>]?, at path: FieldPath, into v: inout Validation) {
        let backends = backendRefs ?? []
        v.require(backends.count <= maximumEntries, path, "must have at most \(maximumEntries) entries")
        for (index, backend) in backends.enumerated() {
            let here = path / index
            let group = backend.group ?? ""
            let kind = backend.kind ?? "Service"
            if !(group == "" || group == "core") || kind != "Service" {
                v.fail(here, "backend must be a Service (group core); got kind \(kind)\(group.isEmpty ? "" : " in group \(group)")")
            }
            if let problem = NameRules.dnsLabel(backend.name) { v.fail(here / "name", problem) }
            if let namespace = backend.namespace, let problem = NameRules.dnsLabel(namespace) {
                v.fail(here / "namespace", problem)
            }
            v.require(backend.port != nil, here / "port", "is required for a Service backend")
            if let weight = backend.weight {
                v.require((0...1_000_000).contains(weight), here / "weight", "must be between 0 and 1000000")
            }
        }
    }
}
