import WeftAPI
import WeftCore
import WeftStore

/// One endpoint of a service, as the destination API sends it.
public struct ResolvedEndpoint: Hashable, Sendable {
    public let address: IPAddress
    public let port: UInt16
    /// The workload's mesh identity and TLS server name (nil: plaintext to it).
    public let identity: WorkloadIdentity?
    public let serverName: String?
    /// Whether the port is opaque (no protocol detection on either side).
    public let opaque: Bool
    /// The workload proxy's inbound port, for opaque transport (from its `linkerd-proxy` port).
    public let proxyInboundPort: UInt16?
    public let labels: [String: String]
}

/// The endpoints of one service port, or the fact that the service does not exist.
public enum ResolvedEndpoints: Hashable, Sendable {
    case unknownService
    case endpoints([ResolvedEndpoint], labels: [String: String])
}

/// Computes a service port's endpoints from a store snapshot, as Linkerd's external-workload
/// controller does: ExternalWorkloads in the service's namespace whose labels match its
/// selector, that are Ready, and that document the target port in `spec.ports`.
public struct EndpointResolver: Sendable {
    public let clusterDomain: String

    public init(clusterDomain: String) {
        self.clusterDomain = clusterDomain
    }

    public func resolve(_ authority: ServiceAuthority, in snapshot: StoreSnapshot) -> ResolvedEndpoints {
        guard case .service(let service)? = snapshot[Service.kind, authority.namespace, authority.service] else {
            return .unknownService
        }
        let setLabels = ["service": authority.service, "namespace": authority.namespace]
        guard let servicePort = service.spec.ports?.first(where: { $0.port.value == authority.port }),
              let selector = service.spec.selector, !selector.isEmpty else {
            return .endpoints([], labels: setLabels)
        }
        let serviceOpaque = OpaquePorts.of(service).contains(authority.port)
        let servers = snapshot.list(kind: Server.kind, namespace: authority.namespace)
        var endpoints: [ResolvedEndpoint] = []
        for case .externalWorkload(let workload) in snapshot.list(kind: ExternalWorkload.kind, namespace: authority.namespace) {
            let labels = workload.metadata.labels ?? [:]
            guard selector.allSatisfy({ labels[$0.key] == $0.value }), workload.isReady,
                  let ip = workload.spec.workloadIPs?.first.flatMap({ IPAddress($0.ip) }),
                  let port = Self.targetPort(servicePort, of: workload) else { continue }
            let opaque = serviceOpaque || Self.serverDeclaresOpaque(servers, workload: workload, port: port)
            var endpointLabels = ["external_workload": workload.metadata.name ?? ""]
            if let zone = labels["topology.kubernetes.io/zone"] { endpointLabels["zone"] = zone }
            endpoints.append(ResolvedEndpoint(
                address: ip, port: port, identity: workload.identity, serverName: workload.meshTLS?.serverName,
                opaque: opaque, proxyInboundPort: workload.proxyInboundPort, labels: endpointLabels))
        }
        return .endpoints(endpoints.sorted { ($0.address.description, $0.port) < ($1.address.description, $1.port) }, labels: setLabels)
    }

    /// Whether a `Server` selecting the workload on `port` says the port is opaque (as Linkerd's
    /// destination controller reads Servers).
    static func serverDeclaresOpaque(_ servers: [Resource], workload: ExternalWorkload, port: UInt16) -> Bool {
        let labels = workload.metadata.labels ?? [:]
        return servers.contains { resource in
            guard case .server(let server) = resource, server.spec.proxyProtocol == .opaque,
                  server.spec.externalWorkloadSelector?.matches(labels) == true else { return false }
            switch server.spec.port {
            case .number(let number): return number == port
            case .name(let name): return workload.spec.ports?.contains { $0.name == name && $0.port.value == port } == true
            }
        }
    }

    /// The workload port a service port leads to: its `targetPort` (a number or a name; the
    /// service port when absent), which the workload must list in `spec.ports`.
    static func targetPort(_ servicePort: Service.Port, of workload: ExternalWorkload) -> UInt16? {
        let ports = workload.spec.ports ?? []
        switch servicePort.targetPort ?? .number(servicePort.port.value) {
        case .number(let number):
            return ports.contains { $0.port.value == number } ? number : nil
        case .name(let name):
            return ports.first { $0.name == name }?.port.value
        }
    }
}

extension ExternalWorkload {
    /// Whether the `Ready` condition is `True`.
    public var isReady: Bool {
        status?.conditions?.contains { $0.type == "Ready" && $0.status == .true } ?? false
    }
}

/// Which ports of a service are opaque: its `config.linkerd.io/opaque-ports` annotation, else
/// Linkerd's default list.
public enum OpaquePorts {
    public static let annotation = "config.linkerd.io/opaque-ports"

    public static func of(_ service: Service) -> PortSet {
        service.metadata.annotations?[annotation].flatMap(PortSet.init(parsing:)) ?? .linkerdDefaultOpaquePorts
    }
}
