import Yams

/// Decodes `Decodable` values from YAML nodes the way an API server should: unknown fields are
/// errors, scalars are interpreted by the type they decode into (a string field refuses `on`,
/// `no` or `123` that YAML would read as something else; an integer is decimal only; a boolean is
/// `true` or `false`), and every error carries the path of the field.
public struct StrictDecoder {
    public init() {}

    /// Decodes a `T` from a whole document.
    public func decode<T: Decodable>(_ type: T.Type, from node: Node) throws(FieldError) -> T {
        let session = StrictDecodingSession()
        let value: T
        do {
            value = try T(from: NodeDecoder(node: node, codingPath: [], session: session))
        } catch let error as FieldError {
            throw error
        } catch let error as DecodingError {
            throw FieldError(decodingError: error)
        } catch {
            throw FieldError(.root, "\(error)")
        }
        if let unknown = session.firstUnknownField() { throw unknown }
        return value
    }
}

/// Remembers which keys of which mappings were asked for, to report the rest as unknown fields.
final class StrictDecodingSession {
    private var mappings: [FieldPath: (keys: [String], used: Set<String>)] = [:]
    private var order: [FieldPath] = []

    func register(_ path: FieldPath, keys: [String]) {
        if mappings[path] == nil {
            mappings[path] = (keys, [])
            order.append(path)
        }
    }

    func markUsed(_ key: String, at path: FieldPath) {
        mappings[path]?.used.insert(key)
    }

    func firstUnknownField() -> FieldError? {
        for path in order {
            guard let entry = mappings[path] else { continue }
            if let key = entry.keys.first(where: { !entry.used.contains($0) }) {
                return FieldError(path / key, "unknown field")
            }
        }
        return nil
    }
}

/// A scalar exactly as written, for types with their own syntax (durations, quantities, ports).
public struct RawScalar: Decodable, Sendable {
    public let text: String
    /// Whether it was written without quotes (so YAML would have typed it).
    public let isPlain: Bool

    public init(from decoder: any Decoder) throws {
        if let decoder = decoder as? NodeDecoder {
            guard case .scalar(let scalar) = decoder.node else {
                throw FieldError(decoder.path, "expected a value, got \(decoder.node.kindName)")
            }
            self.text = scalar.string
            self.isPlain = scalar.style == .plain || scalar.style == .any
        } else {
            self.text = try decoder.singleValueContainer().decode(String.self)
            self.isPlain = false
        }
    }
}

struct NodeDecoder: Decoder {
    let node: Node
    let codingPath: [any CodingKey]
    let session: StrictDecodingSession
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    var path: FieldPath { FieldPath(codingPath: codingPath) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let mapping) = node else {
            throw FieldError(path, "expected a mapping, got \(node.kindName)")
        }
        var entries: [String: Node] = [:]
        var keys: [String] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                throw FieldError(path, "mapping keys must be strings")
            }
            entries[scalar.string] = value
            keys.append(scalar.string)
        }
        session.register(path, keys: keys)
        return KeyedDecodingContainer(KeyedNodeContainer<Key>(
            entries: entries, keys: keys, codingPath: codingPath, session: session))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        if case .sequence(let sequence) = node {
            return UnkeyedNodeContainer(elements: Array(sequence), codingPath: codingPath, session: session)
        }
        throw FieldError(path, "expected a list, got \(node.kindName)")
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleNodeContainer(decoder: self)
    }
}

struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let entries: [String: Node]
    let keys: [String]
    let codingPath: [any CodingKey]
    let session: StrictDecodingSession

    var path: FieldPath { FieldPath(codingPath: codingPath) }
    var allKeys: [Key] {
        keys.compactMap { Key(stringValue: $0) }
    }

    func contains(_ key: Key) -> Bool {
        session.markUsed(key.stringValue, at: path)
        return entries[key.stringValue] != nil
    }

    private func child(_ key: Key) throws -> NodeDecoder {
        session.markUsed(key.stringValue, at: path)
        guard let node = entries[key.stringValue] else {
            throw FieldError(path / key.stringValue, "is required")
        }
        return NodeDecoder(node: node, codingPath: codingPath + [key], session: session)
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        session.markUsed(key.stringValue, at: path)
        guard let node = entries[key.stringValue] else { return true }
        return node.isYAMLNull
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let decoder = try child(key)
        return try SingleNodeContainer(decoder: decoder).decode(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        throw FieldError(path, "inheritance is not supported")
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        try child(key)
    }
}

struct UnkeyedNodeContainer: UnkeyedDecodingContainer {
    let elements: [Node]
    let codingPath: [any CodingKey]
    let session: StrictDecodingSession
    var currentIndex = 0

    init(elements: [Node], codingPath: [any CodingKey], session: StrictDecodingSession) {
        self.elements = elements
        self.codingPath = codingPath
        self.session = session
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next() throws -> NodeDecoder {
        guard !isAtEnd else {
            throw FieldError(FieldPath(codingPath: codingPath), "list has too few elements")
        }
        defer { currentIndex += 1 }
        return NodeDecoder(node: elements[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)], session: session)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        if elements[currentIndex].isYAMLNull {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try SingleNodeContainer(decoder: next()).decode(type)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next().unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        try next()
    }
}

struct SingleNodeContainer: SingleValueDecodingContainer {
    let decoder: NodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    private var path: FieldPath { decoder.path }

