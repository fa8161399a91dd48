/// Where a value sits inside a resource, printed the way kubectl does: `spec.rules[0].matches[1]`.
public struct FieldPath: Hashable, Sendable, CustomStringConvertible {
    enum Component: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    var components: [Component]

    /// The document's root.
    public static let root = FieldPath(components: [])

    init(components: [Component]) {
        self.components = components
    }

    init(codingPath: [any CodingKey]) {
        components = codingPath.map { key in
            if let index = key.intValue, key.stringValue.hasPrefix("Index ") { return .index(index) }
            return .key(key.stringValue)
        }
    }

    /// The path of a field below this one.
    public func appending(_ key: String) -> FieldPath {
        FieldPath(components: components + [.key(key)])
    }

    /// The path of an element below this one.
    public func appending(_ index: Int) -> FieldPath {
        FieldPath(components: components + [.index(index)])
    }

    public static func / (path: FieldPath, key: String) -> FieldPath { path.appending(key) }
    public static func / (path: FieldPath, index: Int) -> FieldPath { path.appending(index) }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key):
                if !text.isEmpty { text += "." }
                text += key
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text.isEmpty ? "(root)" : text
    }
}

/// One thing wrong with one field of a resource.
public struct FieldError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: FieldPath
    public let message: String

    public init(_ path: FieldPath, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Collects every ``FieldError`` a resource has, so a user sees them all at once.
public struct Validation: Sendable {
    public private(set) var errors: [FieldError] = []

    public init() {}

    /// Records an error at `path`.
    public mutating func fail(_ path: FieldPath, _ message: String) {
        errors.append(FieldError(path, message))
    }

    /// Records an error at `path` unless `condition` holds.
    public mutating func require(_ condition: Bool, _ path: FieldPath, _ message: @autoclosure () -> String) {
        if !condition { fail(path, message()) }
    }
}

/// A value that can check itself once decoded.
public protocol Validatable {
    /// Adds an error for each rule this value, found at `path`, breaks.
    func validate(at path: FieldPath, into validation: inout Validation)
}

extension Optional: Validatable where Wrapped: Validatable {
    public func validate(at path: FieldPath, into validation: inout Validation) {
        self?.validate(at: path, into: &validation)
    }
}

extension Array where Element: Validatable {
    /// Validates every element at `path[i]`.
    func validateEach(at path: FieldPath, into validation: inout Validation) {
        for (index, element) in enumerated() {
            element.validate(at: path / index, into: &validation)
        }
    }
}

extension FieldError {
    /// A decoding error, at the field its context names.
    init(decodingError: DecodingError) {
        switch decodingError {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
            .dataCorrupted(let context):
            self.init(FieldPath(codingPath: context.codingPath), context.debugDescription)
        @unknown default:
            self.init(.root, "\(decodingError)")
        }
    }
}
