/// A ServiceProfile's routes as the proxy uses them (the destination API's
/// `DestinationProfile.routes`): the first route whose condition matches a request names it for
/// the `route_*` metrics (`rt_route`), and its response classes say which responses failed.
/// Not `Sendable` (path conditions hold compiled patterns): the proxy decodes a profile on its loop.
public struct ProfileRoutes {
    /// What a request must look like (`RequestMatch`).
    public indirect enum RequestCondition: Equatable {
        case all([RequestCondition])
        case any([RequestCondition])
        case not(RequestCondition)
        /// The whole path matches.
        case path(RoutePattern)
        /// Upper case.
        case method(String)

        /// Whether `request` meets the condition.
        public func matches<Request: RoutableRequest>(_ request: Request) -> Bool {
            switch self {
            case .all(let conditions): conditions.allSatisfy { $0.matches(request) }
            case .any(let conditions): conditions.contains { $0.matches(request) }
            case .not(let condition): !condition.matches(request)
            case .path(let pattern): pattern.matchesWhole(request.path)
            case .method(let method): request.method == method
            }
        }
    }

    /// Which responses a class takes (`ResponseMatch`); statuses are inclusive, 0 unbounded.
    public indirect enum ResponseCondition: Sendable, Equatable {
        case all([ResponseCondition])
        case any([ResponseCondition])
        case not(ResponseCondition)
        case status(minimum: Int, maximum: Int)

        /// Whether a response with `status` meets the condition.
        public func matches(status: Int) -> Bool {
            switch self {
            case .all(let conditions): conditions.allSatisfy { $0.matches(status: status) }
            case .any(let conditions): conditions.contains { $0.matches(status: status) }
            case .not(let condition): !condition.matches(status: status)
            case .status(let minimum, let maximum): (minimum == 0 || status >= minimum) && (maximum == 0 || status <= maximum)
            }
        }
    }

    /// A response class: the responses its condition takes failed, or did not.
    public struct ResponseClass: Sendable, Equatable {
        public var condition: ResponseCondition
        public var isFailure: Bool

        public init(condition: ResponseCondition, isFailure: Bool) {
            self.condition = condition
            self.isFailure = isFailure
        }

        /// Whether a response failed: by the first of `classes` that takes its status, else by
        /// ``Route/defaultFailed(status:grpcStatus:)``.
        public static func failed(_ classes: [ResponseClass], status: Int?, grpcStatus: Int?) -> Bool {
            if let status, let responseClass = classes.first(where: { $0.condition.matches(status: status) }) {
                return responseClass.isFailure
            }
            return Route.defaultFailed(status: status, grpcStatus: grpcStatus)
        }
    }

    /// One route of the profile.
    public struct Route: Equatable {
        /// `metrics_labels["route"]`, the `rt_route` label.
        public var name: String
        public var condition: RequestCondition
        /// In order: the first whose condition takes a response says whether it failed.
        public var responseClasses: [ResponseClass]
        /// Failed responses (by the classes) are retried, within the profile's budget.
        public var isRetryable: Bool
        /// The whole request's timeout.
        public var timeout: Duration?

        public init(name: String, condition: RequestCondition, responseClasses: [ResponseClass] = [], isRetryable: Bool = false,
                    timeout: Duration? = nil) {
            self.name = name
            self.condition = condition
            self.responseClasses = responseClasses
            self.isRetryable = isRetryable
            self.timeout = timeout
        }

        /// Whether a response failed: by the first response class that takes its status, else
        /// by ``defaultFailed(status:grpcStatus:)``.
        public func failed(status: Int?, grpcStatus: Int?) -> Bool {
            ResponseClass.failed(responseClasses, status: status, grpcStatus: grpcStatus)
        }

        /// The route's retries: failed responses retried (a budget, not a count, bounds them;
        /// ``RetryPolicy/maximumLimit`` per request at most).
        public var retry: RetryPolicy? {
            isRetryable ? RetryPolicy(limit: RetryPolicy.maximumLimit, conditions: .responseClasses(responseClasses)) : nil
        }

        /// Linkerd's default classification: a 5xx, or a gRPC status other than OK, failed; so
        /// did a request with no response at all.
        public static func defaultFailed(status: Int?, grpcStatus: Int?) -> Bool {
            guard let status else { return true }
            return status >= 500 || (grpcStatus.map { $0 != 0 } ?? false)
        }
    }

    /// The most routes one profile may have; a larger profile is refused whole.
    public static let maximumRoutes = 1_000

    public let routes: [Route]
    /// The profile's retry budget (Linkerd's default when the profile names none).
    public let budget: RetryBudget.Settings

    /// Refused past ``maximumRoutes``.
    public init(_ routes: [Route], budget: RetryBudget.Settings = .linkerdDefault) throws(RoutePolicyError) {
        guard routes.count <= Self.maximumRoutes else { throw RoutePolicyError("\(routes.count) profile routes, more than \(Self.maximumRoutes)") }
        self.routes = routes
        self.budget = budget
    }

    /// The index of the first route whose condition matches `request`; nil for none (the
    /// profile's default route).
    public func route<Request: RoutableRequest>(for request: Request) -> Int? {
        routes.firstIndex { $0.condition.matches(request) }
    }
}
