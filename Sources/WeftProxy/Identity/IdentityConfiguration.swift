import Crypto
import WeftCore
import WeftIdentity
import X509

/// The proxy's identity settings, Linkerd's `LINKERD2_PROXY_IDENTITY_*` variables (linkerd-compat
/// §2.2, §2.13). Identity is on when `LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS` is set.
public struct IdentityConfiguration: Sendable {
    /// The identity this proxy asks for and presents.
    public var localIdentity: WorkloadIdentity
    /// The TLS server name (SNI) clients use for this proxy.
    public var serverName: String
    public var trustAnchors: [Certificate]
    /// Where the certificate comes from.
    public var provider: Provider

    public enum Provider: Sendable {
        /// Linkerd's identity service (`Certify`), with a bootstrap token.
        case identityService(IdentityServiceSettings)
        /// A SPIFFE Workload API (`LINKERD2_PROXY_IDENTITY_SPIRE_SOCKET`), e.g. a SPIRE agent's.
        case workloadAPI(socketPath: String)
    }

    /// How to reach the identity service and when to renew.
    public struct IdentityServiceSettings: Sendable {
        /// The bootstrap token, re-read before each request.
        public var tokenFile: String
        /// The identity service (`host:port`) and the name its certificate must carry.
        public var serviceHost: String
        public var servicePort: Int
        public var serviceName: String
        public var minimumRefresh: Duration
        public var maximumRefresh: Duration
        /// Linkerd's `LINKERD2_PROXY_IDENTITY_DIR`: a key (`key.p8`, PKCS#8 DER) and a CSR for it
        /// (`csr.der`) made before the proxy started; `nil` makes the proxy generate its own.
        public var keyAndCSR: (key: P256.Signing.PrivateKey, csr: [UInt8])?
    }

