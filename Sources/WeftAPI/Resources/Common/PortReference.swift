/// A port given as a number or as the name of a port (Kubernetes' int-or-string).
public enum PortReference: Hashable, Sendable, Codable, CustomStringConvertible {
    case number(UInt16)
    case name(String)

    public init(from decoder: any Decoder) throws {
        let raw = try RawScalar(from: decoder)
        let path = FieldPath(codingPath: decoder.codingPath)
        if raw.isPlain, YAMLScalarForm.isDecimalInteger(raw.text) {
            guard let value = Int(raw.text), (1...65535).contains(value) else {
                throw FieldError(path, "port \(raw.text) is outside 1-65535")
            }
            self = .number(UInt16(value))
            return
        }
        if raw.isPlain, YAMLScalarForm.isNumber(raw.text) {
            throw FieldError(path, "port \"\(raw.text)\" must be a decimal number or a port name")
        }
        if let problem = NameRules.portName(raw.text) { throw FieldError(path, problem) }
        self = .name(raw.text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .name(let name): try container.encode(name)
        }
    }

    public var description: String {
        switch self {
        case .number(let value): String(value)
        case .name(let name): name
        }
    }
}

/// A port number, 1-65535.
public struct PortNumber: Hashable, Sendable, Codable, CustomStringConvertible {
    public let value: UInt16

    public init(_ value: UInt16) {
        self.value = value
    }

    public init(from decoder: any Decoder) throws {
        let raw = try RawScalar(from: decoder)
        let path = FieldPath(codingPath: decoder.codingPath)
        guard raw.isPlain, YAMLScalarForm.isDecimalInteger(raw.text) else {
            throw FieldError(path, "port must be a decimal number, got \"\(raw.text)\"")
        }
        guard let number = Int(raw.text), (1...65535).contains(number) else {
            throw FieldError(path, "port \(raw.text) is outside 1-65535")
        }
        value = UInt16(number)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }

    public var description: String { String(value) }
}
