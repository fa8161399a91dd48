import WeftCore
import WeftPolicy

/// Reads the proxy API's `inbound.Server` message by hand (the proxy links no protobuf runtime)
/// into a ``ServerPolicy``: the protocol, the authorizations, the HTTP or gRPC routes with their
/// own authorizations, the labels. What the proxy cannot enforce exactly (host matches, filters,
/// regular expressions) makes the whole policy refused, and a refused policy denies: the proxy
/// never admits more than a policy says.
enum ServerPolicyWire {
    /// At most this many authorizations, and this many routes, per port.
    static let limit = 1_000

    /// `Server { ProxyProtocol protocol = 1; repeated IPAddress server_ips = 2; repeated Authz
    /// authorizations = 3; map<string, string> labels = 4; }`.
    static func decode(server bytes: [UInt8]) throws(ProtobufDecodingError) -> ServerPolicy {
        var reader = ProtobufReader(bytes[...])
        var proxyProtocol: ServerPolicy.ProxyProtocol?
        var routes: [InboundHTTPRoute] = []
        var authorizations: [Authorization] = []
        var labels: [String: String] = [:]
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2):
                let (kind, found) = try protocolAndRoutes(try reader.message())
                proxyProtocol = kind
                routes = found
            case (3, 2):
                guard authorizations.count < limit else { throw ProtobufDecodingError("more than \(limit) authorizations") }
                authorizations.append(try authorization(try reader.message()))
            case (4, 2):
                let (key, value) = try DestinationWire.mapEntry(try reader.message())
                labels[key] = value
            default: try reader.skip(wireType: wireType)
            }
        }
        guard let proxyProtocol else { throw ProtobufDecodingError("a Server without a protocol") }
        return ServerPolicy(proxyProtocol: proxyProtocol, authorizations: authorizations,
                            httpRoutes: routes.isEmpty ? [.default] : routes, labels: labels)
    }

    /// The protocol only (kept for callers that need no more).
    static func proxyProtocol(server bytes: [UInt8]) throws(ProtobufDecodingError) -> ServerPolicy.ProxyProtocol {
        try decode(server: bytes).proxyProtocol
    }

    /// `ProxyProtocol { oneof kind { Detect detect = 1; Opaque opaque = 2; Tls tls = 3; Http1
    /// http1 = 4; Http2 http2 = 5; Grpc grpc = 6; } }`; `Detect { Duration timeout = 1; repeated
    /// HttpRoute http_routes = 3; }`, `Http1`/`Http2 { repeated HttpRoute routes = 2; }`,
    /// `Grpc { repeated GrpcRoute routes = 2; }`.
    private static func protocolAndRoutes(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> (ServerPolicy.ProxyProtocol, [InboundHTTPRoute]) {
        var reader = reader
        var found: ServerPolicy.ProxyProtocol?
        var routes: [InboundHTTPRoute] = []
        while !reader.isAtEnd {
            let (arm, armType) = try reader.key()
            guard armType == 2 else {
                try reader.skip(wireType: armType)
                continue
            }
            var body = try reader.message()
            routes = []
            let routesField: UInt64
            switch arm {
            case 1: found = .detect(timeout: ServerPolicy.ProxyProtocol.defaultDetectTimeout); routesField = 3
            case 2: found = .opaque; routesField = 0
            case 3: found = .tls; routesField = 0
            case 4: found = .http1; routesField = 2
            case 5: found = .http2; routesField = 2
            case 6: found = .grpc; routesField = 2
            default: continue
            }
            while !body.isAtEnd {
                let (field, wireType) = try body.key()
                switch (field, wireType) {
                case (1, 2) where arm == 1:
                    found = .detect(timeout: try detectTimeout(try body.message()))
                case (routesField, 2) where routesField != 0:
                    guard routes.count < limit else { throw ProtobufDecodingError("more than \(limit) routes") }
                    routes.append(try route(try body.message(), grpc: arm == 6))
                default: try body.skip(wireType: wireType)
                }
            }
        }
        guard let found else { throw ProtobufDecodingError("a Server without a protocol") }
        return (found, routes)
    }

    /// The detect timeout: `Duration { int64 seconds = 1; int32 nanos = 2; }`, at most a day.
    private static func detectTimeout(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> Duration {
        var duration = reader
        var (seconds, nanos): (Int64, Int64) = (0, 0)
        while !duration.isAtEnd {
            let (part, partType) = try duration.key()
            switch (part, partType) {
            case (1, 0): seconds = Int64(bitPattern: try duration.varint())
            case (2, 0): nanos = Int64(Int32(truncatingIfNeeded: try duration.varint()))
            default: try duration.skip(wireType: partType)
            }
        }
        guard seconds >= 0, seconds <= 86_400, nanos >= 0, nanos < 1_000_000_000 else {
            throw ProtobufDecodingError("a detect timeout of \(seconds) s \(nanos) ns")
        }
        return .seconds(seconds) + .nanoseconds(nanos)
    }
}
