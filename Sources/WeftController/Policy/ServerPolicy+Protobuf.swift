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
            case .grpc: $0.grpc = .init()
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
    var protobuf: Io_Linkerd_Proxy_Inbound_HttpRoute {
        .with {
            $0.metadata = metadata.protobuf
            $0.authorizations = authorizations.map(\.protobuf)
            $0.rules = [.with {
                $0.matches = pathMatches.map { match in
                    .with {
                        $0.path = .with {
                            switch match {
                            case .exact(let path): $0.exact = path
                            case .prefix(let path): $0.prefix = path
                            case .regex(let path): $0.regex = path
                            }
                        }
                    }
                }
            }]
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
