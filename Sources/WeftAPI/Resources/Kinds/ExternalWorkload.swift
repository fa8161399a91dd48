import WeftCore

/// A workload outside Kubernetes — a VM or a process — that is part of the mesh
/// (`workload.linkerd.io`). Services select it by its labels.
public struct ExternalWorkload: ResourceObject {
    public static let kind = "ExternalWorkload"
    public static let supportedAPIVersions = ["workload.linkerd.io/v1beta1", "workload.linkerd.io/v1alpha1"]

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public struct Spec: Hashable, Sendable, Codable {
        /// `meshTLS` in v1beta1.
        public var meshTLS: MeshTLS?
        /// The v1alpha1 spelling of `meshTLS`.
        public var meshTls: MeshTLS?
        public var workloadIPs: [WorkloadIP]?
        public var ports: [Port]?

        public init(meshTLS: MeshTLS, workloadIPs: [WorkloadIP], ports: [Port]) {
            self.meshTLS = meshTLS
            self.workloadIPs = workloadIPs
            self.ports = ports
        }
    }

    public struct MeshTLS: Hashable, Sendable, Codable {
        /// The workload's TLS identity: a SPIFFE ID or a DNS-like name.
        public var identity: String
        /// The SNI the workload's proxy answers to.
        public var serverName: String

        public init(identity: String, serverName: String) {
            self.identity = identity
            self.serverName = serverName
        }
    }

    public struct WorkloadIP: Hashable, Sendable, Codable {
        public var ip: String
        public init(ip: String) { self.ip = ip }
    }

    public struct Port: Hashable, Sendable, Codable {
        public var name: String?
        public var port: PortNumber
        public var `protocol`: Service.TransportProtocol?

        public init(name: String? = nil, port: PortNumber) {
            self.name = name
            self.port = port
        }
    }

    public struct Status: Hashable, Sendable, Codable {
        public var conditions: [Condition]?
        public init(conditions: [Condition]? = nil) { self.conditions = conditions }
    }

    /// The mesh TLS settings, whichever version's spelling was used.
    public var meshTLS: MeshTLS? { spec.meshTLS ?? spec.meshTls }

    /// The workload's parsed identity, when valid.
    public var identity: WorkloadIdentity? {
        meshTLS.flatMap { try? WorkloadIdentity(parsing: $0.identity) }
    }

    /// The port named `linkerd-proxy`: the workload proxy's inbound port, for opaque transport.
    public var proxyInboundPort: UInt16? {
        spec.ports?.first { $0.name == "linkerd-proxy" }?.port.value
    }

    public func validateContent(into v: inout Validation) {
        let spec = FieldPath.root / "spec"
        let beta = apiVersion == "workload.linkerd.io/v1beta1"
        if beta && self.spec.meshTls != nil {
            v.fail(spec / "meshTls", "is the v1alpha1 spelling; workload.linkerd.io/v1beta1 uses meshTLS")
        } else if !beta && self.spec.meshTLS != nil {
            v.fail(spec / "meshTLS", "is the v1beta1 spelling; workload.linkerd.io/v1alpha1 uses meshTls")
        }
        let tlsPath = spec / (beta ? "meshTLS" : "meshTls")
        if let tls = meshTLS {
            if !(1...253).contains(tls.identity.utf8.count) {
                v.fail(tlsPath / "identity", "must be 1 to 253 characters")
            } else {
                do { _ = try WorkloadIdentity(parsing: tls.identity) } catch {
                    v.fail(tlsPath / "identity", error.description)
                }
            }
            if !(1...253).contains(tls.serverName.utf8.count) {
                v.fail(tlsPath / "serverName", "must be 1 to 253 characters")
            } else if let problem = NameRules.dnsSubdomain(tls.serverName) {
                v.fail(tlsPath / "serverName", problem)
            }
        } else {
            v.fail(tlsPath, "is required")
        }
        let ips = self.spec.workloadIPs ?? []
        v.require(!ips.isEmpty, spec / "workloadIPs", "must have one entry")
        // Linkerd allows one address; Weft also takes a dual-stack workload's two (one per family).
        v.require(ips.count <= 2, spec / "workloadIPs", "must have at most two entries (one IPv4 and one IPv6 address)")
        for (index, ip) in ips.enumerated() {
            if let problem = IPAddressText.problem(ip.ip) { v.fail(spec / "workloadIPs" / index / "ip", problem) }
        }
        if ips.count == 2, IPAddressText.problem(ips[0].ip) == nil, IPAddressText.problem(ips[1].ip) == nil,
           ips[0].ip.contains(":") == ips[1].ip.contains(":") {
            v.fail(spec / "workloadIPs", "two addresses must be one IPv4 and one IPv6 (dual stack)")
        }
        var names: Set<String> = []
        for (index, port) in (self.spec.ports ?? []).enumerated() {
            guard let name = port.name else { continue }
            if let problem = NameRules.portName(name) { v.fail(spec / "ports" / index / "name", problem) }
            if !names.insert(name).inserted { v.fail(spec / "ports" / index / "name", "duplicate port name \"\(name)\"") }
        }
        status?.conditions?.validateEach(at: FieldPath.root / "status" / "conditions", into: &v)
    }
}
