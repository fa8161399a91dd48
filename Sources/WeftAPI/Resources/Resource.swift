/// One object of any kind Weft reads.
public enum Resource: Hashable, Sendable {
    case namespace(Namespace)
    case serviceAccount(ServiceAccount)
    case service(Service)
    case externalWorkload(ExternalWorkload)
    case server(Server)
    case serverAuthorization(ServerAuthorization)
    case authorizationPolicy(AuthorizationPolicy)
    case meshTLSAuthentication(MeshTLSAuthentication)
    case networkAuthentication(NetworkAuthentication)
    case httpRoute(HTTPRoute)
    case grpcRoute(GRPCRoute)
    case serviceProfile(ServiceProfile)

    /// Every kind, in the order they are best applied (namespaces first, policies last).
    public static let kinds: [any ResourceObject.Type] = [
        Namespace.self, ServiceAccount.self, Service.self, ExternalWorkload.self, Server.self,
        ServerAuthorization.self, AuthorizationPolicy.self, MeshTLSAuthentication.self,
        NetworkAuthentication.self, HTTPRoute.self, GRPCRoute.self, ServiceProfile.self,
    ]

    /// The object, whatever its kind.
    public var object: any ResourceObject {
        switch self {
        case .namespace(let object): object
        case .serviceAccount(let object): object
        case .service(let object): object
        case .externalWorkload(let object): object
        case .server(let object): object
        case .serverAuthorization(let object): object
        case .authorizationPolicy(let object): object
        case .meshTLSAuthentication(let object): object
        case .networkAuthentication(let object): object
        case .httpRoute(let object): object
        case .grpcRoute(let object): object
        case .serviceProfile(let object): object
        }
    }

    /// Wraps an object of any kind.
    public init(_ object: any ResourceObject) {
        switch object {
        case let object as Namespace: self = .namespace(object)
        case let object as ServiceAccount: self = .serviceAccount(object)
        case let object as Service: self = .service(object)
        case let object as ExternalWorkload: self = .externalWorkload(object)
        case let object as Server: self = .server(object)
        case let object as ServerAuthorization: self = .serverAuthorization(object)
        case let object as AuthorizationPolicy: self = .authorizationPolicy(object)
        case let object as MeshTLSAuthentication: self = .meshTLSAuthentication(object)
        case let object as NetworkAuthentication: self = .networkAuthentication(object)
        case let object as HTTPRoute: self = .httpRoute(object)
        case let object as GRPCRoute: self = .grpcRoute(object)
        case let object as ServiceProfile: self = .serviceProfile(object)
        default: preconditionFailure("\(type(of: object)) is missing from Resource")
        }
    }

    public var kind: String { type(of: object).kind }
    public var apiVersion: String { object.apiVersion }
    public var metadata: ObjectMeta { object.metadata }

    /// `Kind namespace/name`, or `Kind name` for cluster-scoped kinds.
    public var label: String {
        Self.label(kind: kind, namespaced: type(of: object).isNamespaced, metadata: metadata)
    }

    static func label(kind: String, namespaced: Bool, metadata: ObjectMeta) -> String {
        let name = metadata.name ?? "<no name>"
        return namespaced ? "\(kind) \(metadata.namespace ?? "default")/\(name)" : "\(kind) \(name)"
    }
}
