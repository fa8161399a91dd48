/// What every resource kind shares: its API versions, its metadata, and its validation.
public protocol ResourceObject: Codable, Hashable, Sendable {
    /// The `kind` field.
    static var kind: String { get }
    /// Every `apiVersion` this kind is read in, newest first within each group.
    static var supportedAPIVersions: [String] { get }
    /// Whether objects of this kind live in a namespace.
    static var isNamespaced: Bool { get }
    /// How names of this kind are formed.
    static var nameRule: ObjectMeta.NameRule { get }

    var apiVersion: String { get }
    var metadata: ObjectMeta { get set }

    /// Adds an error for every rule that the kind-specific parts (spec, status) break.
    func validateContent(into validation: inout Validation)
}

extension ResourceObject {
    public static var isNamespaced: Bool { true }
    public static var nameRule: ObjectMeta.NameRule { .subdomain }

    /// All that is wrong with this object, metadata first.
    public func validationErrors() -> [FieldError] {
        var validation = Validation()
        metadata.validate(at: FieldPath.root / "metadata", namespaced: Self.isNamespaced,
                          nameRule: Self.nameRule, into: &validation)
        validateContent(into: &validation)
        return validation.errors
    }

    /// The API group of this object's `apiVersion` (empty for the core group).
    public var apiGroup: String {
        let parts = apiVersion.split(separator: "/", maxSplits: 1)
        return parts.count == 2 ? String(parts[0]) : ""
    }

    /// The version part of `apiVersion`.
    public var version: String {
        String(apiVersion.split(separator: "/").last ?? "")
    }
}

extension Validation {
    /// Records an error when a field that only some versions have is used in another.
    mutating func requireVersion(_ present: Bool, _ path: FieldPath, apiVersion: String, allowed: [String]) {
        if present && !allowed.contains(apiVersion) {
            fail(path, "is not available in \(apiVersion) (use \(allowed.joined(separator: " or ")))")
        }
    }
}