    init(decoder: NodeDecoder) {
        self.decoder = decoder
    }

    func decodeNil() -> Bool { decoder.node.isYAMLNull }

    /// The scalar, refusing mappings, lists and (unless `allowNull`) nulls.
    private func scalar(expecting what: String) throws -> Node.Scalar {
        guard case .scalar(let scalar) = decoder.node else {
            throw FieldError(path, "expected \(what), got \(decoder.node.kindName)")
        }
        if decoder.node.isYAMLNull { throw FieldError(path, "expected \(what), got null") }
        return scalar
    }

    func decode(_ type: Bool.Type) throws -> Bool {
        let scalar = try scalar(expecting: "a boolean")
        guard scalar.isPlain else { throw FieldError(path, "expected a boolean, got a quoted string") }
        switch scalar.string {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        case let text where YAMLScalarForm.isYAML11Boolean(text):
            throw FieldError(path, "ambiguous boolean \"\(text)\": write true or false")
        default:
            throw FieldError(path, "expected a boolean (true or false), got \"\(scalar.string)\"")
        }
    }

    func decode(_ type: String.Type) throws -> String {
        let scalar = try scalar(expecting: "a string")
        if scalar.isPlain {
            let text = scalar.string
            if YAMLScalarForm.isYAML11Boolean(text) || ["true", "True", "TRUE", "false", "False", "FALSE"].contains(text) {
                throw FieldError(path, "expected a string, got \(text), which YAML reads as a boolean; quote it")
            }
            if YAMLScalarForm.isNumber(text) {
                throw FieldError(path, "expected a string, got \(text), which YAML reads as a number; quote it")
            }
        }
        return scalar.string
    }

    func decode(_ type: Double.Type) throws -> Double {
        let scalar = try scalar(expecting: "a number")
        guard scalar.isPlain else { throw FieldError(path, "expected a number, got a quoted string") }
        guard YAMLScalarForm.isDecimalNumber(scalar.string), let value = Double(scalar.string), value.isFinite else {
            throw FieldError(path, "expected a decimal number, got \"\(scalar.string)\"")
        }
        return value
    }

    func decode(_ type: Float.Type) throws -> Float {
        Float(try decode(Double.self))
    }

    private func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        let scalar = try scalar(expecting: "an integer")
        guard scalar.isPlain else { throw FieldError(path, "expected an integer, got a quoted string") }
        let text = scalar.string
        guard YAMLScalarForm.isDecimalInteger(text) else {
            throw FieldError(path, "expected a decimal integer, got \"\(text)\"")
        }
        guard let value = T(text) else {
            throw FieldError(path, "\(text) is out of range (\(T.min)...\(T.max))")
        }
        return value
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is String.Type: return try decode(String.self) as! T
        case is Bool.Type: return try decode(Bool.self) as! T
        case is Int.Type: return try decode(Int.self) as! T
        case is Int32.Type: return try decode(Int32.self) as! T
        case is Int64.Type: return try decode(Int64.self) as! T
        case is UInt16.Type: return try decode(UInt16.self) as! T
        case is UInt32.Type: return try decode(UInt32.self) as! T
        case is UInt64.Type: return try decode(UInt64.self) as! T
        case is Double.Type: return try decode(Double.self) as! T
        case is Float.Type: return try decode(Float.self) as! T
        default: return try T(from: decoder)
        }
    }
}

/// How YAML 1.1 and 1.2 would type a plain scalar.
enum YAMLScalarForm {
    static func isYAML11Boolean(_ text: String) -> Bool {
        switch text {
        case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
            "on", "On", "ON", "off", "Off", "OFF":
            true
        default:
            false
        }
    }

    static func isDecimalInteger(_ text: String) -> Bool {
        var digits = Substring(text)
        if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return digits == "0" || digits.first != "0"
    }

    static func isDecimalNumber(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.first == "-" || rest.first == "+" { rest = rest.dropFirst() }
        let mantissa = rest.prefix(while: { $0 != "e" && $0 != "E" })
        let exponent = rest.dropFirst(mantissa.count)
        let parts = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !mantissa.isEmpty, parts.count <= 2,
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              parts.contains(where: { !$0.isEmpty }) else { return false }
        if exponent.isEmpty { return true }
        var digits = exponent.dropFirst()
        if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Any form YAML 1.1 or 1.2 would read as a number: decimal, octal, hex, binary, infinity, NaN.
    static func isNumber(_ text: String) -> Bool {
        if isDecimalNumber(text) { return true }
        var rest = Substring(text)
        if rest.first == "-" || rest.first == "+" { rest = rest.dropFirst() }
        let lower = rest.lowercased()
        if [".inf", ".nan"].contains(lower) { return true }
        for prefix in ["0x", "0o", "0b"] where lower.hasPrefix(prefix) && lower.count > 2 {
            return lower.dropFirst(2).allSatisfy { $0.isHexDigit || $0 == "_" }
        }
        return false
    }
}

extension Node {
    var isYAMLNull: Bool {
        guard case .scalar(let scalar) = self, scalar.isPlain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    var kindName: String {
        switch self {
        case .scalar(let scalar): isYAMLNull ? "null" : "\"\(scalar.string.prefix(40))\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}

extension Node.Scalar {
    var isPlain: Bool { style == .plain || style == .any }
}
