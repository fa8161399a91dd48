import Crypto
import SwiftASN1
import X509

/// The pin of a trust anchor that a joining host checks the controller's TLS chain against:
/// `sha256:` and the hex SHA-256 of the anchor's SubjectPublicKeyInfo (DER), as kubeadm's
/// `--discovery-token-ca-cert-hash`. The public key, not the certificate: re-signing the anchor
/// with the same key keeps the pin.
public enum SPKIPin {
    public static func of(_ certificate: Certificate) throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate.publicKey)
        return "sha256:" + SHA256.hash(data: serializer.serializedBytes).map { hex($0) }.joined()
    }

    /// The pin of the first anchor (the one `weft identity init` made).
    public static func of(anchors: [Certificate]) throws -> String {
        guard let first = anchors.first else { throw TrustDirectoryError("no trust anchor") }
        return try of(first)
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
