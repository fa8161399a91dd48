/// A core `v1` Service: a name, a selector and ports. Weft's discovery resolves
/// `<name>.<namespace>.svc.<cluster-domain>:<port>` to the workloads its selector matches.
public struct Service: ResourceObject {
    public static let kind = "Service"
    public static let supportedAPIVersions = ["v1"]
    public static var nameRule: ObjectMeta.NameRule { .label }

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Hashable, Sendable, Codable {
        /// Selects the Pods or ExternalWorkloads behind the Service; none means no endpoints are
        /// managed for it.
        public var selector: [String: String]?
        public var ports: [Port]?
        public var type: ServiceType?
        public var clusterIP: String?
        public var clusterIPs: [String]?
        public var externalName: String?

        public init(selector: [String: String]? = nil, ports: [Port]? = nil) {
            self.selector = selector
            self.ports = ports
        }
    }

    public enum ServiceType: String, ClosedSetValue {
        case clusterIP = "ClusterIP"
        case nodePort = "NodePort"
        case loadBalancer = "LoadBalancer"
        case externalName = "ExternalName"
    }

    public enum TransportProtocol: String, ClosedSetValue {
        case tcp = "TCP"
        case udp = "UDP"
        case sctp = "SCTP"
    }

    public struct Port: Hashable, Sendable, Codable {
        public var name: String?
        public var port: PortNumber
        public var targetPort: PortReference?
        public var `protocol`: TransportProtocol?
        public var appProtocol: String?
        public var nodePort: PortNumber?

        public init(name: String? = nil, port: PortNumber, targetPort: PortReference? = nil, appProtocol: String? = nil) {
            self.name = name
            self.port = port
            self.targetPort = targetPort
            self.appProtocol = appProtocol
        }
    }

    public init(name: String, namespace: String, spec: Spec) {
        apiVersion = "v1"
        kind = Self.kind
        metadata = ObjectMeta(name: name, namespace: namespace)
        self.spec = spec
    }

    public func validateContent(into v: inout Validation) {
        TrafficAnnotations.validate(metadata, kind: Self.kind, into: &v)
        let spec = FieldPath.root / "spec"
        for key in (self.spec.selector ?? [:]).keys.sorted() {
            if let problem = NameRules.labelKey(key) { v.fail(spec / "selector", problem) }
            if let problem = NameRules.labelValue(self.spec.selector![key]!) { v.fail(spec / "selector" / key, problem) }
        }
        let ports = self.spec.ports ?? []
        if self.spec.type != .externalName {
            v.require(!ports.isEmpty, spec / "ports", "must have at least one port")
        } else {
            v.require(self.spec.externalName.map { NameRules.dnsSubdomain($0) == nil } ?? false,
                      spec / "externalName", "must be a DNS name for type ExternalName")
        }
        var seenNames: Set<String> = []
        var seenPorts: Set<String> = []
        for (index, port) in ports.enumerated() {
            let here = spec / "ports" / index
            if let name = port.name {
                if let problem = NameRules.portName(name) { v.fail(here / "name", problem) }
                if !seenNames.insert(name).inserted { v.fail(here / "name", "duplicate port name \"\(name)\"") }
            } else if ports.count > 1 {
                v.fail(here / "name", "is required when a Service has more than one port")
            }
            let key = "\(port.port.value)/\((port.protocol ?? .tcp).rawValue)"
            if !seenPorts.insert(key).inserted { v.fail(here / "port", "duplicate port \(key)") }
            if let appProtocol = port.appProtocol {
                v.require(!appProtocol.isEmpty && appProtocol.utf8.count <= 63, here / "appProtocol", "must be 1 to 63 characters")
            }
        }
        for (index, ip) in (self.spec.clusterIPs ?? []).enumerated() where ip != "None" && IPAddressText.problem(ip) != nil {
            v.fail(spec / "clusterIPs" / index, IPAddressText.problem(ip)!)
        }
        if let ip = self.spec.clusterIP, ip != "None", let problem = IPAddressText.problem(ip) {
            v.fail(spec / "clusterIP", problem)
        }
    }
}
