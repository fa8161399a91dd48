import Foundation
import NIOHTTP1
import WeftIdentity
import WeftServing
import X509

/// Who calls the management API, and so what it may do:
/// - on the Unix socket, whoever can open it (0600: the controller's user) — everything;
/// - over TCP (TLS), an operator with a certificate from `weft identity operator create` —
///   everything; a host with a join token and no certificate — `POST /v1/join` only; a joined
///   workload with its bootstrap token (`Authorization: Bearer`) — renewing that token, reading its
///   own ExternalWorkload and leaving.
enum ManagementCaller: Equatable {
    case local
    case `operator`(String)
    case workload(identity: String)
    case anonymous

    /// The SPIFFE ID of an operator certificate: `spiffe://<trust domain>/weft/operator/<name>`,
    /// a form the identity service never issues for workloads.
    static func operatorIdentity(_ name: String, trustDomain: String) -> String {
        "spiffe://\(trustDomain)/weft/operator/\(name)"
    }

    /// The caller of a request that came over TCP.
    init(tcp request: HTTPEndpointRequest, trustDomain: String, tokens: TokenSigner?, revocations: TokenRevocations?) {
        let operatorPrefix = Self.operatorIdentity("", trustDomain: trustDomain)
        if let der = request.clientCertificate, let certificate = try? Certificate(derEncoded: der),
           let identity = ControlPlaneCaller.identity(of: certificate), identity.hasPrefix(operatorPrefix), identity.count > operatorPrefix.count {
            self = .operator(String(identity.dropFirst(operatorPrefix.count)))
            return
        }
        if let header = request.headers.first(name: "authorization"), header.hasPrefix("Bearer "), let tokens,
           let token = try? tokens.verify(String(header.dropFirst("Bearer ".count))), !(revocations?.isRevoked(token.id) ?? false) {
            self = .workload(identity: token.identity)
            return
        }
        self = .anonymous
    }

    /// Whether the caller may make this request at all (the endpoints check what a workload
    /// names); the refusal otherwise.
    func refusal(for request: HTTPEndpointRequest) -> HTTPEndpointResponse? {
        switch (self, request.method, request.path) {
        case (.local, _, _), (.operator, _, _), (_, .POST, "/v1/join"):
            return nil
        case (.workload, .POST, "/v1/tokens"), (.workload, .POST, "/v1/leave"), (.workload, .GET, "/v1/objects"):
            return nil
        case (.workload(let identity), _, _):
            return ManagementAPI.error(.forbidden, code: "forbidden",
                                       "\(identity)'s bootstrap token renews itself, reads its own ExternalWorkload and leaves; \(request.method) \(request.path) needs an operator certificate (weft identity operator create NAME)")
        default:
            return ManagementAPI.error(.unauthorized, code: "unauthenticated",
                                       "the management API over TCP needs an operator certificate (weft identity operator create NAME); a host joins with a join token (POST /v1/join)")
        }
    }
}
