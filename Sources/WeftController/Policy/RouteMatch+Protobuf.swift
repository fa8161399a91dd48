import Foundation
import WeftAPI
import WeftPolicy

extension HTTPRouteMatch {
    var protobuf: Io_Linkerd_Proxy_HttpRoute_HttpRouteMatch {
        .with {
            switch path {
            case .exact(let value)?: $0.path = .with { $0.exact = value }
            case .prefix(let value)?: $0.path = .with { $0.prefix = value }
            case .regex(let pattern)?: $0.path = .with { $0.regex = pattern.source }
            case nil: break
            }
            $0.headers = headers.map(\.protobuf)
            $0.queryParams = queryParams.map { param in
                .with {
                    $0.name = param.name
                    switch param.value {
                    case .exact(let value): $0.exact = value
                    case .regex(let pattern): $0.regex = pattern.source
                    }
                }
            }
            if let method { $0.method = .protobuf(method) }
        }
    }
}

extension GRPCRouteMatch {
    var protobuf: Io_Linkerd_Proxy_GrpcRoute_GrpcRouteMatch {
        .with {
            if service != nil || method != nil {
                $0.rpc = .with {
                    $0.service = service ?? ""
                    $0.method = method ?? ""
                }
            }
            $0.headers = headers.map(\.protobuf)
        }
    }
}

extension HeaderMatch {
    var protobuf: Io_Linkerd_Proxy_HttpRoute_HeaderMatch {
        .with {
            $0.name = name
            switch value {
            case .exact(let text): $0.exact = Data(text.utf8)
            case .regex(let pattern): $0.regex = pattern.source
            }
        }
    }
}

extension HostMatch {
    var protobuf: Io_Linkerd_Proxy_HttpRoute_HostMatch {
        .with {
            switch self {
            case .exact(let name): $0.exact = name
            case .suffix(let suffix): $0.suffix = .with { $0.reverseLabels = suffix.split(separator: ".").reversed().map(String.init) }
            }
        }
    }
}

extension Io_Linkerd_Proxy_HttpTypes_HttpMethod {
    /// A registered method by its enum value, any other by name.
    static func protobuf(_ method: String) -> Self {
        let registered: [String: Registered] = ["GET": .get, "POST": .post, "PUT": .put, "DELETE": .delete, "PATCH": .patch,
                                                "OPTIONS": .options, "CONNECT": .connect, "HEAD": .head, "TRACE": .trace]
        return .with {
            if let value = registered[method] { $0.registered = value } else { $0.unregistered = method }
        }
    }
}

extension RouteFilter {
    var httpProtobuf: Io_Linkerd_Proxy_Outbound_HttpRoute.Filter.OneOf_Kind {
        switch self {
        case .requestHeaders(let modifier): .requestHeaderModifier(.with { $0.add = modifier.add.protobuf; $0.set = modifier.set.protobuf; $0.remove = modifier.remove })
        case .responseHeaders(let modifier): .responseHeaderModifier(.with { $0.add = modifier.add.protobuf; $0.set = modifier.set.protobuf; $0.remove = modifier.remove })
        case .redirect(let redirect): .redirect(redirect.protobuf)
        case .failure(let injector):
            .failureInjector(.with {
                $0.status = UInt32(injector.status)
                $0.message = injector.message
                $0.ratio = .with { $0.numerator = injector.numerator; $0.denominator = injector.denominator }
            })
        }
    }

    /// gRPC routes carry header modifiers and failure injectors only.
    var grpcProtobuf: Io_Linkerd_Proxy_Outbound_GrpcRoute.Filter.OneOf_Kind? {
        switch self {
        case .requestHeaders(let modifier): .requestHeaderModifier(.with { $0.add = modifier.add.protobuf; $0.set = modifier.set.protobuf; $0.remove = modifier.remove })
        case .failure(let injector):
            .failureInjector(.with {
                $0.code = UInt32(injector.status)
                $0.message = injector.message
                $0.ratio = .with { $0.numerator = injector.numerator; $0.denominator = injector.denominator }
            })
        case .responseHeaders, .redirect: nil
        }
    }
}

extension RequestRedirect {
    var protobuf: Io_Linkerd_Proxy_HttpRoute_RequestRedirect {
        .with {
            if let scheme { $0.scheme = .with { $0.registered = scheme == "https" ? .https : .http } }
            $0.host = host ?? ""
            switch path {
            case .full(let value)?: $0.path = .with { $0.full = value }
            case .prefix(let value)?: $0.path = .with { $0.prefix = value }
            case nil: break
            }
            $0.port = UInt32(port ?? 0)
            $0.status = UInt32(status)
        }
    }
}

extension Array where Element == Header {
    var protobuf: Io_Linkerd_Proxy_HttpTypes_Headers {
        .with { $0.headers = map { header in .with { $0.name = header.name; $0.value = Data(header.value.utf8) } } }
    }
}
