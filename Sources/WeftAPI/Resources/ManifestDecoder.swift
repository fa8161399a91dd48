import Yams

/// One problem found in a manifest, located by source, document and field.
public struct ManifestProblem: Hashable, Sendable, CustomStringConvertible {
    /// The file name (or `-` for standard input).
    public let source: String
    /// The 1-based document number, when the problem is inside one document.
    public let document: Int?
    /// `Kind namespace/name`, when known.
    public let object: String?
    /// The 1-based line, for YAML syntax problems.
    public let line: Int?
    /// The field, when the problem is with one.
    public let path: FieldPath?
    public let message: String

    public var description: String {
        var text = source
        if let document {
            text += ": document \(document)"
            if let object { text += " (\(object))" }
        }
        if let line { text += ": line \(line)" }
        if let path { text += ": \(path)" }
        return text + ": " + message
    }
}

/// Why a manifest was refused: every problem in it, so all can be fixed at once. Nothing in a
/// refused manifest is accepted.
public struct ManifestError: Error, Hashable, Sendable, CustomStringConvertible {
    public let problems: [ManifestProblem]

    public init(problems: [ManifestProblem]) {
        self.problems = problems
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Reads multi-document YAML into validated resources, all or nothing.
public struct ManifestDecoder: Sendable {
    public var limits: ManifestLimits

    public init(limits: ManifestLimits = .default) {
        self.limits = limits
    }

    /// The resources in `text`, in document order, or every problem found.
    public func decode(_ text: String, source: String) throws(ManifestError) -> [Resource] {
        let documents: [Node]
        do {
            documents = try YAMLDocumentReader.documents(in: text, limits: limits)
        } catch {
            throw ManifestError(problems: [
                ManifestProblem(source: source, document: nil, object: nil, line: error.line, path: nil, message: error.message),
            ])
        }
        var resources: [Resource] = []
        var problems: [ManifestProblem] = []
        for (offset, node) in documents.enumerated() {
            switch decodeDocument(node) {
            case .success(let resource):
                resources.append(resource)
            case .failure(let failure):
                for error in failure.errors {
                    problems.append(ManifestProblem(source: source, document: offset + 1, object: failure.object,
                                                    line: nil, path: error.path, message: error.message))
                }
            }
        }
        guard problems.isEmpty else { throw ManifestError(problems: problems) }
        return resources
    }

    struct DocumentFailure: Error {
        let object: String?
        let errors: [FieldError]
    }

    private func decodeDocument(_ node: Node) -> Result<Resource, DocumentFailure> {
        guard case .mapping(let mapping) = node else {
            return .failure(DocumentFailure(object: nil, errors: [FieldError(.root, "a document must be a mapping with apiVersion and kind")]))
        }
        func text(_ key: String) -> String? {
            guard case .scalar(let scalar)? = mapping[key] else { return nil }
            return scalar.string
        }
        guard let kind = text("kind"), !kind.isEmpty else {
            return .failure(DocumentFailure(object: nil, errors: [FieldError(FieldPath.root / "kind", "is required")]))
        }
        guard let type = Resource.kinds.first(where: { $0.kind == kind }) else {
            let known = Resource.kinds.map { $0.kind }.joined(separator: ", ")
            return .failure(DocumentFailure(object: nil, errors: [
                FieldError(FieldPath.root / "kind", "unknown kind \"\(kind)\" (Weft reads \(known))"),
            ]))
        }
        var metadata = ObjectMeta()
        if case .mapping(let meta)? = mapping["metadata"] {
            if case .scalar(let name)? = meta["name"] { metadata.name = name.string }
            if case .scalar(let namespace)? = meta["namespace"] { metadata.namespace = namespace.string }
        }
        let object = Resource.label(kind: kind, namespaced: type.isNamespaced, metadata: metadata)
        guard let apiVersion = text("apiVersion"), !apiVersion.isEmpty else {
            return .failure(DocumentFailure(object: object, errors: [FieldError(FieldPath.root / "apiVersion", "is required")]))
        }
        guard type.supportedAPIVersions.contains(apiVersion) else {
            return .failure(DocumentFailure(object: object, errors: [
                FieldError(FieldPath.root / "apiVersion",
                           "\(kind) is not read in \"\(apiVersion)\" (supported: \(type.supportedAPIVersions.joined(separator: ", ")))"),
            ]))
        }
        do {
            let decoded = try StrictDecoder().decode(type, from: node)
            let errors = decoded.validationErrors()
            guard errors.isEmpty else { return .failure(DocumentFailure(object: object, errors: errors)) }
            return .success(Resource(decoded))
        } catch {
            return .failure(DocumentFailure(object: object, errors: [error]))
        }
    }
}
