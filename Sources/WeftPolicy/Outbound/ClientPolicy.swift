/// What a client's proxy does with traffic to one service port (the proxy API's
/// `outbound.OutboundPolicy`), as both planes see it: routes, each leading to backends by a
/// distribution, each backend balanced over its endpoints.
///
/// Each rule may carry a ``RetryPolicy`` and ``Timeouts``; the failure-accrual slot is not
/// set by the controller yet. Route selection is ``RouteTable``'s.
public struct ClientPolicy: Equatable {
    /// How the port's traffic is read.
    public enum ProxyProtocol: Equatable {
        /// Detect HTTP within `timeout`: HTTP/1 and HTTP/2 requests follow `httpRoutes`, other
        /// bytes `opaqueRoutes`.
        case detect(timeout: Duration, httpRoutes: [HTTPRoute], opaqueRoutes: [OpaqueRoute])
        /// Bytes only.
        case opaque(routes: [OpaqueRoute])
        /// gRPC, routed by service and method.
        case grpc(routes: [GRPCRoute])
    }

    /// The Service the policy is for, and its port.
    public var parent: ResourceReference
    public var proxyProtocol: ProxyProtocol
    /// Failure accrual (circuit breaking) of the service's endpoints; nil: none.
    public var failureAccrual: FailureAccrual?

    public init(parent: ResourceReference, proxyProtocol: ProxyProtocol, failureAccrual: FailureAccrual? = nil) {
        self.parent = parent
        self.proxyProtocol = proxyProtocol
        self.failureAccrual = failureAccrual
    }

    /// An HTTP route.
    public typealias HTTPRoute = Route<HTTPRouteMatch>
    /// A gRPC route.
    public typealias GRPCRoute = Route<GRPCRouteMatch>
    public typealias HTTPRule = Rule<HTTPRouteMatch>

    /// A route: the hosts it applies to (none: every host) and its rules, each with the matches
    /// that select it.
    public struct Route<Match: RouteMatching>: Equatable {
        public var metadata: RouteMetadata
        public var hosts: [HostMatch]
        public var rules: [Rule<Match>]

        public init(metadata: RouteMetadata, hosts: [HostMatch] = [], rules: [Rule<Match>]) {
            self.metadata = metadata
            self.hosts = hosts
            self.rules = rules
        }
    }

    /// Requests matching any of `matches` (none: every request) have `filters` applied and go
    /// to `backends`; retries and timeouts apply.
    public struct Rule<Match: RouteMatching>: Equatable {
        public var matches: [Match]
        public var filters: [RouteFilter]
        public var backends: Distribution
        public var retry: RetryPolicy?
        public var timeouts: Timeouts?

        public init(matches: [Match], filters: [RouteFilter] = [], backends: Distribution, retry: RetryPolicy? = nil, timeouts: Timeouts? = nil) {
            self.matches = matches
            self.filters = filters
            self.backends = backends
            self.retry = retry
            self.timeouts = timeouts
        }
    }

    /// Connections go to `backends`.
    public struct OpaqueRoute: Sendable, Equatable {
        public var metadata: RouteMetadata
        public var backends: Distribution

        public init(metadata: RouteMetadata, backends: Distribution) {
            self.metadata = metadata
            self.backends = backends
        }
    }

    /// How a rule's traffic is spread over its backends.
    public enum Distribution: Sendable, Equatable {
        /// The first backend that is available takes it all.
        case firstAvailable([Backend])
        /// By weight among the available ones.
        case randomAvailable([WeightedBackend])
    }

    /// A backend and its share of a `randomAvailable` distribution.
    public struct WeightedBackend: Sendable, Equatable {
        public var backend: Backend
        public var weight: UInt32

        public init(backend: Backend, weight: UInt32) {
            self.backend = backend
            self.weight = weight
        }
    }

    /// A backend: a service discovered by `discoveryPath` (`host:port`), balanced by P2C over
    /// Peak-EWMA behind a bounded queue.
    public struct Backend: Sendable, Equatable {
        public var metadata: ResourceReference
        public var discoveryPath: String
        public var defaultRTT: Duration = .milliseconds(30)
        public var decay: Duration = .seconds(10)
        public var queueCapacity: UInt32 = 100
        public var failFastTimeout: Duration = .seconds(3)

        public init(metadata: ResourceReference, discoveryPath: String) {
            self.metadata = metadata
            self.discoveryPath = discoveryPath
        }
    }

    /// Timeouts of a rule: `request` bounds the whole exchange (every attempt and backoff
    /// included); `response` (from the request's end to the response head) and `idle` are
    /// carried to proxies but not enforced by Weft's proxy yet.
    public struct Timeouts: Sendable, Equatable {
        public var request: Duration?
        public var response: Duration?
        public var idle: Duration?

        public init(request: Duration? = nil, response: Duration? = nil, idle: Duration? = nil) {
            self.request = request
            self.response = response
            self.idle = idle
        }
    }

    /// Consecutive-failure accrual (the traffic-policy issue fills this).
    public struct FailureAccrual: Sendable, Equatable {
        public var maximumFailures: UInt32
        public var minimumPenalty: Duration
        public var maximumPenalty: Duration
        public var jitterRatio: Double

        public init(maximumFailures: UInt32, minimumPenalty: Duration, maximumPenalty: Duration, jitterRatio: Double) {
            self.maximumFailures = maximumFailures
            self.minimumPenalty = minimumPenalty
            self.maximumPenalty = maximumPenalty
            self.jitterRatio = jitterRatio
        }
    }
}

/// A Kubernetes-style resource a policy element refers to.
public struct ResourceReference: Sendable, Equatable {
    public var group: String
    public var kind: String
    public var name: String
    public var namespace: String
    public var port: UInt16?

    public init(group: String, kind: String, name: String, namespace: String, port: UInt16? = nil) {
        self.group = group
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.port = port
    }
}

/// Where a route came from: a default of the controller's, or a resource.
public enum RouteMetadata: Sendable, Equatable, CustomStringConvertible {
    case `default`(String)
    case resource(ResourceReference)

    /// `HTTPRoute shop/web-canary`, or `the default route http`.
    public var description: String {
        switch self {
        case .default(let name): "the default route \(name)"
        case .resource(let reference): "\(reference.kind) \(reference.namespace)/\(reference.name)"
        }
    }
}
