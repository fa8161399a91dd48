import WeftCore

/// The client of an inbound connection as policy sees it: where it connects from, and the
/// identity its verified mesh-TLS certificate proved (never one it claimed in a header).
public struct InboundClient: Sendable, Equatable {
    public var address: IPAddress?
    /// The verified identity's name; nil for a plaintext client or one without a certificate.
    public var identity: String?
    /// Whether `identity` is a DNS-like name (only those match Linkerd's suffix wildcards; a
    /// SPIFFE ID matches only exactly).
    public var identityIsDNSLike: Bool

    public init(address: IPAddress?, identity: String? = nil, identityIsDNSLike: Bool = true) {
        self.address = address
        self.identity = identity
        self.identityIsDNSLike = identityIsDNSLike
    }
}

/// What the policy of a port says about a connection or a request.
public enum InboundDecision: Sendable, Equatable {
    /// Admitted by the authorization at this index of ``InboundAuthorizer/authorizations``.
    case allowed(authorization: Int)
    /// No authorization admits the client but an audit one does: allowed, and reported as
    /// what would have been denied.
    case audited(authorization: Int)
    case denied
}

/// A port's policy made ready for decisions on the data path: authorizations with their
/// identity names and suffixes prepared, routes with the server's authorizations joined to
/// their own. Built once per policy the proxy receives (on the event loop that uses it: the
/// route scan holds compiled matches, which are not `Sendable`); deciding allocates nothing.
public struct InboundAuthorizer {
    /// One authorization, prepared.
    public struct Prepared: Sendable {
        public let networks: [Authorization.Network]
        /// nil: unauthenticated clients (and every other) are admitted. Compared one by one
        /// (a length check and the bytes; no hashing) while few, as a set when many.
        let identities: [String]?
        let identitySet: Set<String>?
        /// `.suffix` forms (a leading dot); `""` admits every authenticated client.
        let suffixes: [String]
        public let metadata: PolicyMetadata

        init(_ authorization: Authorization) {
            networks = authorization.networks
            metadata = authorization.metadata
            switch authorization.authentication {
            case .unauthenticated:
                (identities, identitySet, suffixes) = (nil, nil, [])
            case .meshTLS(let names, let parts):
                identities = names
                identitySet = names.count > 16 ? Set(names) : nil
                suffixes = parts.map { $0.isEmpty ? "" : "." + $0.joined(separator: ".") }
            }
        }

        /// Whether the client is admitted: its address in a network (outside its exceptions),
        /// and its identity one of those listed, under a listed suffix, or not needed.
        public func admits(_ client: InboundClient) -> Bool {
            guard let address = client.address else { return false }
            guard networks.contains(where: { $0.net.contains(address) && !$0.except.contains(where: { $0.contains(address) }) }) else {
                return false
            }
            guard let identities else { return true }
            guard let identity = client.identity else { return false }
            if let identitySet { if identitySet.contains(identity) { return true } } else if identities.contains(identity) { return true }
            return suffixes.contains { $0.isEmpty || (client.identityIsDNSLike && identity.hasSuffix($0)) }
        }
    }

    /// An HTTP (or gRPC) route, prepared: its metadata and the authorizations (indices into
    /// ``authorizations``) that admit requests on it, the server's first.
    public struct Route: Sendable {
        public let metadata: PolicyMetadata
        let authorizations: [Int]
    }

    /// Every authorization the port knows: the server's, then each route's own.
    public let authorizations: [Prepared]
    public let routes: [Route]
    /// The server's authorizations (indices), which also decide opaque connections.
    let serverAuthorizations: [Int]
    /// The routes' matches, flattened for the per-request scan as outbound routes are; one rule
    /// per route. A gRPC port's routes are matched by service and method.
    private let selection: InboundRouteSelection

    public init(_ policy: ServerPolicy) {
        var prepared = policy.authorizations.map(Prepared.init)
        let server = Array(prepared.indices)
        var routes: [Route] = []
        for route in policy.httpRoutes {
            let own = route.authorizations.map(Prepared.init)
            let indices = server + Array(prepared.count..<(prepared.count + own.count))
            prepared += own
            routes.append(Route(metadata: route.metadata, authorizations: indices))
        }
        authorizations = prepared
        self.routes = routes
        serverAuthorizations = server
        selection = InboundRouteSelection(policy.httpRoutes, grpc: policy.proxyProtocol == .grpc)
    }

    /// The decision for a connection that is not HTTP (opaque, TLS, or a TCP port): the server's
    /// authorizations.
    public func authorizeConnection(_ client: InboundClient) -> InboundDecision {
        decide(serverAuthorizations, client)
    }

    /// The route a request takes: the best match by the Gateway API's precedence (an exact path,
    /// the longer path, a method, more headers, more query parameters; for gRPC, the service and
    /// method), the earlier route on a tie; nil when none matches.
    public func route<Request: RoutableRequest>(_ request: Request) -> Int? {
        selection.route(request)
    }

    /// The decision for a request on route `route` (from ``route(_:)``).
    public func authorizeRequest(route: Int, _ client: InboundClient) -> InboundDecision {
        decide(routes[route].authorizations, client)
    }

    private func decide(_ indices: [Int], _ client: InboundClient) -> InboundDecision {
        var audit: Int?
        for index in indices where authorizations[index].admits(client) {
            if authorizations[index].metadata.isAudit {
                if audit == nil { audit = index }
            } else {
                return .allowed(authorization: index)
            }
        }
        return audit.map { .audited(authorization: $0) } ?? .denied
    }
}

/// One client's decisions on a port's routes, each made on first use: a connection's client does
/// not change, so after its first request on a route a request costs only the route match.
public struct InboundClientDecisions {
    public let authorizer: InboundAuthorizer
    public let client: InboundClient
    private var byRoute: [InboundDecision?]

    public init(_ authorizer: InboundAuthorizer, client: InboundClient) {
        self.authorizer = authorizer
        self.client = client
        byRoute = Array(repeating: nil, count: authorizer.routes.count)
    }

    /// The decision for a request on route `route` (from ``InboundAuthorizer/route(_:)``).
    public mutating func request(route: Int) -> InboundDecision {
        if let known = byRoute[route] { return known }
        let decision = authorizer.authorizeRequest(route: route, client)
        byRoute[route] = decision
        return decision
    }
}
