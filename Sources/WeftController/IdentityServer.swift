import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle
import WeftCore
import WeftIdentity
import WeftServing

/// The identity service's gRPC server: TLS with the controller's own certificate
/// (``ControlPlaneCertificate``, for Linkerd's identity-service name), run as a `Service`. Clients
/// present no certificate: they have none yet, and prove themselves with a bootstrap token.
public struct IdentityServer: Service {
    /// The name proxies expect the identity service to have
    /// (`LINKERD2_PROXY_IDENTITY_SVC_NAME`).
    public static func serviceIdentity(trustDomain: String) -> String {
        ControlPlaneCertificate.identityName(trustDomain: trustDomain)
    }

    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let logger: Logger
    private let address: String

    public init(configuration: ControllerConfiguration, identityDirectory: String, logger: Logger) throws {
        let directory = TrustDirectory(path: identityDirectory)
        let anchors = try directory.readAnchors()
        let (issuerCertificate, issuerKey) = try directory.readIssuer(anchors: anchors)
        let issuer = LeafIssuer(issuer: issuerCertificate, issuerKey: issuerKey,
                                lifetime: configuration.issuanceLifetime, clockSkew: configuration.clockSkew)
        let name = Self.serviceIdentity(trustDomain: configuration.trustDomain)
        let own = try ControlPlaneCertificate(names: [name], directory: directory, clockSkew: configuration.clockSkew)
        let service = IdentityService(issuer: issuer, tokenKey: try directory.readTokenKey().publicKey,
                                      revocations: TokenRevocations(directory: directory),
                                      limiter: ClientRateLimiter(burst: configuration.certifyBurst, perSecond: configuration.certifyRate),
                                      logger: logger)
        var transportConfig = HTTP2ServerTransport.Posix.Config.defaults
        // Large enough that an oversized CSR or token reaches the service and gets a precise
        // INVALID_ARGUMENT; anything bigger is refused by the transport.
        transportConfig.rpc.maxRequestPayloadSize = 2 * 1024 * 1024
        transportConfig.guardConnections(tls13: true)
        let transport = HTTP2ServerTransport.Posix(
            address: configuration.identityAddress.grpcAddress,
            transportSecurity: own.serverSecurity(requireClientCertificate: false),
            config: transportConfig)
        server = GRPCServer(transport: transport, services: [service])
        address = configuration.identityAddress.text
        self.logger = logger
        logger.info("identity service ready", metadata: [
            "address": "\(configuration.identityAddress.text)", "name": "\(name)",
            "issuer": "\(issuerCertificate.subject)", "issuer valid until": "\(issuerCertificate.notValidAfter)",
            "trust anchors": "\(anchors.count)",
        ])
    }

    public func run() async throws {
        try await GRPCService(name: "the identity service", address: address, server: server).run()
    }
}
