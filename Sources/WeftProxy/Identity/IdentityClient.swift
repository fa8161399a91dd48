import Crypto
import FoundationEssentials
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import ServiceLifecycle
import WeftCore
import WeftIdentity

/// Obtains and renews the proxy's certificate from the identity service (linkerd-compat §2.13):
/// a P-256 key made in memory, a CSR for the local identity, `Certify` over TLS to a server that
/// must prove the identity-service name under the trust anchors, renewal at 70 % of the lifetime
/// clamped to [min, max] refresh, the token file re-read each time, and on failure the current
/// certificate kept and the request retried after the minimum refresh.
final class IdentityClient: ServiceLifecycle.Service, Sendable {
    private let configuration: IdentityConfiguration
    private let service: IdentityConfiguration.IdentityServiceSettings
    private let store: CredentialStore
    private let metrics: IdentityMetrics
    private let logger: Logger

    private let eventLoopGroup: any EventLoopGroup

    /// - Parameter eventLoopGroup: the proxy's own; the client makes no threads of its own.
    init(configuration: IdentityConfiguration, service: IdentityConfiguration.IdentityServiceSettings, store: CredentialStore,
         registry: MetricRegistry, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.eventLoopGroup = eventLoopGroup
        self.configuration = configuration
        self.service = service
        self.store = store
        metrics = IdentityMetrics(registry: registry)
        self.logger = logger
    }

    func run() async throws {
        let key = service.keyAndCSR?.key ?? P256.Signing.PrivateKey()
        let csr = try service.keyAndCSR?.csr ?? WorkloadCredentials.certificateSigningRequest(for: configuration.localIdentity, key: key)
        await cancelWhenGracefulShutdown {
            await self.renewForever(key: key, csr: csr)
        }
    }

    /// A connection to the identity service for one call (renewals are hours apart; nothing is
    /// kept open between them).
    private func withIdentityService<Result: Sendable>(
        _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
    ) async throws -> Result {
        let anchorsPEM = try configuration.trustAnchors.map { try $0.serializeAsPEM().pemString }
        var transportConfig = HTTP2ClientTransport.Posix.Config.defaults
        transportConfig.http2.authority = service.serviceName
        let transport = try HTTP2ClientTransport.Posix(
            target: .dns(host: service.serviceHost, port: service.servicePort),
            transportSecurity: .tls { tls in
                tls.trustRoots = .certificates(anchorsPEM.map { .bytes(Array($0.utf8), format: .pem) })
                tls.serverCertificateVerification = .fullVerification
            },
            config: transportConfig, eventLoopGroup: eventLoopGroup)
        return try await withGRPCClient(transport: transport) { client in
            defer { client.beginGracefulShutdown() }
            return try await body(client)
        }
    }

    /// Certifies, then again when the certificate is due for renewal (or after the minimum
    /// refresh when a request failed), until cancelled.
    private func renewForever(key: P256.Signing.PrivateKey, csr: [UInt8]) async {
        while !Task.isCancelled {
            let delay: TimeInterval
            do {
                let credentials = try await withIdentityService { client in try await self.certify(client, key: key, csr: csr) }
                store.install(credentials)
                metrics.installed(credentials)
                delay = WorkloadCredentials.refreshDelay(
                    expiry: credentials.expiry, now: Date(),
                    minimum: service.minimumRefresh.inSeconds, maximum: service.maximumRefresh.inSeconds)
                logger.info("certified", metadata: ["identity": "\(configuration.localIdentity)", "serial": "\(HexText.encode(credentials.leaf.serialNumber.bytes))",
                                                    "expiry": "\(credentials.expiry)", "renew in": "\(delay)s"])
            } catch {
                if Task.isCancelled { return }
                delay = service.minimumRefresh.inSeconds
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

    private static let certifyMethod = MethodDescriptor(fullyQualifiedService: "io.linkerd.proxy.identity.Identity", method: "Certify")

    private func certify(_ client: GRPCClient<HTTP2ClientTransport.Posix>,
                         key: P256.Signing.PrivateKey, csr: [UInt8]) async throws -> WorkloadCredentials {
        guard let token = SystemFiles.read(service.tokenFile, limit: 64 * 1024), !token.isEmpty else {
            throw CredentialError("cannot read the token file \(service.tokenFile)")
        }
        let request = CertifyWire.encodeRequest(identity: configuration.localIdentity.description, token: token, csr: csr)
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        options.maxResponseMessageBytes = 1 << 20
        let bytes = try await client.unary(request: ClientRequest(message: request), descriptor: Self.certifyMethod,
                                           serializer: RawMessageCoder(), deserializer: RawMessageCoder(), options: options) {
            try $0.message
        }
        let response = try CertifyWire.decodeResponse(bytes)
        let validUntil = response.validUntil.map { Date(timeIntervalSince1970: Double($0.seconds) + Double($0.nanos) / 1e9) }
        return try await WorkloadCredentials.accept(
            leafDER: response.leafCertificate, intermediatesDER: response.intermediateCertificates,
            validUntil: validUntil, key: key, identity: configuration.localIdentity, anchors: configuration.trustAnchors)
    }
}

/// gRPC messages as their raw bytes (the protobuf encoding is done by ``CertifyWire``).
struct RawMessageCoder: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

/// Linkerd's identity metrics: `identity_cert_expiration_timestamp_seconds` and
/// `identity_cert_refresh_count`, whichever provider the certificate came from.
struct IdentityMetrics: Sendable {
    let expiration: Gauge
    let refreshes: Counter

    init(registry: MetricRegistry) {
        expiration = registry.gauge("identity_cert_expiration_timestamp_seconds",
                                    help: "Time when this proxy's current certificate expires (in seconds since the UNIX epoch)", labels: Labels([]))
        refreshes = registry.counter("identity_cert_refresh_count", help: "The total number of times this proxy's certificate has been refreshed",
                                     labels: Labels([]))
    }

    func installed(_ credentials: WorkloadCredentials) {
        expiration.set(Int64(credentials.expiry.timeIntervalSince1970))
        refreshes.increment()
    }
}
