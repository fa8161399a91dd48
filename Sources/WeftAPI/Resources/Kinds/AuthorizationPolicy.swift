/// A `policy.linkerd.io` AuthorizationPolicy: the authentications a client must satisfy to reach
/// a Server, an HTTPRoute, a GRPCRoute or every Server of a Namespace.
public struct AuthorizationPolicy: ResourceObject {
    public static let kind = "AuthorizationPolicy"
    public static let supportedAPIVersions = ["policy.linkerd.io/v1alpha1"]

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Hashable, Sendable, Codable {
        public var targetRef: TargetReference
        /// Every one must be satisfied; an empty list admits every client.
        public var requiredAuthenticationRefs: [AuthenticationReference]
    }

    public struct TargetReference: Hashable, Sendable, Codable {
        public var group: String?
        public var kind: String
        public var name: String
        public var namespace: String?
    }

    public struct AuthenticationReference: Hashable, Sendable, Codable {
        public var group: String?
        public var kind: String
        public var name: String
        public var namespace: String?
    }

    /// The (group, kind) pairs a policy may target.
    static let targets: [(group: String, kind: String)] = [
        ("policy.linkerd.io", "Server"),
        ("policy.linkerd.io", "HTTPRoute"),
        ("gateway.networking.k8s.io", "HTTPRoute"),
        ("gateway.networking.k8s.io", "GRPCRoute"),
        ("", "Namespace"),
    ]

    /// The (group, kind) pairs a policy may require.
    static let authentications: [(group: String, kind: String)] = [
        ("policy.linkerd.io", "MeshTLSAuthentication"),
        ("policy.linkerd.io", "NetworkAuthentication"),
        ("", "ServiceAccount"),
    ]

    public func validateContent(into v: inout Validation) {
        let spec = FieldPath.root / "spec"
        let target = self.spec.targetRef
        let targetGroup = normalizedGroup(target.group)
        if !Self.targets.contains(where: { $0.group == targetGroup && $0.kind == target.kind }) {
            v.fail(spec / "targetRef", "cannot target \(describe(targetGroup, target.kind)); targets are Server, HTTPRoute, GRPCRoute and Namespace")
        }
        if let problem = NameRules.dnsSubdomain(target.name) { v.fail(spec / "targetRef" / "name", problem) }
        let namespace = metadata.namespace ?? "default"
        if target.kind == "Namespace", target.name != namespace {
            v.fail(spec / "targetRef" / "name", "a Namespace target must be the policy's own namespace \"\(namespace)\"")
        }
        if let targetNamespace = target.namespace, targetNamespace != namespace {
            v.fail(spec / "targetRef" / "namespace", "must be the policy's own namespace")
        }
        for (index, reference) in self.spec.requiredAuthenticationRefs.enumerated() {
            let here = spec / "requiredAuthenticationRefs" / index
            let group = normalizedGroup(reference.group)
            if !Self.authentications.contains(where: { $0.group == group && $0.kind == reference.kind }) {
                v.fail(here, "cannot require \(describe(group, reference.kind)); use MeshTLSAuthentication, NetworkAuthentication or ServiceAccount")
            }
            if let problem = NameRules.dnsSubdomain(reference.name) { v.fail(here / "name", problem) }
            if let namespace = reference.namespace, let problem = NameRules.dnsLabel(namespace) {
                v.fail(here / "namespace", problem)
            }
        }
    }

    private func normalizedGroup(_ group: String?) -> String {
        guard let group, group != "core" else { return "" }
        return group
    }

    private func describe(_ group: String, _ kind: String) -> String {
        group.isEmpty ? "kind \(kind)" : "\(kind).\(group)"
    }
}
