import Crypto
import Foundation
import GRPCNIOTransportHTTP2
import NIOSSL
import WeftCore
import WeftIdentity

/// A certificate of the controller's own, issued at start by the mesh's issuer for one or more of
/// Linkerd's control-plane names (`linkerd-identity…`, `linkerd-destination…`, `linkerd-policy…`).
/// A TLS server cannot change its certificate while running, so it is valid as long as the issuer
/// allows (at most a year), not as short as a workload's.
struct ControlPlaneCertificate {
    /// The identity service's name (`LINKERD2_PROXY_IDENTITY_SVC_NAME`).
    static func identityName(trustDomain: String) -> String { name("linkerd-identity", trustDomain) }
    /// The destination service's name (`LINKERD2_PROXY_DESTINATION_SVC_NAME`).
    static func destinationName(trustDomain: String) -> String { name("linkerd-destination", trustDomain) }
    /// The policy service's name (`LINKERD2_PROXY_POLICY_SVC_NAME`).
    static func policyName(trustDomain: String) -> String { name("linkerd-policy", trustDomain) }
    /// The management API's name over TCP (Weft's own; Linkerd has no such API).
    static func managementName(trustDomain: String) -> String { name("weft-controller", trustDomain) }

    private static func name(_ account: String, _ trustDomain: String) -> String {
        "\(account).linkerd.serviceaccount.identity.linkerd.\(trustDomain)"
    }

    let chain: [TLSConfig.CertificateSource]
    let key: TLSConfig.PrivateKeySource
    /// The trust anchors in PEM, for verifying clients.
    let anchors: [TLSConfig.CertificateSource]
    private let chainPEM: [String]
    private let keyPEM: String
    private let anchorsPEM: [String]

    init(names: [String], directory: TrustDirectory, clockSkew: TimeInterval) throws {
        let anchors = try directory.readAnchors()
        let (issuerCertificate, issuerKey) = try directory.readIssuer(anchors: anchors)
        let serverKey = P256.Signing.PrivateKey()
        let issued: LeafIssuer.Issued
        do {
            let identities = try names.map { try WorkloadIdentity(parsing: $0) }
            let longLived = LeafIssuer(issuer: issuerCertificate, issuerKey: issuerKey, lifetime: 365 * 86_400, clockSkew: clockSkew)
            issued = try longLived.issue(for: identities[0], publicKey: .init(serverKey.publicKey), alsoNames: Array(identities.dropFirst()))
        } catch {
            throw TrustDirectoryError("cannot issue the controller's certificate for \(names.joined(separator: ", ")): \(error)")
        }
        chainPEM = try issued.pemChain()
        keyPEM = serverKey.pemRepresentation
        anchorsPEM = try anchors.map { try $0.serializeAsPEM().pemString }
        chain = chainPEM.map { .bytes(Array($0.utf8), format: .pem) }
        key = .bytes(Array(keyPEM.utf8), format: .pem)
        self.anchors = anchorsPEM.map { .bytes(Array($0.utf8), format: .pem) }
    }

    /// A TLS 1.3-only server context: the chain with the trust anchors at its end (a joining host
    /// checks the anchor against its pin before it trusts anything), and client certificates
    /// verified against the anchors when sent, not required.
    func managementContext() throws -> NIOSSLContext {
        let certificates = try (chainPEM + anchorsPEM).flatMap { try NIOSSLCertificate.fromPEMBytes(Array($0.utf8)) }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: certificates.map { .certificate($0) },
                                                                     privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)))
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.certificateVerification = .optionalVerification
        configuration.trustRoots = .certificates(try anchorsPEM.flatMap { try NIOSSLCertificate.fromPEMBytes(Array($0.utf8)) })
        return try NIOSSLContext(configuration: configuration)
    }

    /// TLS with this certificate; `requireClientCertificate`: mutual TLS, the client's chain
    /// verified against the trust anchors and a client without one refused.
    func serverSecurity(requireClientCertificate: Bool) -> HTTP2ServerTransport.Posix.TransportSecurity {
        guard requireClientCertificate else { return .tls(certificateChain: chain, privateKey: key) }
        return .mTLS(certificateChain: chain, privateKey: key) { tls in
            tls.trustRoots = .certificates(anchors)
            tls.clientCertificateVerification = .noHostnameVerification
        }
    }
}
