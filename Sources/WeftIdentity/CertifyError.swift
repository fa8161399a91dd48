/// Why the identity service refused a `Certify` request, with the gRPC status it maps to
/// (reliability.md A3: Linkerd's codes, plus Weft's own checks).
public struct CertifyError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Missing or malformed input: no identity, token or CSR; unparseable DER; a bad CSR
        /// self-signature; a key other than P-256; a CA request.
        case invalidArgument
        /// Well-formed but not acceptable: the CSR's names do not match the identity, or the token
        /// is not valid for it.
        case failedPrecondition
        /// The issuer is not loaded.
        case unavailable
        /// The client asked too often.
        case resourceExhausted
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
