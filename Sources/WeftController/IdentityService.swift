import Crypto
import Foundation
import GRPCCore
import Logging
import Synchronization
import WeftAPI
import WeftCore
import WeftIdentity

/// `io.linkerd.proxy.identity.Identity/Certify`: checks the client's bootstrap token and its CSR
/// and issues a workload certificate (reliability.md A3), logging each one by serial number.
public final class IdentityService: Io_Linkerd_Proxy_Identity_Identity.SimpleServiceProtocol, Sendable {
    private let issuer: LeafIssuer?
    private let tokenKey: P256.Signing.PublicKey
    private let revocations: TokenRevocations
    private let limiter: Mutex<ClientRateLimiter>
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private let logger: Logger

    /// - Parameter issuer: `nil` while no issuer is loaded (every request is then UNAVAILABLE).
    public init(issuer: LeafIssuer?, tokenKey: P256.Signing.PublicKey, revocations: TokenRevocations,
                limiter: ClientRateLimiter = ClientRateLimiter(), logger: Logger) {
        self.issuer = issuer
        self.tokenKey = tokenKey
        self.revocations = revocations
        self.limiter = Mutex(limiter)
        self.started = clock.now
        self.logger = logger
    }

    public func certify(request: Io_Linkerd_Proxy_Identity_CertifyRequest,
                        context: ServerContext) async throws -> Io_Linkerd_Proxy_Identity_CertifyResponse {
        do {
            return try certify(request, client: Self.clientAddress(context.remotePeer))
        } catch {
            logger.info("certify refused", metadata: ["identity": "\(request.identity.prefix(256))", "client": "\(context.remotePeer)",
                                                      "error": "\(error)"])
            throw RPCError(code: error.rpcCode, message: error.message)
        }
    }

    /// The decision, separate from the transport.
    func certify(_ request: Io_Linkerd_Proxy_Identity_CertifyRequest, client: String) throws(CertifyError) -> Io_Linkerd_Proxy_Identity_CertifyResponse {
        let now = (clock.now - started).inSeconds
        guard limiter.withLock({ $0.allow(client, now: now) }) else {
            throw CertifyError(.resourceExhausted, "too many requests from \(client)")
        }
        guard let issuer else { throw CertifyError(.unavailable, "the issuer is not loaded") }
        guard !request.identity.isEmpty else { throw CertifyError(.invalidArgument, "missing identity") }
        guard !request.token.isEmpty else { throw CertifyError(.invalidArgument, "missing token") }
        guard !request.certificateSigningRequest.isEmpty else { throw CertifyError(.invalidArgument, "missing certificate signing request") }
        guard let tokenText = String(bytes: request.token, encoding: .utf8) else {
            throw CertifyError(.invalidArgument, "token is not UTF-8")
        }
        let token = try BootstrapToken.verify(tokenText.trimmingCharacters(in: .whitespacesAndNewlines), key: tokenKey)
        guard !revocations.isRevoked(token.id) else { throw CertifyError(.failedPrecondition, "token \(token.id) is revoked") }
        guard token.identity == request.identity else {
            throw CertifyError(.failedPrecondition, "token is for \(token.identity), not \(request.identity)")
        }
        let issued = try issuer.certify(identity: request.identity, csrDER: Array(request.certificateSigningRequest))
        var response = Io_Linkerd_Proxy_Identity_CertifyResponse()
        do {
            let (leaf, intermediates) = try issued.derEncoded()
            response.leafCertificate = Data(leaf)
            response.intermediateCertificates = intermediates.map { Data($0) }
        } catch {
            throw CertifyError(.invalidArgument, "cannot encode the certificate: \(error)")
        }
        response.validUntil = .init(date: issued.validUntil)
        logger.info("issued certificate", metadata: [
            "identity": "\(request.identity)", "serial": "\(HexText.encode(issued.leaf.serialNumber.bytes))", "token": "\(token.id)",
            "client": "\(client)", "valid until": "\(issued.validUntil)",
        ])
        return response
    }

    /// The client's address without its port (`ipv4:127.0.0.1:5000` → `127.0.0.1`).
    static func clientAddress(_ peer: String) -> String {
        var text = Substring(peer)
        for prefix in ["ipv4:", "ipv6:", "unix:"] where text.hasPrefix(prefix) { text = text.dropFirst(prefix.count) }
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") { return String(text[text.index(after: text.startIndex)..<close]) }
        if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon { return String(text[..<colon]) }
        return String(text)
    }
}

extension CertifyError {
    var rpcCode: RPCError.Code {
        switch code {
        case .invalidArgument: .invalidArgument
        case .failedPrecondition: .failedPrecondition
        case .unavailable: .unavailable
        case .resourceExhausted: .resourceExhausted
        }
    }
}
