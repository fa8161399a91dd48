import WeftCore
import WeftPolicy

/// Reads the proxy API's `outbound.OutboundPolicy` by hand (the proxy links no protobuf runtime)
/// into a ``ClientPolicy``: the protocol, HTTP and gRPC routes with their hosts, matches, filters
/// and backends. Retries, timeouts and failure accrual are not read yet. Anything malformed or
/// unusable (a regex that ``RegexRule`` refuses, a header value with CR/LF, a backend that is not
/// a discovered service) refuses the whole policy, with the reason.
enum OutboundPolicyWire {
    static func decode(_ bytes: [UInt8]) throws(RoutePolicyError) -> ClientPolicy {
        do {
            return try policy(ProtobufReader(bytes[...]))
        } catch let error as RoutePolicyError {
            throw error
        } catch let error as ProtobufDecodingError {
            throw RoutePolicyError("malformed policy: \(error)")
        } catch {
            throw RoutePolicyError("\(error)")
        }
    }

    /// `OutboundPolicy { ProxyProtocol protocol = 1; Metadata metadata = 2; }`.
    private static func policy(_ message: ProtobufReader) throws -> ClientPolicy {
        var reader = message
        var proxyProtocol: (ClientPolicy.ProxyProtocol, ClientPolicy.FailureAccrual?)?
        var parent = ResourceReference(group: "", kind: "", name: "", namespace: "")
        try reader.fields { field, reader in
            switch field {
            case 1: proxyProtocol = try self.proxyProtocol(try reader.message())
            case 2: if case .resource(let reference) = try metadata(try reader.message()) { parent = reference }
            default: return false
            }
            return true
        }
        guard let (proxyProtocol, accrual) = proxyProtocol else { throw RoutePolicyError("the policy has no protocol") }
        return ClientPolicy(parent: parent, proxyProtocol: proxyProtocol, failureAccrual: accrual)
    }

    /// `ProxyProtocol { oneof kind { Detect detect = 1; Opaque opaque = 2; Http1 http1 = 3;
    /// Http2 http2 = 4; Grpc grpc = 5; } }`; HTTP/1 and HTTP/2 policies carry the same routes here,
    /// and the failure accrual of the first that has one.
    private static func proxyProtocol(_ message: ProtobufReader) throws -> (ClientPolicy.ProxyProtocol, ClientPolicy.FailureAccrual?) {
        var reader = message
        var found: ClientPolicy.ProxyProtocol?
        var accrual: ClientPolicy.FailureAccrual?
        try reader.fields { field, reader in
            switch field {
            case 1:
                var detect = try reader.message()
                var timeout = Duration.seconds(10)
                var routes: [ClientPolicy.HTTPRoute] = []
                try detect.fields { part, detect in
                    switch part {
                    case 1: timeout = try duration(try detect.message())
                    // HTTP/1 routes (3), or HTTP/2 routes (4) when no HTTP/1 routes came first.
                    case 3:
                        let body = try detect.message()
                        routes = try httpRoutes(body)
                        accrual = try accrual ?? failureAccrual(in: body)
                    case 4 where routes.isEmpty:
                        let body = try detect.message()
                        routes = try httpRoutes(body)
                        accrual = try accrual ?? failureAccrual(in: body)
                    default: return false
                    }
                    return true
                }
                found = .detect(timeout: timeout, httpRoutes: routes, opaqueRoutes: [])
            case 2: found = .opaque(routes: [])
            case 3, 4:
                let body = try reader.message()
                found = .detect(timeout: .seconds(10), httpRoutes: try httpRoutes(body), opaqueRoutes: [])
                accrual = try failureAccrual(in: body)
            case 5:
                let body = try reader.message()
                found = .grpc(routes: try routes(body, match: grpcMatch))
                accrual = try failureAccrual(in: body)
            default: return false
            }
            return true
        }
        guard let found else { throw RoutePolicyError("the protocol names no kind") }
        return (found, accrual)
    }

    /// `Http1/Http2 { repeated HttpRoute routes = 1; … }`.
    private static func httpRoutes(_ message: ProtobufReader) throws -> [ClientPolicy.HTTPRoute] {
        try routes(message, match: httpMatch)
    }

