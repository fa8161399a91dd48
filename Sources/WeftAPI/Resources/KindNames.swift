/// The names a person may use for a kind on the command line, as kubectl takes them:
/// the kind, its plural, and short names, in any case (`svc`, `services`, `Service`).
public enum KindNames {
    static let shortNames: [String: String] = [
        "ns": "Namespace", "sa": "ServiceAccount", "svc": "Service", "ew": "ExternalWorkload",
        "srv": "Server", "saz": "ServerAuthorization", "sp": "ServiceProfile",
    ]

    /// The kind named by `text`, or nil.
    public static func kind(for text: String) -> String? {
        let lower = text.lowercased()
        if let kind = shortNames[lower] { return kind }
        for type in Resource.kinds {
            let kind = type.kind.lowercased()
            if lower == kind || lower == kind + "s" || lower == kind + "es" { return type.kind }
            if kind.hasSuffix("y"), lower == kind.dropLast() + "ies" { return type.kind }
        }
        return nil
    }
}
