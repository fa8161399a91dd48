/// A core `v1` Namespace. Cluster-scoped.
public struct Namespace: ResourceObject {
    public static let kind = "Namespace"
    public static let supportedAPIVersions = ["v1"]
    public static var isNamespaced: Bool { false }
    public static var nameRule: ObjectMeta.NameRule { .label }

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta

    public init(name: String) {
        apiVersion = "v1"
        kind = Self.kind
        metadata = ObjectMeta(name: name)
    }

    public func validateContent(into validation: inout Validation) {}
}

/// A core `v1` ServiceAccount: the name a workload's Linkerd identity is made from.
public struct ServiceAccount: ResourceObject {
    public static let kind = "ServiceAccount"
    public static let supportedAPIVersions = ["v1"]

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var automountServiceAccountToken: Bool?

    public init(name: String, namespace: String) {
        apiVersion = "v1"
        kind = Self.kind
        metadata = ObjectMeta(name: name, namespace: namespace)
    }

    public func validateContent(into validation: inout Validation) {}
}
