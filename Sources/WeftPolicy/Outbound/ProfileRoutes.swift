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
    public indirect enum ResponseCondition: Equatable {
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

    /// One route of the profile.
    public struct Route: Equatable {
        /// `metrics_labels["route"]`, the `rt_route` label.
        public var name: String
        public var condition: RequestCondition
        /// In order: the first whose condition takes a response says whether it failed.
        public var responseClasses: [(condition: ResponseCondition, isFailure: Bool)]

        public init(name: String, condition: RequestCondition, responseClasses: [(condition: ResponseCondition, isFailure: Bool)] = []) {
            self.name = name
            self.condition = condition
            self.responseClasses = responseClasses
        }

        public static func == (a: Route, b: Route) -> Bool {
            a.name == b.name && a.condition == b.condition && a.responseClasses.count == b.responseClasses.count
                && zip(a.responseClasses, b.responseClasses).allSatisfy { $0.condition == $1.condition && $0.isFailure == $1.isFailure }
        }

        /// Whether a response failed: by the first response class that takes its status, else
        /// by ``defaultFailed(status:grpcStatus:)``.
        public func failed(status: Int?, grpcStatus: Int?) -> Bool {
            if let status, let responseClass = responseClasses.first(where: { $0.condition.matches(status: status) }) {
                return responseClass.isFailure
            }
            return Self.defaultFailed(status: status, grpcStatus: grpcStatus)
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

    /// Refused past ``maximumRoutes``.
    public init(_ routes: [Route]) throws(RoutePolicyError) {
        guard routes.count <= Self.maximumRoutes else { throw RoutePolicyError("\(routes.count) profile routes, more than \(Self.maximumRoutes)") }
        self.routes = routes
    }

    /// The index of the first route whose condition matches `request`; nil for none (the
    /// profile's default route).
    public func route<Request: RoutableRequest>(for request: Request) -> Int? {
        routes.firstIndex { $0.condition.matches(request) }
    }
}
