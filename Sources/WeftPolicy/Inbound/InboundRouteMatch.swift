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

    /// As an outbound HTTP match, for the shared route scan; nil for a regular expression or a
    /// gRPC match (neither matches an HTTP request here).
    var httpMatch: HTTPRouteMatch? {
        guard !usesRegex else { return nil }
        let converted: HTTPRouteMatch.Path
        switch path {
        case .exact(let value): converted = .exact(value)
        case .prefix(let value): converted = .prefix(value)
        case .regex, .grpc: return nil
        }
        return HTTPRouteMatch(path: converted, headers: headers.map(\.exactHeader), queryParams: queryParams.map { QueryParamMatch(name: $0.name, value: $0.exactValue) },
                              method: method)
    }

    /// As an outbound gRPC match; a prefix `/` takes every method (a gRPC Server's default
    /// route); nil for anything else.
    var grpcMatch: GRPCRouteMatch? {
        guard !usesRegex else { return nil }
        switch path {
        case .grpc(let service, let method): return GRPCRouteMatch(service: service, method: method, headers: headers.map(\.exactHeader))
        case .prefix("/"): return GRPCRouteMatch(headers: headers.map(\.exactHeader))
        case .exact, .prefix, .regex: return nil
        }
    }
}

extension InboundRouteMatch.Field {
    /// Only for exact values (regular expressions are refused before).
    var exactValue: StringMatch {
        if case .exact(let text) = value { return .exact(text) }
        return .exact("")
    }

    var exactHeader: HeaderMatch { HeaderMatch(name: name, value: exactValue) }
}
