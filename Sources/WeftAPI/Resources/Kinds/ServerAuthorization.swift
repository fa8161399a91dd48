/// A `policy.linkerd.io` ServerAuthorization (the older form of AuthorizationPolicy): which
/// clients may reach the Servers it names or selects.
public struct ServerAuthorization: ResourceObject {
    public static let kind = "ServerAuthorization"
    public static let supportedAPIVersions = ["policy.linkerd.io/v1beta1", "policy.linkerd.io/v1alpha1"]

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Hashable, Sendable, Codable {
        public var server: ServerReference
        public var client: Client
    }

    public struct ServerReference: Hashable, Sendable, Codable {
        public var name: String?
        public var selector: LabelSelector?
    }

    public struct Client: Hashable, Sendable, Codable {
        public var networks: [NetworkRange]?
        public var unauthenticated: Bool?
        public var meshTLS: MeshTLS?
    }

    public struct MeshTLS: Hashable, Sendable, Codable {
        public var unauthenticatedTLS: Bool?
        public var identities: [String]?
        public var serviceAccounts: [ServiceAccountReference]?
    }

    public struct ServiceAccountReference: Hashable, Sendable, Codable {
        public var name: String
        public var namespace: String?
    }

    public func validateContent(into v: inout Validation) {
        let spec = FieldPath.root / "spec"
        let server = self.spec.server
        if (server.name != nil) == (server.selector != nil) {
            v.fail(spec / "server", "must set exactly one of name and selector")
        }
        if let name = server.name, let problem = NameRules.dnsSubdomain(name) { v.fail(spec / "server" / "name", problem) }
        server.selector.validate(at: spec / "server" / "selector", into: &v)

        let client = self.spec.client
        let clientPath = spec / "client"
        client.networks?.validateEach(at: clientPath / "networks", into: &v)
        let unauthenticated = client.unauthenticated ?? false
        if unauthenticated && client.meshTLS != nil {
            v.fail(clientPath, "must not set both unauthenticated and meshTLS")
        }
        if !unauthenticated && client.meshTLS == nil {
            v.fail(clientPath, "must set meshTLS or unauthenticated: true")
        }
        if let tls = client.meshTLS {
            let tlsPath = clientPath / "meshTLS"
            let named = !(tls.identities ?? []).isEmpty || !(tls.serviceAccounts ?? []).isEmpty
            if tls.unauthenticatedTLS ?? false {
                v.require(!named, tlsPath, "must not name identities or serviceAccounts with unauthenticatedTLS: true")
            } else {
                v.require(named, tlsPath, "must name identities or serviceAccounts, or set unauthenticatedTLS: true")
            }
            for (index, identity) in (tls.identities ?? []).enumerated() {
                do { _ = try IdentityPattern(parsing: identity) } catch {
                    v.fail(tlsPath / "identities" / index, error.description)
                }
            }
            for (index, account) in (tls.serviceAccounts ?? []).enumerated() {
                let here = tlsPath / "serviceAccounts" / index
                if let problem = NameRules.dnsSubdomain(account.name) { v.fail(here / "name", problem) }
                if let namespace = account.namespace, let problem = NameRules.dnsLabel(namespace) {
                    v.fail(here / "namespace", problem)
                }
            }
        }
    }
}
