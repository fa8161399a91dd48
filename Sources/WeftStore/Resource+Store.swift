import WeftAPI

/// What every store backend needs of a resource: its declared content, its status (the status
/// subresource), and a copy with store-set metadata.
extension Resource {
    /// The object with the store-managed metadata and the status removed: what a user declares.
    public var declaredContent: Resource {
        var copy = object
        copy.metadata.uid = nil
        copy.metadata.resourceVersion = nil
        copy.metadata.generation = nil
        copy.metadata.creationTimestamp = nil
        var resource = Resource(copy)
        resource.status = .none
        return resource
    }

    /// A kind's status, for the kinds that have one.
    public enum Status: Hashable, Sendable {
        case none
        case externalWorkload(ExternalWorkload.Status?)
        case route(GatewayRoute.RouteStatus?)
    }

    public var status: Status {
        get {
            switch self {
            case .externalWorkload(let workload): .externalWorkload(workload.status)
            case .httpRoute(let route): .route(route.status)
            case .grpcRoute(let route): .route(route.status)
            default: .none
            }
        }
        set {
            switch (self, newValue) {
            case (.externalWorkload(var workload), .externalWorkload(let status)):
                workload.status = status
                self = .externalWorkload(workload)
            case (.httpRoute(var route), .route(let status)):
                route.status = status
                self = .httpRoute(route)
            case (.grpcRoute(var route), .route(let status)):
                route.status = status
                self = .grpcRoute(route)
            case (.externalWorkload(var workload), .none):
                workload.status = nil
                self = .externalWorkload(workload)
            case (.httpRoute(var route), .none):
                route.status = nil
                self = .httpRoute(route)
            case (.grpcRoute(var route), .none):
                route.status = nil
                self = .grpcRoute(route)
            default:
                break
            }
        }
    }

    /// A copy with other metadata.
    public func with(metadata: ObjectMeta) -> Resource {
        var copy = object
        copy.metadata = metadata
        return Resource(copy)
    }
}
