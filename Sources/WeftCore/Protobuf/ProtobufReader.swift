/// A malformed protobuf message.
public struct ProtobufDecodingError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Reads protobuf wire format field by field, for the few messages the proxy decodes by hand
/// (it does not link SwiftProtobuf, which needs all of Foundation). Every length is checked
/// against the bytes left; nothing is copied until a caller asks for bytes.
public struct ProtobufReader {
    public var bytes: ArraySlice<UInt8>
    public var isAtEnd: Bool { bytes.isEmpty }

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    public mutating func varint() throws(ProtobufDecodingError) -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard let byte = bytes.popFirst() else { throw ProtobufDecodingError("truncated varint") }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
        }
        throw ProtobufDecodingError("varint longer than 10 bytes")
    }

    /// The next field's number and wire type.
    public mutating func key() throws(ProtobufDecodingError) -> (field: UInt64, wireType: UInt64) {
        let key = try varint()
        guard key >> 3 > 0 else { throw ProtobufDecodingError("field number 0") }
        return (key >> 3, key & 7)
    }

    public mutating func lengthDelimited() throws(ProtobufDecodingError) -> ArraySlice<UInt8> {
        let length = try varint()
        guard length <= UInt64(bytes.count) else { throw ProtobufDecodingError("length \(length) past the end") }
        let value = bytes.prefix(Int(length))
        bytes = bytes.dropFirst(Int(length))
        return value
    }

    /// A nested message's reader.
    public mutating func message() throws(ProtobufDecodingError) -> ProtobufReader {
        ProtobufReader(try lengthDelimited())
    }

    public mutating func string() throws(ProtobufDecodingError) -> String {
        String(decoding: try lengthDelimited(), as: UTF8.self)
    }

    public mutating func fixed32() throws(ProtobufDecodingError) -> UInt32 {
        guard bytes.count >= 4 else { throw ProtobufDecodingError("truncated fixed32") }
        var value: UInt32 = 0
        for (index, byte) in bytes.prefix(4).enumerated() { value |= UInt32(byte) << (8 * index) }
        bytes = bytes.dropFirst(4)
        return value
    }

    public mutating func fixed64() throws(ProtobufDecodingError) -> UInt64 {
        guard bytes.count >= 8 else { throw ProtobufDecodingError("truncated fixed64") }
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(8).enumerated() { value |= UInt64(byte) << (8 * index) }
        bytes = bytes.dropFirst(8)
        return value
    }

    /// Skips a field the caller does not read.
    public mutating func skip(wireType: UInt64) throws(ProtobufDecodingError) {
        switch wireType {
        case 0: _ = try varint()
        case 1: _ = try fixed64()
        case 5: _ = try fixed32()
        case 2: _ = try lengthDelimited()
        default: throw ProtobufDecodingError("unsupported wire type \(wireType)")
        }
    }
}

/// Writes protobuf wire format (the counterpart of ``ProtobufReader``).
public struct ProtobufWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// A length-delimited field; empty values are left out, as proto3 does.
    public mutating func field(_ number: UInt64, _ value: [UInt8]) {
        guard !value.isEmpty else { return }
        varint(number << 3 | 2)
        varint(UInt64(value.count))
        bytes += value
    }

    public mutating func field(_ number: UInt64, _ value: String) {
        field(number, Array(value.utf8))
    }

    /// An embedded message, written even when empty (its presence is meaningful).
    public mutating func field(_ number: UInt64, message: ProtobufWriter) {
        varint(number << 3 | 2)
        varint(UInt64(message.bytes.count))
        bytes += message.bytes
    }

    public mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}
