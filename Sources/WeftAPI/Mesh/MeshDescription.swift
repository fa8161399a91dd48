/// What a running controller tells `weft run`, `weft check` and `weft viz` about its mesh
/// (`GET /v1/mesh` on the management API): where its services listen and the trust material a
/// proxy needs. Everything in it is public: no key is ever part of it.
public struct MeshDescription: Codable, Sendable, Equatable {
    /// The identity service, present when the controller runs with a trust directory.
    public struct Identity: Codable, Sendable, Equatable {
        /// `host:port` of `io.linkerd.proxy.identity.Identity`.
        public var address: String
        /// The name the identity service's certificate carries (`LINKERD2_PROXY_IDENTITY_SVC_NAME`).
        public var serverName: String
        /// The trust anchors, PEM (`LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS`).
        public var trustAnchorsPEM: String
        /// The issuer certificate, PEM (for checks; its key stays with the controller).
        public var issuerPEM: String

        public init(address: String, serverName: String, trustAnchorsPEM: String, issuerPEM: String) {
            self.address = address
            self.serverName = serverName
            self.trustAnchorsPEM = trustAnchorsPEM
            self.issuerPEM = issuerPEM
        }
    }

    /// The controller's version (`weft-controller --version`).
    public var version: String
    public var trustDomain: String
    public var clusterDomain: String
    /// `host:port` of the destination service, and of the inbound/outbound policy services.
    public var destinationAddress: String
    public var policyAddress: String
    /// `host:port` of the controller's `/live`, `/ready`, `/metrics`.
    public var adminAddress: String
    public var identity: Identity?
    /// The names the destination and policy services' certificates carry when they are served
    /// over mutual TLS (`LINKERD2_PROXY_DESTINATION_SVC_NAME`, `LINKERD2_PROXY_POLICY_SVC_NAME`);
    /// nil: plaintext.
    public var destinationServerName: String?
    public var policyServerName: String?

    public init(version: String, trustDomain: String, clusterDomain: String, destinationAddress: String,
                policyAddress: String, adminAddress: String, identity: Identity?) {
        self.version = version
        self.trustDomain = trustDomain
        self.clusterDomain = clusterDomain
        self.destinationAddress = destinationAddress
        self.policyAddress = policyAddress
        self.adminAddress = adminAddress
        self.identity = identity
    }
}

/// A bootstrap token asked of the controller (`POST /v1/tokens`), and its answer.
public struct TokenRequest: Codable, Sendable {
    /// A DNS-like identity or a SPIFFE ID.
    public var identity: String
    /// How long the token is valid, in seconds (at most a day).
    public var ttlSeconds: Int

    public init(identity: String, ttlSeconds: Int) {
        self.identity = identity
        self.ttlSeconds = ttlSeconds
    }
}

public struct TokenAnswer: Codable, Sendable {
    public var token: String
    /// The token's ID, for `weft identity token revoke`.
    public var id: String
    public var identity: String

    public init(token: String, id: String, identity: String) {
        self.token = token
        self.id = id
        self.identity = identity
    }
}
