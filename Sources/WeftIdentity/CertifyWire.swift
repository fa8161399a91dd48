import WeftCore

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
        var writer = ProtobufWriter()
        writer.field(1, identity)
        writer.field(2, token)
        writer.field(3, csr)
        return writer.bytes
    }

    /// `CertifyResponse { bytes leaf_certificate = 1; repeated bytes intermediate_certificates = 2;
    /// google.protobuf.Timestamp valid_until = 3; }`; unknown fields are skipped.
    public static func decodeResponse(_ bytes: [UInt8]) throws(DecodingError) -> Response {
        do {
            var response = Response()
            var reader = ProtobufReader(bytes[...])
            while !reader.isAtEnd {
                let (field, wireType) = try reader.key()
                switch (field, wireType) {
                case (1, 2): response.leafCertificate = Array(try reader.lengthDelimited())
                case (2, 2): response.intermediateCertificates.append(Array(try reader.lengthDelimited()))
                case (3, 2):
                    var timestamp = try reader.message()
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
        } catch {
            throw DecodingError(description: error.description)
        }
    }
}
