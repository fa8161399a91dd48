import WeftCore

/// The policy of one inbound port of a workload (the proxy API's `inbound.Server`), as both planes
/// see it: the controller builds it from resources and encodes it; the proxy decodes it and
/// decides from it. A value, compared whole to tell whether anything changed.
public struct ServerPolicy: Sendable, Equatable {
    /// How the port's traffic is read.
    public enum ProxyProtocol: Sendable, Equatable {
        /// Detect HTTP; what is not HTTP within `timeout` is forwarded as opaque bytes.
        case detect(timeout: Duration)
        case http1
        case http2
        case grpc
        /// Bytes forwarded as they are, never inspected.
        case opaque
        /// TLS the application terminates: forwarded as it is.
        case tls

        /// How long detection waits when a policy names no timeout (Linkerd's 10 s).
        public static let defaultDetectTimeout = Duration.seconds(10)

        /// Whether connections skip protocol detection (opaque and application TLS ports).
        public var skipsDetection: Bool {
            switch self {
            case .opaque, .tls: true
            case .detect, .http1, .http2, .grpc: false
            }
        }
    }

    public var proxyProtocol: ProxyProtocol
    /// Who may connect; none at all denies everyone.
    public var authorizations: [Authorization]
    /// The HTTP routes of detect/HTTP ports; every port has at least the default route.
    public var httpRoutes: [InboundHTTPRoute]
    /// `group`, `kind`, `name` of what produced the policy (a Server, or the default policy).
    public var labels: [String: String]

    public init(proxyProtocol: ProxyProtocol, authorizations: [Authorization], httpRoutes: [InboundHTTPRoute], labels: [String: String]) {
        self.proxyProtocol = proxyProtocol
        self.authorizations = authorizations
        self.httpRoutes = httpRoutes
        self.labels = labels
    }
}

/// Where a policy element came from: a default of the controller's, or a resource.
public enum PolicyMetadata: Sendable, Equatable {
    case `default`(String)
    case resource(group: String, kind: String, name: String)

    /// Linkerd's metric labels: `group`, `kind` and `name` (`""`, `default`, the name for defaults).
    public var labels: (group: String, kind: String, name: String) {
        switch self {
        case .default(let name): ("", "default", name)
        case .resource(let group, let kind, let name): (group, kind.lowercased(), name)
        }
    }

    /// The audit authorization (`accessPolicy: audit`, the `audit` default policy): admits
    /// everyone, and what it admits is logged and counted as audited.
    public var isAudit: Bool { self == .default("audit") }
}

/// One authorization of an inbound port: clients from these networks, authenticated so.
public struct Authorization: Sendable, Equatable {
    /// A client network, minus the ranges it excepts.
    public struct Network: Sendable, Equatable {
        public var net: IPNetwork
        public var except: [IPNetwork]

        public init(net: IPNetwork, except: [IPNetwork] = []) {
            self.net = net
            self.except = except
        }

        /// Every IPv4 and every IPv6 client.
        public static let everywhere = [Network(net: IPNetwork(address: .v4(0), prefixLength: 0)),
                                        Network(net: IPNetwork(address: .v6(first: 0, last: 0), prefixLength: 0))]
    }

    /// How clients must prove who they are.
    public enum Authentication: Sendable, Equatable {
        /// Anyone, with or without mesh TLS.
        case unauthenticated
        /// Mesh TLS with one of these identities, or one ending in one of these suffixes (a
        /// suffix is a list of DNS labels; the empty suffix admits every identity).
        case meshTLS(identities: [String], suffixes: [[String]])
    }

    public var networks: [Network]
    public var authentication: Authentication
    public var labels: [String: String]
    public var metadata: PolicyMetadata

    public init(networks: [Network], authentication: Authentication, labels: [String: String], metadata: PolicyMetadata) {
        self.networks = networks
        self.authentication = authentication
        self.labels = labels
        self.metadata = metadata
    }
}

/// An inbound HTTP (or gRPC) route: requests matching any of its matches, admitted by its own
/// authorizations and the server's (as Linkerd's proxy joins them).
public struct InboundHTTPRoute: Sendable, Equatable {
    public var metadata: PolicyMetadata
    public var matches: [InboundRouteMatch]
    /// Authorizations of this route alone (AuthorizationPolicies that target it).
    public var authorizations: [Authorization]

    public init(metadata: PolicyMetadata, matches: [InboundRouteMatch], authorizations: [Authorization] = []) {
        self.metadata = metadata
        self.matches = matches
        self.authorizations = authorizations
    }

    /// The route every server has while no route names it: every path.
    public static let `default` = InboundHTTPRoute(metadata: .default("default"), matches: [InboundRouteMatch()])
}
