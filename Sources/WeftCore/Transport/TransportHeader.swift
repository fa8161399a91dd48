import NIOCore

/// The header a client proxy writes before any application bytes when it connects to a peer
/// proxy's inbound port with ALPN `transport.l5d.io/v1` (opaque transport).
///
/// On the wire: the 23-byte preface `transport.l5d.io/v1\r\n\r\n`, a 4-byte big-endian length,
/// then the protobuf message `transport.l5d.io.Header` of that length.
public struct TransportHeader: Hashable, Sendable {
    /// What follows the header on the connection.
    public enum SessionProtocol: Hashable, Sendable {
        case http1
        case http2
    }

    /// The ALPN protocol that announces a transport header.
    public static let alpnProtocol = "transport.l5d.io/v1"
    /// The preface, exactly as sent.
    public static let preface: [UInt8] = Array("transport.l5d.io/v1\r\n\r\n".utf8)
    /// The largest header message accepted or sent.
    public static let maximumMessageLength = 64 * 1024
    /// The longest gateway target name accepted or sent.
    public static let maximumNameLength = 255

    /// The original target port.
    public var port: UInt16
    /// The target host when the peer is a gateway; `nil` when there is none.
    public var name: String?
    /// `nil` when opaque bytes follow.
    public var sessionProtocol: SessionProtocol?

    public init(port: UInt16, name: String? = nil, sessionProtocol: SessionProtocol? = nil) {
        self.port = port
        self.name = name
        self.sessionProtocol = sessionProtocol
    }
}

/// Why transport-header bytes were refused.
public struct TransportHeaderError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The first bytes are not the preface.
        case badPreface
        /// The announced length is over ``TransportHeader/maximumMessageLength``.
        case messageTooLong
        /// The message is not a valid `transport.l5d.io.Header`.
        case malformedMessage
        /// The port is outside 1...65535.
        case invalidPort
        /// The name is too long or holds bytes that cannot be a host name.
        case invalidName
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "transport header \(code.rawValue): \(detail)" }
}

extension TransportHeader {
    /// Writes the preface, the length and the message (`Header { int32 port = 1; string name = 2;
    /// SessionProtocol session_protocol = 3; }`, `SessionProtocol { oneof kind { Http1 http1 = 1;
    /// Http2 http2 = 2; } }`).
    public func encode(into buffer: inout ByteBuffer) throws(TransportHeaderError) {
        guard port != 0 else { throw TransportHeaderError(.invalidPort, "port 0") }
        var message = ProtobufWriter()
        message.varint(1 << 3)
        message.varint(UInt64(port))
        if let name {
            try Self.validate(name: name)
            message.field(2, name)
        }
        switch sessionProtocol {
        case .http1?: message.field(3, [1 << 3 | 2, 0])
        case .http2?: message.field(3, [2 << 3 | 2, 0])
        case nil: break
        }
        let bytes = message.bytes
        buffer.reserveCapacity(minimumWritableBytes: Self.preface.count + 4 + bytes.count)
        buffer.writeBytes(Self.preface)
        buffer.writeInteger(UInt32(bytes.count), endianness: .big)
        buffer.writeBytes(bytes)
    }

    /// Reads a header from the front of `buffer`.
    ///
    /// Returns `nil`, consuming nothing, while more bytes are needed; throws as soon as the bytes
    /// seen so far cannot begin a valid header (a wrong preface is refused after its first wrong
    /// byte, an oversized length as soon as the length is read). On success the header's bytes
    /// are consumed and any bytes after it stay in `buffer`.
    public static func decode(from buffer: inout ByteBuffer) throws(TransportHeaderError) -> TransportHeader? {
        let available = buffer.readableBytes
        let prefaceSeen = min(available, preface.count)
        if let seen = buffer.getBytes(at: buffer.readerIndex, length: prefaceSeen),
           !seen.elementsEqual(preface[..<prefaceSeen]) {
            throw TransportHeaderError(.badPreface, "connection does not start with \"transport.l5d.io/v1\"")
        }
        guard available >= preface.count + 4,
              let length = buffer.getInteger(at: buffer.readerIndex + preface.count, endianness: .big, as: UInt32.self)
        else { return nil }
        guard length <= maximumMessageLength else {
            throw TransportHeaderError(.messageTooLong, "length \(length) is over \(maximumMessageLength)")
        }
        let start = buffer.readerIndex + preface.count + 4
        guard let bytes = buffer.getBytes(at: start, length: Int(length)) else { return nil }
        var port: Int64 = 0
        var name = ""
        var session: SessionProtocol??  = nil
        do {
            var reader = ProtobufReader(bytes[...])
            while !reader.isAtEnd {
                let (field, wireType) = try reader.key()
                switch (field, wireType) {
                case (1, 0): port = Int64(Int32(truncatingIfNeeded: try reader.varint()))
                case (2, 2): name = try reader.string()
                case (3, 2):
                    var kind = try reader.message()
                    var found: SessionProtocol?
                    while !kind.isAtEnd {
                        let (arm, armType) = try kind.key()
                        try kind.skip(wireType: armType)
                        if armType == 2 { found = arm == 1 ? .http1 : arm == 2 ? .http2 : found }
                    }
                    session = .some(found)
                default: try reader.skip(wireType: wireType)
                }
            }
        } catch {
            throw TransportHeaderError(.malformedMessage, "not a transport.l5d.io.Header: \(error)")
        }
        guard (1...65535).contains(port) else {
            throw TransportHeaderError(.invalidPort, "port \(port) is outside 1...65535")
        }
        var header = TransportHeader(port: UInt16(port))
        if !name.isEmpty {
            try validate(name: name)
            header.name = name
        }
        if case .some(let kind) = session {
            guard let kind else { throw TransportHeaderError(.malformedMessage, "session_protocol is set but names no protocol") }
            header.sessionProtocol = kind
        }
        buffer.moveReaderIndex(forwardBy: preface.count + 4 + Int(length))
        return header
    }

    /// A name must be a plausible host: printable ASCII with no space, `/`, `@` or `:`.
    private static func validate(name: String) throws(TransportHeaderError) {
        guard name.utf8.count <= maximumNameLength else {
            throw TransportHeaderError(.invalidName, "name is longer than \(maximumNameLength) bytes")
        }
        for byte in name.utf8 {
            guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "/"), byte != UInt8(ascii: "@"),
                  byte != UInt8(ascii: ":") else {
                throw TransportHeaderError(.invalidName, "name holds a byte that cannot be in a host name")
            }
        }
    }
}
