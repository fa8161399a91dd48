/// What a request must look like for an inbound route (the proxy API's `HttpRouteMatch` or
/// `GrpcRouteMatch` on a `Server`, Gateway API semantics): every part that is set must match.
/// Sendable and plain: regular expressions are carried as text, and a proxy that does not
/// evaluate them refuses the policy rather than guess.
public struct InboundRouteMatch: Sendable, Equatable {
    public enum Path: Sendable, Equatable {
        case exact(String)
        /// Whole path segments: `/api` matches `/api` and `/api/x`, not `/apix`.
        case prefix(String)
        case regex(String)
        /// gRPC: `/service/method`; nil matches any service (method).
        case grpc(service: String?, method: String?)
    }

    /// A header's or query parameter's value.
    public enum Value: Sendable, Equatable {
        case exact(String)
        case regex(String)
    }

    /// A header (name lower case) or query parameter and its value.
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: Value

        public init(name: String, value: Value) {
            self.name = name
            self.value = value
        }
    }

    public var path: Path
    public var headers: [Field]
    public var queryParams: [Field]
    /// Upper case; nil: any method.
    public var method: String?

    public init(path: Path = .prefix("/"), headers: [Field] = [], queryParams: [Field] = [], method: String? = nil) {
        self.path = path
        self.headers = headers
        self.queryParams = queryParams
        self.method = method
    }

    /// Whether the match uses a regular expression anywhere.
    public var usesRegex: Bool {
        if case .regex = path { return true }
        return (headers + queryParams).contains { if case .regex = $0.value { true } else { false } }
    }

    /// How well `request` matched (the Gateway API's precedence, as outbound routes), nil when it
    /// does not. Regular expressions never match here.
    public func score<Request: RoutableRequest>(_ request: Request) -> HTTPRouteMatch.Score? {
        var score = HTTPRouteMatch.Score(pathKind: 1, pathLength: 1, hasMethod: method != nil, headers: headers.count,
                                         queryParams: queryParams.count)
        switch path {
        case .exact(let value):
            guard request.path == value[...] else { return nil }
            (score.pathKind, score.pathLength) = (3, value.utf8.count)
        case .prefix(let value):
            guard HTTPRouteMatch.pathHasPrefix(request.path, value) else { return nil }
            score.pathLength = value.utf8.count
        case .grpc(let service, let method):
            if service == nil, method == nil { break }
            guard let rpc = request.grpcMethod, service.map({ rpc.service == $0[...] }) ?? true,
                  method.map({ rpc.method == $0[...] }) ?? true else { return nil }
            (score.pathKind, score.pathLength) = (service != nil && method != nil ? 3 : 1, request.path.utf8.count)
        case .regex:
            return nil
        }
        if let method, request.method != method { return nil }
        for header in headers {
            guard case .exact(let value) = header.value, request.containsHeader(header.name, where: { $0 == value[...] }) else { return nil }
        }
        for param in queryParams {
            guard case .exact(let value) = param.value,
                  HTTPRouteMatch.query(request.query, has: QueryParamMatch(name: param.name, value: .exact(value))) else { return nil }
        }
        return score
    }
}
