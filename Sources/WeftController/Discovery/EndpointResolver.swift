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
    /// A dual-stack workload is reached at its IPv6 address (Linkerd 2.16's choice) unless this is set.
    public let preferIPv4: Bool

    public init(clusterDomain: String, preferIPv4: Bool = false) {
        self.clusterDomain = clusterDomain
        self.preferIPv4 = preferIPv4
    }

    /// The address a service's endpoint is reached at: its only one, or on dual stack the
    /// family chosen by ``preferIPv4`` (or `ipv4`, for a caller that reaches the controller over
    /// IPv4 and may have no IPv6).
    func address(of workload: ExternalWorkload, ipv4: Bool = false) -> IPAddress? {
        let addresses = (workload.spec.workloadIPs ?? []).compactMap { IPAddress($0.ip) }
        guard addresses.count > 1 else { return addresses.first }
        let v4 = preferIPv4 || ipv4
        return addresses.first { if case .v6 = $0 { !v4 } else { v4 } } ?? addresses.first
    }

    /// `callerUsesIPv4`: the client reached the controller over IPv4 (its host may have no
    /// IPv6), so dual-stack endpoints are given at their IPv4 address.
    public func resolve(_ authority: ServiceAuthority, in snapshot: StoreSnapshot, callerUsesIPv4: Bool = false) -> ResolvedEndpoints {
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
                  let ip = address(of: workload, ipv4: callerUsesIPv4),
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

    /// The endpoints of `ip:port`: the Service whose `clusterIP` it is (its port's endpoints),
    /// else the ExternalWorkload with that address (itself, on that port, whether or not it lists
    /// the port), else nothing known.
    public func resolve(_ ip: IPAddress, port: UInt16, in snapshot: StoreSnapshot, callerUsesIPv4: Bool = false) -> ResolvedEndpoints {
        if let service = snapshot.service(clusterIP: ip) {
            return resolve(ServiceAuthority(service: service.metadata.name ?? "", namespace: service.metadata.namespace ?? "default", port: port),
                           in: snapshot, callerUsesIPv4: callerUsesIPv4)
        }
        if let workload = snapshot.externalWorkload(at: ip) {
            let namespace = workload.metadata.namespace ?? "default"
            let servers = snapshot.list(kind: Server.kind, namespace: namespace)
            let opaque = PortSet.linkerdDefaultOpaquePorts.contains(port) || Self.serverDeclaresOpaque(servers, workload: workload, port: port)
            let endpoint = ResolvedEndpoint(address: ip, port: port, identity: workload.identity, serverName: workload.meshTLS?.serverName,
                                            opaque: opaque, proxyInboundPort: workload.proxyInboundPort,
                                            labels: ["external_workload": workload.metadata.name ?? ""])
            return .endpoints([endpoint], labels: ["namespace": namespace])
        }
        return .unknownService
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

extension StoreSnapshot {
    /// The Service whose `clusterIP` is `ip`.
    func service(clusterIP ip: IPAddress) -> Service? {
        for case .service(let service) in list(kind: Service.kind) where service.spec.clusterIP.flatMap(IPAddress.init) == ip {
            return service
        }
        return nil
    }

    /// The ExternalWorkload that has `ip` among its addresses.
    func externalWorkload(at ip: IPAddress) -> ExternalWorkload? {
        for case .externalWorkload(let workload) in list(kind: ExternalWorkload.kind)
            where workload.spec.workloadIPs?.contains(where: { IPAddress($0.ip) == ip }) == true {
            return workload
        }
        return nil
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
