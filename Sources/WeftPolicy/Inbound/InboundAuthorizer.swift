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
/// their own. Built once per policy the proxy receives; deciding allocates nothing.
public struct InboundAuthorizer: Sendable {
    /// One authorization, prepared.
    public struct Prepared: Sendable {
        public let networks: [Authorization.Network]
        /// nil: unauthenticated clients (and every other) are admitted.
        let identities: Set<String>?
        /// `.suffix` forms (a leading dot); `""` admits every authenticated client.
        let suffixes: [String]
        public let metadata: PolicyMetadata

        init(_ authorization: Authorization) {
            networks = authorization.networks
            metadata = authorization.metadata
            switch authorization.authentication {
            case .unauthenticated:
                identities = nil
                suffixes = []
            case .meshTLS(let names, let parts):
                identities = Set(names)
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
            if identities.contains(identity) { return true }
            return suffixes.contains { $0.isEmpty || (client.identityIsDNSLike && identity.hasSuffix($0)) }
        }
    }

    /// An HTTP route, prepared: its matches and the authorizations (indices into
    /// ``authorizations``) that admit requests on it, the server's first.
    public struct Route: Sendable {
        public let metadata: PolicyMetadata
        let matches: [InboundRouteMatch]
        let authorizations: [Int]
    }

    /// Every authorization the port knows: the server's, then each route's own.
    public let authorizations: [Prepared]
    public let routes: [Route]
    /// The server's authorizations (indices), which also decide opaque connections.
    let serverAuthorizations: [Int]

    public init(_ policy: ServerPolicy) {
        var prepared = policy.authorizations.map(Prepared.init)
        let server = Array(prepared.indices)
        var routes: [Route] = []
        for route in policy.httpRoutes {
            let own = route.authorizations.map(Prepared.init)
            let indices = server + Array(prepared.count..<(prepared.count + own.count))
            prepared += own
            routes.append(Route(metadata: route.metadata, matches: route.matches, authorizations: indices))
        }
        authorizations = prepared
        self.routes = routes
        serverAuthorizations = server
    }

    /// The decision for a connection that is not HTTP (opaque, TLS, or a TCP port): the server's
    /// authorizations.
    public func authorizeConnection(_ client: InboundClient) -> InboundDecision {
        decide(serverAuthorizations, client)
    }

    /// The route a request takes: the best match by the Gateway API's precedence (an exact path,
    /// the longer path, a method, more headers, more query parameters), the earlier route on a
    /// tie; nil when none matches.
    public func route<Request: RoutableRequest>(_ request: Request) -> Int? {
        var best: (index: Int, score: HTTPRouteMatch.Score)?
        for (index, route) in routes.enumerated() {
            for match in route.matches {
                guard let score = match.score(request) else { continue }
                if best.map({ $0.score < score }) ?? true { best = (index, score) }
            }
        }
        return best?.index
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
