import GRPCCore
import SwiftProtobuf
import WeftAPI
import WeftCore
import WeftStore

/// Computes `DestinationProfile`s (linkerd-compat §1.4, §3.3): for a service name, the
/// ServiceProfile named after it (looked up in the client's namespace first, then the service's)
/// or the default profile; for an `ip:port`, the service with that cluster IP, or a single
/// workload with that IP as the profile's `endpoint`.
public struct ProfileResolver: Sendable {
    public let clusterDomain: String

    public init(clusterDomain: String) {
        self.clusterDomain = clusterDomain
    }

    public enum Target: Sendable, Equatable {
        case service(ServiceAuthority)
        case address(IPAddress, port: UInt16)
    }

    /// The target of a `GetProfile` path; an error with INVALID_ARGUMENT otherwise.
    public func target(_ path: String) throws(RPCError) -> Target {
        do {
            return .service(try ServiceAuthority(parsing: path, clusterDomain: clusterDomain))
        } catch .address {
            guard let colon = path.lastIndex(of: ":"), let port = UInt16(path[path.index(after: colon)...]), port > 0,
                  let ip = IPAddress(String(path[..<colon]).trimmingCharacters(in: ["[", "]"])) else {
                throw RPCError(code: .invalidArgument, message: "\"\(path)\" is neither a service name nor ip:port")
            }
            return .address(ip, port: port)
        } catch {
            throw RPCError(code: .invalidArgument, message: "\(error)")
        }
    }

    public func profile(for target: Target, clientNamespace: String?, in snapshot: StoreSnapshot) -> Io_Linkerd_Proxy_Destination_DestinationProfile {
        switch target {
        case .service(let authority):
            return serviceProfile(authority, clientNamespace: clientNamespace, in: snapshot)
        case .address(let ip, let port):
            if let service = snapshot.service(clusterIP: ip) {
                return serviceProfile(ServiceAuthority(service: service.metadata.name ?? "", namespace: service.metadata.namespace ?? "default", port: port),
                                      clientNamespace: clientNamespace, in: snapshot)
            }
            var profile = Self.defaultProfile()
            if let workload = snapshot.externalWorkload(at: ip) {
                let opaque = PortSet.linkerdDefaultOpaquePorts.contains(port)
                profile.opaqueProtocol = opaque
                profile.endpoint = DestinationService.weightedAddress(ResolvedEndpoint(
                    address: ip, port: port, identity: workload.identity, serverName: workload.meshTLS?.serverName,
                    opaque: opaque, proxyInboundPort: workload.proxyInboundPort,
                    labels: ["external_workload": workload.metadata.name ?? ""]))
            }
            return profile
        }
    }

    static func defaultProfile() -> Io_Linkerd_Proxy_Destination_DestinationProfile {
        var profile = Io_Linkerd_Proxy_Destination_DestinationProfile()
        profile.retryBudget = .with {
            $0.retryRatio = 0.2
            $0.minRetriesPerSecond = 10
            $0.ttl = .init(seconds: 10)
        }
        return profile
    }

    private func serviceProfile(_ authority: ServiceAuthority, clientNamespace: String?,
                                in snapshot: StoreSnapshot) -> Io_Linkerd_Proxy_Destination_DestinationProfile {
        var profile = Self.defaultProfile()
        guard case .service(let service)? = snapshot[Service.kind, authority.namespace, authority.service] else { return profile }
        let name = authority.fullyQualifiedName(clusterDomain: clusterDomain)
        profile.fullyQualifiedName = name
        profile.opaqueProtocol = OpaquePorts.of(service).contains(authority.port)
        let namespaces = [clientNamespace, authority.namespace].compactMap { $0 }
        guard let found = namespaces.lazy.compactMap({ snapshot[ServiceProfile.kind, $0, name] }).first,
              case .serviceProfile(let serviceProfile) = found else { return profile }
        let spec = serviceProfile.spec
        if spec.opaquePorts?.contains(where: { $0.value == authority.port }) == true { profile.opaqueProtocol = true }
        profile.routes = (spec.routes ?? []).map(Self.route)
        if let budget = spec.retryBudget {
            profile.retryBudget = .with {
                $0.retryRatio = Float(budget.retryRatio)
                $0.minRetriesPerSecond = budget.minRetriesPerSecond
                $0.ttl = Self.duration(budget.ttl)
            }
        }
        profile.dstOverrides = (spec.dstOverrides ?? []).map { override in
            .with {
                $0.authority = override.authority
                // Linkerd sends the weight as thousandths times ten: 500m → 5000, 1 → 10000.
                $0.weight = UInt32(clamping: override.weight.milliValue * 10)
            }
        }
        return profile
    }

    static func duration(_ value: GoDuration) -> Google_Protobuf_Duration {
        .init(seconds: value.nanoseconds / 1_000_000_000, nanos: Int32(value.nanoseconds % 1_000_000_000))
    }

    static func route(_ route: ServiceProfile.Route) -> Io_Linkerd_Proxy_Destination_Route {
        .with {
            $0.condition = requestMatch(route.condition)
            $0.responseClasses = (route.responseClasses ?? []).map { responseClass in
                .with {
                    $0.condition = responseMatch(responseClass.condition)
                    $0.isFailure = responseClass.isFailure ?? false
                }
            }
            $0.metricsLabels = ["route": route.name]
            $0.isRetryable = route.isRetryable ?? false
            if let timeout = route.timeout { $0.timeout = duration(timeout) }
        }
    }

    static func requestMatch(_ match: ServiceProfile.RequestMatch) -> Io_Linkerd_Proxy_Destination_RequestMatch {
        var result = Io_Linkerd_Proxy_Destination_RequestMatch()
        if let all = match.all {
            result.all = .with { $0.matches = all.map(requestMatch) }
        } else if let any = match.any {
            result.any = .with { $0.matches = any.map(requestMatch) }
        } else if let not = match.not {
            result.not = requestMatch(not.value)
        } else if let regex = match.pathRegex {
            result.path = .with { $0.regex = regex }
        } else if let method = match.method {
            result.method = .with { proto in
                let registered: [String: Io_Linkerd_Proxy_HttpTypes_HttpMethod.Registered] = [
                    "GET": .get, "POST": .post, "PUT": .put, "DELETE": .delete, "PATCH": .patch,
                    "OPTIONS": .options, "CONNECT": .connect, "HEAD": .head, "TRACE": .trace,
                ]
                if let value = registered[method.uppercased()] { proto.registered = value } else { proto.unregistered = method }
            }
        }
        return result
    }

    static func responseMatch(_ match: ServiceProfile.ResponseMatch) -> Io_Linkerd_Proxy_Destination_ResponseMatch {
        var result = Io_Linkerd_Proxy_Destination_ResponseMatch()
        if let all = match.all {
            result.all = .with { $0.matches = all.map(responseMatch) }
        } else if let any = match.any {
            result.any = .with { $0.matches = any.map(responseMatch) }
        } else if let not = match.not {
            result.not = responseMatch(not.value)
        } else if let status = match.status {
            result.status = .with {
                $0.min = status.min ?? 0
                $0.max = status.max ?? 0
            }
        }
        return result
    }
}
