/// A `policy.linkerd.io` MeshTLSAuthentication: clients authenticated by mesh TLS with one of
/// the listed identities (DNS-like, `*`, `*.suffix`, or SPIFFE IDs), or whose ServiceAccount or
/// Namespace is listed.
public struct MeshTLSAuthentication: ResourceObject {
    public static let kind = "MeshTLSAuthentication"
    public static let supportedAPIVersions = ["policy.linkerd.io/v1alpha1"]

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Hashable, Sendable, Codable {
        public var identities: [String]?
        public var identityRefs: [IdentityReference]?
    }

    public struct IdentityReference: Hashable, Sendable, Codable {
        public var group: String?
        public var kind: String
        public var name: String?
        public var namespace: String?
    }

    public func validateContent(into v: inout Validation) {
        let spec = FieldPath.root / "spec"
        let identities = self.spec.identities ?? []
        let references = self.spec.identityRefs ?? []
        if identities.isEmpty == references.isEmpty {
            v.fail(spec, "must set exactly one of identities and identityRefs, and not leave it empty")
        }
        for (index, identity) in identities.enumerated() {
            do { _ = try IdentityPattern(parsing: identity) } catch {
                v.fail(spec / "identities" / index, error.description)
            }
        }
        for (index, reference) in references.enumerated() {
            let here = spec / "identityRefs" / index
            if reference.kind != "ServiceAccount" && reference.kind != "Namespace" {
                v.fail(here / "kind", "must be ServiceAccount or Namespace, got \"\(reference.kind)\"")
            }
            if let group = reference.group, !group.isEmpty, group != "core" {
                v.fail(here / "group", "must be the core group (empty)")
            }
            if let name = reference.name {
                if name != "*", let problem = NameRules.dnsSubdomain(name) { v.fail(here / "name", problem) }
            } else if reference.kind == "ServiceAccount" {
                v.fail(here / "name", "is required for a ServiceAccount")
            }
            if let namespace = reference.namespace, let problem = NameRules.dnsLabel(namespace) {
                v.fail(here / "namespace", problem)
            }
        }
    }
}
