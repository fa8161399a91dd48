import SwiftProtobuf
import WeftAPI
import WeftPolicy

extension ClientPolicy {
    /// The policy as `OutboundPolicies` sends it (the same HTTP routes for HTTP/1 and HTTP/2).
    /// Rules carry their retry policy and timeouts; the failure accrual goes with each HTTP kind.
    var protobuf: Io_Linkerd_Proxy_Outbound_OutboundPolicy {
        var policy = Io_Linkerd_Proxy_Outbound_OutboundPolicy()
        policy.metadata = parent.protobuf
        switch proxyProtocol {
        case .opaque(let routes):
            policy.protocol = .with { $0.opaque = .with { $0.routes = routes.map(\.protobuf) } }
        case .grpc(let routes):
            policy.protocol = .with {
                $0.grpc = .with {
                    $0.routes = routes.map(\.protobuf)
                    if let failureAccrual { $0.failureAccrual = failureAccrual.protobuf }
                }
            }
        case .detect(let timeout, let httpRoutes, let opaqueRoutes):
            let routes = httpRoutes.map(\.protobuf)
            policy.protocol = .with {
                $0.detect = .with {
                    $0.timeout = .init(timeout)
                    $0.opaque = .with { $0.routes = opaqueRoutes.map(\.protobuf) }
                    $0.http1 = .with {
                        $0.routes = routes
                        if let failureAccrual { $0.failureAccrual = failureAccrual.protobuf }
                    }
                    $0.http2 = .with {
                        $0.routes = routes
                        if let failureAccrual { $0.failureAccrual = failureAccrual.protobuf }
                    }
                }
            }
        }
        return policy
    }
}

extension ClientPolicy.Route where Match == HTTPRouteMatch {
    var protobuf: Io_Linkerd_Proxy_Outbound_HttpRoute {
        .with {
            $0.metadata = metadata.protobuf
            $0.hosts = hosts.map(\.protobuf)
            $0.rules = rules.map { rule in
                .with {
                    $0.matches = rule.matches.map(\.protobuf)
                    $0.filters = rule.filters.map { filter in .with { $0.kind = filter.httpProtobuf } }
                    $0.backends = rule.backends.httpProtobuf
                    if let timeouts = rule.timeouts { $0.setTimeouts(timeouts) }
                    if let retry = rule.retry { $0.retry = retry.httpProtobuf }
                }
            }
        }
    }
}

extension ClientPolicy.Route where Match == GRPCRouteMatch {
    var protobuf: Io_Linkerd_Proxy_Outbound_GrpcRoute {
        .with {
            $0.metadata = metadata.protobuf
            $0.hosts = hosts.map(\.protobuf)
            $0.rules = rules.map { rule in
                .with {
                    $0.matches = rule.matches.map(\.protobuf)
                    $0.filters = rule.filters.compactMap { filter in filter.grpcProtobuf.map { kind in .with { $0.kind = kind } } }
                    $0.backends = rule.backends.grpcProtobuf
                    if let timeouts = rule.timeouts { $0.setTimeouts(timeouts) }
                    if let retry = rule.retry { $0.retry = retry.grpcProtobuf }
                }
            }
        }
    }
}

extension ClientPolicy.OpaqueRoute {
    var protobuf: Io_Linkerd_Proxy_Outbound_OpaqueRoute {
        .with {
            $0.metadata = metadata.protobuf
            $0.rules = [.with { $0.backends = backends.opaqueProtobuf }]
        }
    }
}

extension ClientPolicy.Distribution {
    var httpProtobuf: Io_Linkerd_Proxy_Outbound_HttpRoute.Distribution {
        .with {
            switch self {
            case .firstAvailable(let backends):
                $0.firstAvailable = .with { $0.backends = backends.map { backend in .with { $0.backend = backend.protobuf } } }
            case .randomAvailable(let weighted):
                $0.randomAvailable = .with {
                    $0.backends = weighted.map { entry in .with { $0.backend = .with { $0.backend = entry.backend.protobuf }; $0.weight = entry.weight } }
                }
            }
        }
    }

    var grpcProtobuf: Io_Linkerd_Proxy_Outbound_GrpcRoute.Distribution {
        .with {
            switch self {
            case .firstAvailable(let backends):
                $0.firstAvailable = .with { $0.backends = backends.map { backend in .with { $0.backend = backend.protobuf } } }
            case .randomAvailable(let weighted):
                $0.randomAvailable = .with {
                    $0.backends = weighted.map { entry in .with { $0.backend = .with { $0.backend = entry.backend.protobuf }; $0.weight = entry.weight } }
                }
            }
        }
    }

    var opaqueProtobuf: Io_Linkerd_Proxy_Outbound_OpaqueRoute.Distribution {
        .with {
            switch self {
            case .firstAvailable(let backends):
                $0.firstAvailable = .with { $0.backends = backends.map { backend in .with { $0.backend = backend.protobuf } } }
            case .randomAvailable(let weighted):
                $0.randomAvailable = .with {
                    $0.backends = weighted.map { entry in .with { $0.backend = .with { $0.backend = entry.backend.protobuf }; $0.weight = entry.weight } }
                }
            }
        }
    }
}

extension ClientPolicy.Backend {
    var protobuf: Io_Linkerd_Proxy_Outbound_Backend {
        .with {
            $0.metadata = metadata.protobuf
            $0.queue = .with {
                $0.capacity = queueCapacity
                $0.failfastTimeout = .init(failFastTimeout)
            }
            $0.balancer = .with {
                $0.discovery = .with { $0.dst = .with { $0.path = discoveryPath } }
                $0.peakEwma = .with {
                    $0.defaultRtt = .init(defaultRTT)
                    $0.decay = .init(decay)
                }
            }
        }
    }
}

extension ResourceReference {
    var protobuf: Io_Linkerd_Proxy_Meta_Metadata {
        .with {
            $0.resource = .with {
                $0.group = group
                $0.kind = kind
                $0.name = name
                $0.namespace = namespace
                if let port { $0.port = UInt32(port) }
            }
        }
    }
}

extension RouteMetadata {
    var protobuf: Io_Linkerd_Proxy_Meta_Metadata {
        switch self {
        case .default(let name): .with { $0.default = name }
        case .resource(let reference): reference.protobuf
        }
    }
}
