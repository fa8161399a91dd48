/// The `metadata` of every resource. Fields the store fills in (uid, resourceVersion, generation,
/// creationTimestamp) are accepted so that what `weft get -o yaml` prints can be applied again.
public struct ObjectMeta: Hashable, Sendable, Codable {
    public var name: String?
    public var namespace: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: String?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil,
                annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }

    /// How a kind's names are formed.
    public enum NameRule: Sendable {
        /// An RFC 1123 label (Namespace, Service).
        case label
        /// An RFC 1123 subdomain (most kinds).
        case subdomain
    }

    /// The most bytes all annotations of one object may take, as in Kubernetes.
    public static let maximumAnnotationBytes = 256 * 1024

    /// Checks the name, the namespace (present only for namespaced kinds), labels and annotations.
    public func validate(at path: FieldPath, namespaced: Bool, nameRule: NameRule, into v: inout Validation) {
        if let name {
            let problem = nameRule == .label ? NameRules.dnsLabel(name) : NameRules.dnsSubdomain(name)
            if let problem { v.fail(path / "name", problem) }
        } else {
            v.fail(path / "name", "is required")
        }
        if let namespace {
            if !namespaced {
                v.fail(path / "namespace", "must not be set: this kind is not namespaced")
            } else if let problem = NameRules.dnsLabel(namespace) {
                v.fail(path / "namespace", problem)
            }
        }
        for key in (labels ?? [:]).keys.sorted() {
            if let problem = NameRules.labelKey(key) { v.fail(path / "labels", problem) }
            if let problem = NameRules.labelValue(labels![key]!) { v.fail(path / "labels" / key, problem) }
        }
        var annotationBytes = 0
        for (key, value) in (annotations ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let problem = NameRules.labelKey(key) { v.fail(path / "annotations", problem) }
            annotationBytes += key.utf8.count + value.utf8.count
        }
        if annotationBytes > Self.maximumAnnotationBytes {
            v.fail(path / "annotations", "must take at most \(Self.maximumAnnotationBytes) bytes in all")
        }
    }
}
