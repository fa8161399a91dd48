import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import WeftAPI
import WeftCore
import WeftStore
import X509

/// Who calls a destination or policy service: the identity its verified client certificate
/// names (mutual TLS), or nobody known (plaintext, on loopback). Over mutual TLS the context a
/// proxy sends (`context_token`, the policy `workload`) must be its own: Linkerd trusts that
/// string; Weft binds it to the certificate.
struct ControlPlaneCaller: Sendable {
    /// The caller's identity; nil when the service is served in plaintext.
    let identity: String?

    /// The most bytes a context token may have.
    static let maximumContextToken = 4 * 1024

    init(identity: String?) {
        self.identity = identity
    }

    /// The caller of an RPC, from its connection's peer certificate (nil identity without one).
    init(_ context: ServerContext) {
        let certificate = (context.transportSpecific as? HTTP2ServerTransport.Posix.Context)?.peerCertificate
        identity = certificate.flatMap(Self.identity(of:))
    }

    /// The first DNS name or URI the certificate's subject alternative names hold.
    static func identity(of certificate: Certificate) -> String? {
        certificate.identityNames.first
    }

    /// Checks `text` (a context token or policy workload) against the caller and returns it
    /// parsed. In plaintext anything parses leniently, as before. Over mutual TLS the text must be
    /// a JSON object of at most 4 KiB; the workload it names must have the caller's identity, and
    /// a namespace alone must be the caller's namespace. `required`: an empty text is refused.
    func check(_ text: String, what: String, required: Bool, in snapshot: StoreSnapshot) throws(RPCError) -> ContextToken {
        guard let identity else { return ContextToken(parsing: text) }
        guard text.utf8.count <= Self.maximumContextToken else {
            throw RPCError(code: .invalidArgument, message: "\(what) of \(text.utf8.count) bytes is over \(Self.maximumContextToken)")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty, !required { return ContextToken(parsing: "") }
        guard trimmed.hasPrefix("{"), (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) is [String: Any] else {
            throw RPCError(code: .invalidArgument, message: "\(what) is not a JSON object such as {\"ns\":\"shop\",\"external_workload\":\"web-1\"}")
        }
        let token = ContextToken(parsing: trimmed)
        if let pod = token.pod {
            throw RPCError(code: .permissionDenied, message: "\(what) names pod \(token.namespace ?? "?")/\(pod), which this controller cannot tie to \(identity)")
        }
        if let name = token.externalWorkload {
            let namespace = token.namespace ?? "default"
            guard case .externalWorkload(let workload)? = snapshot[ExternalWorkload.kind, namespace, name] else {
                throw RPCError(code: .permissionDenied, message: "\(what) names ExternalWorkload \(namespace)/\(name), which does not exist")
            }
            guard workload.identity?.description == identity else {
                throw RPCError(code: .permissionDenied,
                               message: "\(what) names ExternalWorkload \(namespace)/\(name), whose identity is not the caller's \(identity)")
            }
            return token
        }
        if let namespace = token.namespace, namespace != Self.namespace(of: identity) {
            throw RPCError(code: .permissionDenied, message: "\(what) names namespace \(namespace), not the caller's (\(identity))")
        }
        if token.namespace == nil, required {
            throw RPCError(code: .invalidArgument, message: "\(what) names no namespace and workload ({\"ns\":..,\"external_workload\":..})")
        }
        return token
    }

    /// The namespace a Linkerd-shaped identity names: `SA.NS.serviceaccount.identity.linkerd.TD`
    /// or `spiffe://TD/ns/NS/sa/SA`.
    static func namespace(of identity: String) -> String? {
        if identity.hasPrefix("spiffe://") {
            let parts = identity.split(separator: "/", omittingEmptySubsequences: true)
            guard let index = parts.firstIndex(of: "ns"), index + 1 < parts.count else { return nil }
            return String(parts[index + 1])
        }
        let labels = identity.split(separator: ".")
        guard labels.count > 3, labels[2] == "serviceaccount" else { return nil }
        return String(labels[1])
    }
}
