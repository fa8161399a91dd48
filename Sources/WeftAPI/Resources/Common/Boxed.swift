/// Holds a value of a recursive type (a match whose `not` is another match) and codes as the
/// value itself.
public struct Boxed<Value: Codable & Hashable & Sendable>: Codable, Hashable, Sendable {
    private var storage: [Value]

    public init(_ value: Value) {
        storage = [value]
    }

    public var value: Value { storage[0] }

    public init(from decoder: any Decoder) throws {
        storage = [try Value(from: decoder)]
    }

    public func encode(to encoder: any Encoder) throws {
        try storage[0].encode(to: encoder)
    }
}

/// A field Weft reads but does not support; its presence is reported by validation with a
/// better message than "unknown field", and its contents are not examined.
public struct UnsupportedValue: Codable, Hashable, Sendable {
    public init(from decoder: any Decoder) throws {}
    public func encode(to encoder: any Encoder) throws {}
}
