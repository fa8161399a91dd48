/// The two messages of `io.linkerd.proxy.identity.Identity/Certify` in protobuf wire format,
/// written out by hand so that the proxy needs neither SwiftProtobuf nor Foundation for them
/// (linkerd-compat §1.3; the generated types in WeftAPI are checked against this in tests).
public enum CertifyWire {
    /// Errors in a response's bytes.
    public struct DecodingError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// A decoded `CertifyResponse`.
    public struct Response: Equatable, Sendable {
        public var leafCertificate: [UInt8] = []
        public var intermediateCertificates: [[UInt8]] = []
        /// `valid_until` as seconds since the Unix epoch, if present.
        public var validUntil: (seconds: Int64, nanos: Int32)?

        public static func == (lhs: Response, rhs: Response) -> Bool {
            lhs.leafCertificate == rhs.leafCertificate && lhs.intermediateCertificates == rhs.intermediateCertificates
                && lhs.validUntil?.seconds == rhs.validUntil?.seconds && lhs.validUntil?.nanos == rhs.validUntil?.nanos
        }
    }

    /// `CertifyRequest { string identity = 1; bytes token = 2; bytes certificate_signing_request = 3; }`
    public static func encodeRequest(identity: String, token: [UInt8], csr: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(identity.utf8.count + token.count + csr.count + 16)
        appendField(1, Array(identity.utf8), to: &out)
        appendField(2, token, to: &out)
        appendField(3, csr, to: &out)
        return out
    }

    /// `CertifyResponse { bytes leaf_certificate = 1; repeated bytes intermediate_certificates = 2;
    /// google.protobuf.Timestamp valid_until = 3; }`; unknown fields are skipped.
    public static func decodeResponse(_ bytes: [UInt8]) throws(DecodingError) -> Response {
        var response = Response()
        var reader = Reader(bytes: bytes[...])
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): response.leafCertificate = Array(try reader.lengthDelimited())
            case (2, 2): response.intermediateCertificates.append(Array(try reader.lengthDelimited()))
            case (3, 2):
                var timestamp = Reader(bytes: try reader.lengthDelimited())
                var seconds: Int64 = 0
                var nanos: Int32 = 0
                while !timestamp.isAtEnd {
                    switch try timestamp.key() {
                    case (1, 0): seconds = Int64(bitPattern: try timestamp.varint())
                    case (2, 0): nanos = Int32(truncatingIfNeeded: try timestamp.varint())
                    case (_, let type): try timestamp.skip(wireType: type)
                    }
                }
                response.validUntil = (seconds, nanos)
            default: try reader.skip(wireType: wireType)
            }
        }
        return response
    }

    private static func appendField(_ number: UInt64, _ value: [UInt8], to out: inout [UInt8]) {
        guard !value.isEmpty else { return }
        appendVarint(number << 3 | 2, to: &out)
        appendVarint(UInt64(value.count), to: &out)
        out += value
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    private struct Reader {
        var bytes: ArraySlice<UInt8>
        var isAtEnd: Bool { bytes.isEmpty }

        mutating func varint() throws(DecodingError) -> UInt64 {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard let byte = bytes.popFirst() else { throw DecodingError(description: "truncated varint") }
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
            }
            throw DecodingError(description: "varint longer than 10 bytes")
        }

        mutating func key() throws(DecodingError) -> (field: UInt64, wireType: UInt64) {
            let key = try varint()
            guard key >> 3 > 0 else { throw DecodingError(description: "field number 0") }
            return (key >> 3, key & 7)
        }

        mutating func lengthDelimited() throws(DecodingError) -> ArraySlice<UInt8> {
            let length = try varint()
            guard length <= UInt64(bytes.count) else { throw DecodingError(description: "length \(length) past the end") }
            let value = bytes.prefix(Int(length))
            bytes = bytes.dropFirst(Int(length))
            return value
        }

        mutating func skip(wireType: UInt64) throws(DecodingError) {
            switch wireType {
            case 0: _ = try varint()
            case 1, 5:
                let width = wireType == 1 ? 8 : 4
                guard bytes.count >= width else { throw DecodingError(description: "truncated fixed field") }
                bytes = bytes.dropFirst(width)
            case 2: _ = try lengthDelimited()
            default: throw DecodingError(description: "unsupported wire type \(wireType)")
            }
        }
    }
}
