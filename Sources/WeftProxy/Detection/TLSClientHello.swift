/// Reads the server name (SNI) from the first TLS record of a connection, without consuming it.
///
/// Only what is needed to route is parsed: the record header, the handshake header and the
/// ClientHello fields up to the `server_name` extension. Every length is checked against what is
/// present, so truncated or hostile bytes give `.incomplete` or `.notClientHello`, never a trap.
enum TLSClientHello {
    enum Result: Equatable {
        case incomplete
        case notClientHello
        case clientHello(serverName: String?)
    }

    static func parseServerName(_ bytes: [UInt8]) -> Result {
        var reader = ByteReader(bytes)
        // Record: type 22 (handshake), version 3.x, length.
        guard let type = reader.u8() else { return .incomplete }
        guard type == 0x16 else { return .notClientHello }
        guard let major = reader.u8() else { return .incomplete }
        guard major == 3 else { return .notClientHello }
        guard reader.skip(1), let recordLength = reader.u16() else { return .incomplete }
        guard recordLength > 0, recordLength <= 16_384 + 2048 else { return .notClientHello }
        // Handshake: type 1 (ClientHello), 24-bit length.
        guard let handshakeType = reader.u8() else { return .incomplete }
        guard handshakeType == 1 else { return .notClientHello }
        guard let helloLength = reader.u24() else { return .incomplete }
        guard helloLength >= 38 else { return .notClientHello }
        // The hello must fit in what a detector examines; a bigger one is routed without SNI.
        guard reader.skip(2 + 32) else { return .incomplete }                     // version, random
        guard let sessionLength = reader.u8() else { return .incomplete }
        guard sessionLength <= 32 else { return .notClientHello }
        guard reader.skip(Int(sessionLength)), let suitesLength = reader.u16() else { return .incomplete }
        guard suitesLength % 2 == 0 else { return .notClientHello }
        guard reader.skip(Int(suitesLength)), let compressionLength = reader.u8() else { return .incomplete }
        guard reader.skip(Int(compressionLength)) else { return .incomplete }
        guard let extensionsLength = reader.u16() else {
            // No extensions at all only if the record ends here; otherwise they have not arrived.
            return bytes.count < 5 + Int(recordLength) ? .incomplete : .clientHello(serverName: nil)
        }
        var remaining = Int(extensionsLength)
        while remaining >= 4 {
            guard let extensionType = reader.u16(), let length = reader.u16() else { return .incomplete }
            remaining -= 4 + Int(length)
            guard remaining >= 0 else { return .notClientHello }
            if extensionType != 0 {
                guard reader.skip(Int(length)) else { return .incomplete }
                continue
            }
            // server_name: list length, then entries of (type, 16-bit length, name).
            guard reader.skip(2), let nameType = reader.u8(), let nameLength = reader.u16() else { return .incomplete }
            guard nameType == 0, nameLength > 0, nameLength <= 255 else { return .notClientHello }
            guard let name = reader.bytes(Int(nameLength)) else { return .incomplete }
            guard name.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return .notClientHello }
            return .clientHello(serverName: String(decoding: name, as: UTF8.self))
        }
        return .clientHello(serverName: nil)
    }

    struct ByteReader {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var isAtEnd: Bool { index >= bytes.count }

        mutating func u8() -> UInt8? {
            guard index < bytes.count else { return nil }
            defer { index += 1 }
            return bytes[index]
        }

        mutating func u16() -> UInt16? {
            guard index + 2 <= bytes.count else { return nil }
            defer { index += 2 }
            return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
        }

        mutating func u24() -> UInt32? {
            guard index + 3 <= bytes.count else { return nil }
            defer { index += 3 }
            return UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
        }

        mutating func skip(_ count: Int) -> Bool {
            guard count >= 0, index + count <= bytes.count else { return false }
            index += count
            return true
        }

        mutating func bytes(_ count: Int) -> ArraySlice<UInt8>? {
            guard index + count <= bytes.count else { return nil }
            defer { index += count }
            return bytes[index..<(index + count)]
        }
    }
}
