import WeftAPI

/// Names one stored object: its kind, namespace (empty for cluster-scoped kinds) and name.
public struct ResourceKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let kind: String
    public let namespace: String
    public let name: String

    public init(kind: String, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// The key of `resource`; namespaced kinds without a namespace are in `default`, as in kubectl.
    public init(_ resource: Resource) {
        let namespaced = type(of: resource.object).isNamespaced
        self.init(kind: resource.kind, namespace: namespaced ? (resource.metadata.namespace ?? "default") : "",
                  name: resource.metadata.name ?? "")
    }

    public var description: String { namespace.isEmpty ? "\(kind) \(name)" : "\(kind) \(namespace)/\(name)" }

    public static func < (lhs: ResourceKey, rhs: ResourceKey) -> Bool {
        (lhs.kind, lhs.namespace, lhs.name) < (rhs.kind, rhs.namespace, rhs.name)
    }
}
