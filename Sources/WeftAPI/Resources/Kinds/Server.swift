/// A `policy.linkerd.io` Server: a port on the workloads a selector picks, with the protocol to
/// expect there. Authorization policies attach to it.
public struct Server: ResourceObject {
    public static let kind = "Server"
    public static let supportedAPIVersions = [
        "policy.linkerd.io/v1beta3", "policy.linkerd.io/v1beta2", "policy.linkerd.io/v1beta1", "policy.linkerd.io/v1alpha1",
    ]

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Hashable, Sendable, Codable {
        public var podSelector: LabelSelector?
        /// v1beta2 and later.
        public var externalWorkloadSelector: LabelSelector?
        public var port: PortReference
        public var proxyProtocol: ProxyProtocol?
        /// v1beta3 only: what happens to traffic no authorization matches.
        public var accessPolicy: AccessPolicy?

        public init(externalWorkloadSelector: LabelSelector, port: PortReference, proxyProtocol: ProxyProtocol? = nil) {
            self.externalWorkloadSelector = externalWorkloadSelector
            self.port = port
            self.proxyProtocol = proxyProtocol
        }
    }

    public enum ProxyProtocol: String, ClosedSetValue {
        case unknown
        case http1 = "HTTP/1"
        case http2 = "HTTP/2"
        case grpc = "gRPC"
        case opaque
        case tls = "TLS"
    }

    public enum AccessPolicy: String, ClosedSetValue {
        case deny
        case audit
        case allUnauthenticated = "all-unauthenticated"
        case allAuthenticated = "all-authenticated"
        case clusterUnauthenticated = "cluster-unauthenticated"
        case clusterAuthenticated = "cluster-authenticated"
    }

    public func validateContent(into v: inout Validation) {
        let spec = FieldPath.root / "spec"
        let pods = self.spec.podSelector != nil
        let external = self.spec.externalWorkloadSelector != nil
        if pods == external {
            v.fail(spec, "must set exactly one of podSelector and externalWorkloadSelector")
        }
        v.requireVersion(external, spec / "externalWorkloadSelector", apiVersion: apiVersion,
                         allowed: ["policy.linkerd.io/v1beta2", "policy.linkerd.io/v1beta3"])
        v.requireVersion(self.spec.accessPolicy != nil, spec / "accessPolicy", apiVersion: apiVersion,
                         allowed: ["policy.linkerd.io/v1beta3"])
        self.spec.podSelector.validate(at: spec / "podSelector", into: &v)
        self.spec.externalWorkloadSelector.validate(at: spec / "externalWorkloadSelector", into: &v)
    }
}
