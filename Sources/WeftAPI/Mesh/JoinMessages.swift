/// `POST /v1/join-tokens`: a join token for hosts joining one namespace.
public struct JoinTokenRequest: Codable, Sendable {
    public var namespace: String
    /// Workload names must start with this ("" admits any).
    public var namePrefix: String
    public var ttlSeconds: Int
    /// Registrations it allows; nil: any number until it expires.
    public var uses: Int?

    public init(namespace: String, namePrefix: String, ttlSeconds: Int, uses: Int?) {
        self.namespace = namespace
        self.namePrefix = namePrefix
        self.ttlSeconds = ttlSeconds
        self.uses = uses
    }
}

/// The minted join token (shown once), and the pin of the controller's trust anchor that a
/// joining host checks the controller's TLS chain against (`sha256:<hex>` of the anchor's
/// SubjectPublicKeyInfo, as kubeadm's discovery-token-ca-cert-hash).
public struct JoinTokenAnswer: Codable, Sendable {
    public var token: String
    public var id: String
    public var expires: String
    public var caCertHash: String

    public init(token: String, id: String, expires: String, caCertHash: String) {
        self.token = token
        self.id = id
        self.expires = expires
        self.caCertHash = caCertHash
    }
}

/// `POST /v1/join`, over TLS without a client certificate: a join token and the objects of one
/// workload (its Namespace and Service when missing, and the ExternalWorkload), all within the
/// token's namespace and name prefix.
public struct JoinRequest: Codable, Sendable {
    public var token: String
    public var namespace: String
    public var name: String
    /// YAML documents: at most one Namespace, one Service, and the ExternalWorkload.
    public var manifests: String

    public init(token: String, namespace: String, name: String, manifests: String) {
        self.token = token
        self.namespace = namespace
        self.name = name
        self.manifests = manifests
    }
}

/// What a joined host gets: the mesh, a bootstrap token for the workload's identity (which also
/// authenticates its later calls: renewing that token, reading its own ExternalWorkload,
/// leaving), and whether the Service was created for it.
public struct JoinAnswer: Codable, Sendable {
    public var mesh: MeshDescription
    public var bootstrapToken: TokenAnswer
    public var createdService: Bool

    public init(mesh: MeshDescription, bootstrapToken: TokenAnswer, createdService: Bool) {
        self.mesh = mesh
        self.bootstrapToken = bootstrapToken
        self.createdService = createdService
    }
}

/// `POST /v1/leave`, authenticated by the workload's bootstrap token: its ExternalWorkload goes,
/// and its Service too when `service` names one that `weft run` created and no workload is left in.
public struct LeaveRequest: Codable, Sendable {
    public var namespace: String
    public var name: String
    public var service: String?

    public init(namespace: String, name: String, service: String?) {
        self.namespace = namespace
        self.name = name
        self.service = service
    }
}
