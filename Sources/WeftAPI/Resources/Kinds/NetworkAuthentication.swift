/// A `policy.linkerd.io` NetworkAuthentication: clients whose address is in one of the networks.
public struct NetworkAuthentication: ResourceObject {
    public static let kind = "NetworkAuthentication"
    public static let supportedAPIVersions = ["policy.linkerd.io/v1alpha1"]

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Hashable, Sendable, Codable {
        public var networks: [NetworkRange]
    }

    public func validateContent(into v: inout Validation) {
        let path = FieldPath.root / "spec" / "networks"
        v.require(!spec.networks.isEmpty, path, "must have at least one network")
        spec.networks.validateEach(at: path, into: &v)
    }
}
