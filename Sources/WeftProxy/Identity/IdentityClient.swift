import Crypto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle
import WeftAPI
import WeftIdentity

/// Obtains and renews the proxy's certificate from the identity service (linkerd-compat §2.13):
/// a P-256 key made in memory, a CSR for the local identity, `Certify` over TLS to a server that
/// must prove the identity-service name under the trust anchors, renewal at 70 % of the lifetime
/// clamped to [min, max] refresh, the token file re-read each time, and on failure the current
/// certificate kept and the request retried after the minimum refresh.
final class IdentityClient: ServiceLifecycle.Service, Sendable {
    private let configuration: IdentityConfiguration
    private let store: CredentialStore
    private let expiration: Gauge
    private let refreshes: Counter
    private let logger: Logger

    init(configuration: IdentityConfiguration, store: CredentialStore, registry: MetricRegistry, logger: Logger) {
        self.configuration = configuration
        self.store = store
        expiration = registry.gauge("identity_cert_expiration_timestamp_seconds",
                                    help: "Time when this proxy's current certificate expires (in seconds since the UNIX epoch)", labels: Labels([]))
        refreshes = registry.counter("identity_cert_refresh_count", help: "The total number of times this proxy's certificate has been refreshed",
                                     labels: Labels([]))
        self.logger = logger
    }

    func run() async throws {
        let key = P256.Signing.PrivateKey()
        let csr = try WorkloadCredentials.certificateSigningRequest(for: configuration.localIdentity, key: key)
        let anchorsPEM = try configuration.trustAnchors.map { try $0.serializeAsPEM().pemString }
        var transportConfig = HTTP2ClientTransport.Posix.Config.defaults
        transportConfig.http2.authority = configuration.serviceName
        let transport = try HTTP2ClientTransport.Posix(
            target: .dns(host: configuration.serviceHost, port: configuration.servicePort),
            transportSecurity: .tls { tls in
                tls.trustRoots = .certificates(anchorsPEM.map { .bytes(Array($0.utf8), format: .pem) })
                tls.serverCertificateVerification = .fullVerification
            },
            config: transportConfig)
        try await withGRPCClient(transport: transport) { client in
            let identity = Io_Linkerd_Proxy_Identity_Identity.Client(wrapping: client)
            await cancelWhenGracefulShutdown {
                await self.renewForever(identity, key: key, csr: csr)
            }
            client.beginGracefulShutdown()
        }
    }

    /// Certifies, then again when the certificate is due for renewal (or after the minimum
    /// refresh when a request failed), until cancelled.
    private func renewForever(_ identity: Io_Linkerd_Proxy_Identity_Identity.Client<HTTP2ClientTransport.Posix>,
                              key: P256.Signing.PrivateKey, csr: [UInt8]) async {
        while !Task.isCancelled {
            let delay: TimeInterval
            do {
                let credentials = try await certify(identity, key: key, csr: csr)
                store.install(credentials)
                expiration.set(Int64(credentials.expiry.timeIntervalSince1970))
                refreshes.increment()
                delay = WorkloadCredentials.refreshDelay(
                    expiry: credentials.expiry, now: Date(),
                    minimum: configuration.minimumRefresh.seconds, maximum: configuration.maximumRefresh.seconds)
                logger.info("certified", metadata: ["identity": "\(configuration.localIdentity)", "serial": "\(credentials.leaf.serialNumber)",
                                                    "expiry": "\(credentials.expiry)", "renew in": "\(delay)s"])
            } catch {
                if Task.isCancelled { return }
                delay = configuration.minimumRefresh.seconds
                logger.warning("certify failed; keeping the current certificate", metadata: [
                    "error": "\(error)", "retry in": "\(delay)s", "has certificate": "\(store.current != nil)"])
            }
            do {
                try await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
            } catch {
                return
            }
        }
    }

    private func certify(_ identity: Io_Linkerd_Proxy_Identity_Identity.Client<HTTP2ClientTransport.Posix>,
                         key: P256.Signing.PrivateKey, csr: [UInt8]) async throws -> WorkloadCredentials {
        guard let token = SystemFiles.read(configuration.tokenFile, limit: 64 * 1024), !token.isEmpty else {
            throw CredentialError("cannot read the token file \(configuration.tokenFile)")
        }
        var request = Io_Linkerd_Proxy_Identity_CertifyRequest()
        request.identity = configuration.localIdentity.description
        request.token = Data(token)
        request.certificateSigningRequest = Data(csr)
        let response = try await identity.certify(request, options: .defaults) { try $0.message }
        return try await WorkloadCredentials.accept(
            leafDER: Array(response.leafCertificate), intermediatesDER: response.intermediateCertificates.map(Array.init),
            validUntil: response.hasValidUntil ? response.validUntil.date : nil, key: key,
            identity: configuration.localIdentity, anchors: configuration.trustAnchors)
    }
}

extension Duration {
    var seconds: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