    /// `{ repeated XRoute routes = 1; }`, `XRoute { Metadata metadata = 1; repeated HostMatch hosts = 2;
    /// repeated Rule rules = 3; }`, `Rule { repeated Match matches = 1; repeated Filter filters = 2;
    /// Distribution backends = 3; requestTimeout = 4; timeouts = 5; retry = 6; }`.
    private static func routes<Match>(_ message: ProtobufReader, match: (ProtobufReader) throws -> Match) throws -> [ClientPolicy.Route<Match>] {
        var reader = message
        var routes: [ClientPolicy.Route<Match>] = []
        try reader.fields { field, reader in
            guard field == 1 else { return false }
            var body = try reader.message()
            var route = ClientPolicy.Route<Match>(metadata: .default(""), rules: [])
            try body.fields { part, body in
                switch part {
                case 1: route.metadata = try metadata(try body.message())
                case 2: route.hosts.append(try host(try body.message()))
                case 3:
                    var ruleReader = try body.message()
                    var rule = ClientPolicy.Rule<Match>(matches: [], backends: .firstAvailable([]))
                    try ruleReader.fields { item, ruleReader in
                        switch item {
                        case 1: rule.matches.append(try match(try ruleReader.message()))
                        case 2: if let filter = try filter(try ruleReader.message()) { rule.filters.append(filter) }
                        case 3: rule.backends = try distribution(try ruleReader.message())
                        case 4:
                            let request = try duration(try ruleReader.message())
                            if rule.timeouts?.request == nil { rule.timeouts = rule.timeouts ?? .init(); rule.timeouts?.request = request }
                        case 5:
                            var timeouts = ClientPolicy.Timeouts()
                            try self.timeouts(try ruleReader.message(), into: &timeouts)
                            if timeouts.request == nil { timeouts.request = rule.timeouts?.request }
                            rule.timeouts = timeouts
                        case 6: rule.retry = try retry(try ruleReader.message(), isGRPC: Match.self == GRPCRouteMatch.self)
                        default: return false
                        }
                        return true
                    }
                    route.rules.append(rule)
                default: return false
                }
                return true
            }
            routes.append(route)
            return true
        }
        return routes
    }

    /// `HttpRouteMatch { PathMatch path = 1; repeated HeaderMatch headers = 2;
    /// repeated QueryParamMatch query_params = 3; HttpMethod method = 4; }`.
    private static func httpMatch(_ message: ProtobufReader) throws -> HTTPRouteMatch {
        var reader = message
        var match = HTTPRouteMatch()
        try reader.fields { field, reader in
            switch field {
            case 1:
                var path = try reader.message()
                try path.fields { kind, path in
                    switch kind {
                    case 1: match.path = .exact(try path.string())
                    case 2: match.path = .prefix(try path.string())
                    case 3: match.path = .regex(try RoutePattern(try path.string()))
                    default: return false
                    }
                    return true
                }
            case 2:
                let (name, value) = try nameAndValue(try reader.message())
                match.headers.append(HeaderMatch(name: name, value: value))
            case 3:
                let (name, value) = try nameAndValue(try reader.message())
                match.queryParams.append(QueryParamMatch(name: name, value: value))
            case 4: match.method = try method(try reader.message())
            default: return false
            }
            return true
        }
        return match
    }

    /// `GrpcRouteMatch { GrpcRpcMatch rpc = 1; repeated HeaderMatch headers = 2; }`,
    /// `GrpcRpcMatch { string service = 1; string method = 2; }` (empty: any).
    private static func grpcMatch(_ message: ProtobufReader) throws -> GRPCRouteMatch {
        var reader = message
        var match = GRPCRouteMatch()
        try reader.fields { field, reader in
            switch field {
            case 1:
                var rpc = try reader.message()
                try rpc.fields { part, rpc in
                    switch part {
                    case 1: match.service = try rpc.string().nonEmpty
                    case 2: match.method = try rpc.string().nonEmpty
                    default: return false
                    }
                    return true
                }
            case 2:
                let (name, value) = try nameAndValue(try reader.message())
                match.headers.append(HeaderMatch(name: name, value: value))
            default: return false
            }
            return true
        }
        return match
    }

    /// `{ string name = 1; oneof value { exact = 2; string regex = 3; } }` (header and query matches).
    private static func nameAndValue(_ message: ProtobufReader) throws -> (String, StringMatch) {
        var reader = message
        var name = ""
        var value = StringMatch.exact("")
        try reader.fields { field, reader in
            switch field {
            case 1: name = try reader.string()
            case 2: value = .exact(try reader.string())
            case 3: value = .regex(try RoutePattern(try reader.string()))
            default: return false
            }
            return true
        }
        return (name, value)
    }

    /// `HttpMethod { oneof type { Registered registered = 1; string unregistered = 2; } }`.
    static func method(_ message: ProtobufReader) throws -> String {
        var reader = message
        var method = "GET"
        let registered = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "HEAD", "TRACE"]
        try reader.fields { field, reader in
            switch field {
            case 1:
                let index = Int(clamping: try reader.varint())
                guard index < registered.count else { throw RoutePolicyError("unknown registered method \(index)") }
                method = registered[index]
            case 2: method = try reader.string().uppercased()
            default: return false
            }
            return true
        }
        return method
    }

    /// `HostMatch { oneof match { string exact = 1; Suffix suffix = 2; } }`,
    /// `Suffix { repeated string reverse_labels = 1; }`.
    private static func host(_ message: ProtobufReader) throws -> HostMatch {
        var reader = message
        var match = HostMatch.exact("")
        try reader.fields { field, reader in
            switch field {
            case 1: match = .exact(try reader.string().lowercased())
            case 2:
                var suffix = try reader.message()
                var labels: [String] = []
                try suffix.fields { part, suffix in
                    guard part == 1 else { return false }
                    labels.append(try suffix.string().lowercased())
                    return true
                }
                match = .suffix(labels.reversed().joined(separator: "."))
            default: return false
            }
            return true
        }
        return match
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
