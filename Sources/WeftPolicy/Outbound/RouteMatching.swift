/// A route rule's match: how well a request fits it, or nil when it does not.
public protocol RouteMatching: Equatable {
    associatedtype Score: Comparable & Sendable
    /// How well `request` fits (higher is more specific), or nil when it does not.
    func score<Request: RoutableRequest>(_ request: Request) -> Score?
}

extension HTTPRouteMatch: RouteMatching {}

/// A gRPC rule's match (the proxy API's `grpc_route.GrpcRouteMatch`): the service and method of
/// the call (nil: any), and headers.
public struct GRPCRouteMatch: RouteMatching {
    /// E.g. `emojivoto.v1.VotingService`.
    public var service: String?
    /// E.g. `VoteDoughnut`.
    public var method: String?
    public var headers: [HeaderMatch]

    public init(service: String? = nil, method: String? = nil, headers: [HeaderMatch] = []) {
        self.service = service
        self.method = method
        self.headers = headers
    }

    /// The Gateway API's precedence: the longer service, then the longer method, then more headers.
    public struct Score: Comparable, Sendable {
        var service: Int
        var method: Int
        var headers: Int

        public static func < (a: Score, b: Score) -> Bool {
            (a.service, a.method, a.headers) < (b.service, b.method, b.headers)
        }
    }

    public func score<Request: RoutableRequest>(_ request: Request) -> Score? {
        if service != nil || method != nil {
            guard let call = request.grpcMethod else { return nil }
            if let service, call.service != service[...] { return nil }
            if let method, call.method != method[...] { return nil }
        }
        for header in headers where !request.containsHeader(header.name, where: { header.value.matches($0) }) {
            return nil
        }
        return Score(service: service?.utf8.count ?? 0, method: method?.utf8.count ?? 0, headers: headers.count)
    }
}