    /// `nil` when identity is not configured.
    static func read(_ env: EnvironmentValues) throws(ConfigurationError) -> IdentityConfiguration? {
        if let disabled = env.text("LINKERD2_PROXY_IDENTITY_DISABLED") {
            throw ConfigurationError(variable: "LINKERD2_PROXY_IDENTITY_DISABLED", value: disabled,
                                     expected: "it unset: identity cannot be disabled (leave LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS unset to run without it)")
        }
        guard let anchorsText = env.text("LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS") else { return nil }
        let anchors: [Certificate]
        do {
            anchors = try TrustDirectory.certificates(pem: anchorsText)
        } catch {
            throw ConfigurationError(variable: "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS", value: String(anchorsText.prefix(40)) + "…",
                                     expected: "a PEM bundle of trust anchor certificates (\(error))")
        }
        guard !anchors.isEmpty else {
            throw ConfigurationError(variable: "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS", value: String(anchorsText.prefix(40)),
                                     expected: "a PEM bundle with at least one certificate")
        }
        func required(_ name: String) throws(ConfigurationError) -> String {
            guard let value = env.text(name) else {
                throw ConfigurationError(variable: name, value: "", expected: "a value: it is required when LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS is set")
            }
            return value
        }
        let idName = env.text("LINKERD2_PROXY_IDENTITY_LOCAL_NAME") == nil ? "LINKERD2_PROXY_IDENTITY_SERVER_ID" : "LINKERD2_PROXY_IDENTITY_LOCAL_NAME"
        let idText = try required(idName)
        let identity: WorkloadIdentity
        do { identity = try WorkloadIdentity(parsing: idText) } catch {
            throw ConfigurationError(variable: idName, value: idText, expected: "a DNS-like identity or a spiffe:// ID (\(error))")
        }
        let serverName = idName == "LINKERD2_PROXY_IDENTITY_LOCAL_NAME" ? idText : try required("LINKERD2_PROXY_IDENTITY_SERVER_NAME")
        if let socket = env.text("LINKERD2_PROXY_IDENTITY_SPIRE_SOCKET") {
            // SPIFFE mode: the SVID whose ID is SERVER_ID, from the Workload API at the socket
            // (a `unix:` prefix is allowed, as Linkerd allows it).
            var path = Substring(socket)
            if path.hasPrefix("unix://") { path = path.dropFirst(7) } else if path.hasPrefix("unix:") { path = path.dropFirst(5) }
            guard path.hasPrefix("/"), path.utf8.count < 108 else {
                throw ConfigurationError(variable: "LINKERD2_PROXY_IDENTITY_SPIRE_SOCKET", value: socket,
                                         expected: "an absolute Unix socket path (optionally unix://…), shorter than 108 bytes")
            }
            guard case .spiffe = identity, idName == "LINKERD2_PROXY_IDENTITY_SERVER_ID" else {
                throw ConfigurationError(variable: "LINKERD2_PROXY_IDENTITY_SERVER_ID", value: idText,
                                         expected: "a spiffe:// ID in LINKERD2_PROXY_IDENTITY_SERVER_ID when LINKERD2_PROXY_IDENTITY_SPIRE_SOCKET is set")
            }
            return IdentityConfiguration(localIdentity: identity, serverName: serverName, trustAnchors: anchors,
                                         provider: .workloadAPI(socketPath: String(path)))
        }
        let address = try required("LINKERD2_PROXY_IDENTITY_SVC_ADDR")
        guard let (host, port) = HostPort.split(address), let port else {
            throw ConfigurationError(variable: "LINKERD2_PROXY_IDENTITY_SVC_ADDR", value: address, expected: "host:port")
        }
        let minimum = try env.duration("LINKERD2_PROXY_IDENTITY_MIN_REFRESH", default: .seconds(10))
        let maximum = try env.duration("LINKERD2_PROXY_IDENTITY_MAX_REFRESH", default: .seconds(86_400))
        guard minimum <= maximum else {
            throw ConfigurationError(variable: "LINKERD2_PROXY_IDENTITY_MIN_REFRESH", value: env.text("LINKERD2_PROXY_IDENTITY_MIN_REFRESH") ?? "",
                                     expected: "a duration no longer than LINKERD2_PROXY_IDENTITY_MAX_REFRESH")
        }
        var keyAndCSR: (key: P256.Signing.PrivateKey, csr: [UInt8])?
        if let directory = env.text("LINKERD2_PROXY_IDENTITY_DIR") {
            keyAndCSR = try readKeyAndCSR(directory)
        }
        return IdentityConfiguration(
            localIdentity: identity, serverName: serverName, trustAnchors: anchors,
            provider: .identityService(IdentityServiceSettings(
                tokenFile: try required("LINKERD2_PROXY_IDENTITY_TOKEN_FILE"),
                serviceHost: host, servicePort: Int(port),
                serviceName: try required("LINKERD2_PROXY_IDENTITY_SVC_NAME"),
                minimumRefresh: minimum, maximumRefresh: maximum, keyAndCSR: keyAndCSR)))
    }

    /// `key.p8` and `csr.der`, as `linkerd2-proxy-identity` writes them; the CSR must be for the key.
    static func readKeyAndCSR(_ directory: String) throws(ConfigurationError) -> (key: P256.Signing.PrivateKey, csr: [UInt8]) {
        func fail(_ expected: String) -> ConfigurationError {
            ConfigurationError(variable: "LINKERD2_PROXY_IDENTITY_DIR", value: directory, expected: expected)
        }
        guard let keyBytes = SystemFiles.read(directory + "/key.p8", limit: 64 * 1024),
              let key = try? P256.Signing.PrivateKey(derRepresentation: keyBytes) else {
            throw fail("a directory with key.p8, an ECDSA P-256 key in PKCS#8 DER")
        }
        guard let csr = SystemFiles.read(directory + "/csr.der", limit: LeafIssuer.maximumCSRSize),
              let request = try? CertificateSigningRequest(derEncoded: csr),
              request.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw fail("a directory with csr.der, a DER CSR for the key in key.p8")
        }
        return (key, csr)
    }
}
