import Foundation
import SwiftProtobuf
import WeftAPI
import WeftCore
import WeftPolicy

extension ServerPolicy {
    /// The policy as `InboundServerPolicies` sends it.
    var protobuf: Io_Linkerd_Proxy_Inbound_Server {
        var server = Io_Linkerd_Proxy_Inbound_Server()
        let routes = httpRoutes.map(\.protobuf)
        server.protocol = .with {
            switch proxyProtocol {
            case .detect(let timeout):
                $0.detect = .with {
                    $0.timeout = .init(timeout)
                    $0.httpRoutes = routes
                }
            case .http1: $0.http1 = .with { $0.routes = routes }
            case .http2: $0.http2 = .with { $0.routes = routes }
            case .grpc: $0.grpc = .with { $0.routes = httpRoutes.map(\.grpcProtobuf) }
            case .opaque: $0.opaque = .init()
            case .tls: $0.tls = .init()
            }
        }
        server.authorizations = authorizations.map(\.protobuf)
        server.labels = labels
        return server
    }
}

extension Authorization {
    var protobuf: Io_Linkerd_Proxy_Inbound_Authz {
        .with {
            $0.networks = networks.map { network in
                .with {
                    $0.net = .init(network.net)
                    $0.except = network.except.map { .init($0) }
                }
            }
            switch authentication {
            case .unauthenticated:
                $0.authentication = .with { $0.unauthenticated = .init() }
            case .meshTLS(let identities, let suffixes):
                $0.authentication = .with {
                    $0.meshTls = .with {
                        $0.identities = .with {
                            $0.identities = identities.map { name in .with { $0.name = name } }
                            $0.suffixes = suffixes.map { parts in .with { $0.parts = parts } }
                        }
                    }
                }
            }
            $0.labels = labels
            $0.metadata = metadata.protobuf
        }
    }
}

extension InboundHTTPRoute {
    /// As an HTTP route: one rule with every match.
    var protobuf: Io_Linkerd_Proxy_Inbound_HttpRoute {
        .with {
            $0.metadata = metadata.protobuf
            $0.authorizations = authorizations.map(\.protobuf)
            $0.rules = [.with { $0.matches = matches.map(\.httpProtobuf) }]
        }
    }

    /// As a gRPC route (a `gRPC` Server's): one rule with every match.
    var grpcProtobuf: Io_Linkerd_Proxy_Inbound_GrpcRoute {
        .with {
            $0.metadata = metadata.protobuf
            $0.authorizations = authorizations.map(\.protobuf)
            $0.rules = [.with { $0.matches = matches.map(\.grpcProtobuf) }]
        }
    }
}

extension InboundRouteMatch {
    var httpProtobuf: Io_Linkerd_Proxy_HttpRoute_HttpRouteMatch {
        .with {
            switch path {
            case .exact(let value): $0.path = .with { $0.exact = value }
            case .prefix(let value): $0.path = .with { $0.prefix = value }
            case .regex(let value): $0.path = .with { $0.regex = value }
            case .grpc(let service?, let method?): $0.path = .with { $0.exact = "/\(service)/\(method)" }
            case .grpc(let service?, nil): $0.path = .with { $0.prefix = "/\(service)" }
            case .grpc: break
            }
            $0.headers = headers.map(\.headerProtobuf)
            $0.queryParams = queryParams.map { param in
                .with {
                    $0.name = param.name
                    switch param.value {
                    case .exact(let value): $0.exact = value
                    case .regex(let value): $0.regex = value
                    }
                }
            }
            if let method { $0.method = .protobuf(method) }
        }
    }

    var grpcProtobuf: Io_Linkerd_Proxy_GrpcRoute_GrpcRouteMatch {
        .with {
            if case .grpc(let service, let method) = path, service != nil || method != nil {
                $0.rpc = .with {
                    $0.service = service ?? ""
                    $0.method = method ?? ""
                }
            }
            $0.headers = headers.map(\.headerProtobuf)
        }
    }
}

extension InboundRouteMatch.Field {
    var headerProtobuf: Io_Linkerd_Proxy_HttpRoute_HeaderMatch {
        .with {
            $0.name = name
            switch value {
            case .exact(let text): $0.exact = Data(text.utf8)
            case .regex(let pattern): $0.regex = pattern
            }
        }
    }
}

extension PolicyMetadata {
    var protobuf: Io_Linkerd_Proxy_Meta_Metadata {
        .with {
            switch self {
            case .default(let name): $0.default = name
            case .resource(let group, let kind, let name):
                $0.resource = .with {
                    $0.group = group
                    $0.kind = kind
                    $0.name = name
                }
            }
        }
    }
}

extension Google_Protobuf_Duration {
    /// A Swift duration, to the nanosecond.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(seconds: seconds, nanos: Int32(attoseconds / 1_000_000_000))
    }
}
