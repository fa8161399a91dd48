import Foundation
import WeftAPI
import WeftCore
#if canImport(Glibc)
import Glibc
#endif

/// What `weft run` registers for one workload, worked out from its options before anything is
/// changed: its identity, ports, forwards, address and (transparent mode) capture rules.
struct WorkloadRegistration {
    typealias RunError = MeshedWorkload.RunError

    let namespace: String
    let name: String
    let serviceName: String
    let identity: String
    /// The mesh port, and where the app listens.
    let ports: [(mesh: Int, app: Int)]
    let forwards: [(local: Int, target: Substring)]
    /// The address peers reach the workload at (the first `--ip`), and all of them (a dual-stack
    /// host's two).
    let ip: String
    let ips: [String]
    let labels: [String: String]
    let capture: TrafficCapture?
    /// A joined workload (another host): its proxy's admin port speaks TLS, so that the
    /// controller's probes and scrapes cross the network encrypted.
    let adminTLS: Bool

    /// Checks the options and chooses what is left to choose (the app ports, the address).
    init(_ options: RunCommand, client: ControllerClient, trustDomain: String) throws {
        (namespace, name) = (options.namespace, options.name)
        adminTLS = options.joinToken != nil
        let capture = try Self.captureRules(options, client: client)
        self.capture = capture
        serviceName = options.service ?? name
        identity = "\(options.serviceAccount ?? serviceName).\(namespace).serviceaccount.identity.linkerd.\(trustDomain)"
        ports = try Self.ports(options.port, capture: capture != nil)
        forwards = try Self.forwards(options.forward)
        var labels = ["app": serviceName]
        for entry in options.label {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw RunError(description: "--label \(entry): expected KEY=VALUE") }
            labels[String(parts[0])] = String(parts[1])
        }
        self.labels = labels
        // A joining host may read only its own workload: the checks below are the controller's then.
        let existing = options.joinToken != nil ? [] : MeshWorkload.all(from: try client.objects(kind: "ExternalWorkload"))
        if let same = existing.first(where: { $0.namespace == options.namespace && $0.name == options.name }),
           same.adminEndpoint.readyStatus(timeout: .seconds(1)) == 200 {
            throw RunError(description: "\(options.namespace)/\(options.name) is already running (its proxy at \(same.ip):\(same.adminPort) answers)")
        }
        if let given = options.ip.first {
            ips = try Self.addresses(options.ip)
            ip = given
        } else {
            let proxyPorts = [4140, 4143, 4191] + ports.map(\.mesh) + forwards.map(\.local)
            let taken = Set(existing.filter { !($0.namespace == options.namespace && $0.name == options.name) }.map(\.ip))
            guard let chosen = LoopbackAddresses.workloadIP(namespace: options.namespace, name: options.name, taken: taken, ports: proxyPorts) else {
                throw RunError(description: "no free loopback address for the workload")
            }
            ip = chosen
            ips = [chosen]
        }
    }

    /// `--ip` values: IP addresses, at most one per family.
    private static func addresses(_ given: [String]) throws -> [String] {
        for text in given where IPAddress(text) == nil {
            throw RunError(description: "--ip \(text): not an IPv4 or IPv6 address")
        }
        guard given.count <= 2, given.count < 2 || given[0].contains(":") != given[1].contains(":") else {
            throw RunError(description: "--ip: at most two addresses, one IPv4 and one IPv6 (a dual-stack host)")
        }
        return given
    }

    /// Whether the workload has an IPv6 address (its capture rules and listeners then cover IPv6).
    var hasIPv6: Bool { ips.contains { $0.contains(":") } }

    /// `address:port`, an IPv6 address in brackets.
    static func hostPort(_ address: String, _ port: Int) -> String {
        address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// Transparent mode's rules, refused without root, without --ip, with app ports, or when
    /// traffic here is captured already.
    private static func captureRules(_ options: RunCommand, client: ControllerClient) throws -> TrafficCapture? {
        guard options.capture else { return nil }
        guard geteuid() == 0 else {
            throw RunError(description: "--capture needs root (it installs iptables rules); without it, weft run meshes the process on ports of its own")
        }
        guard !options.ip.isEmpty else { throw RunError(description: "--capture needs --ip: the address of this host (or namespace) that peers reach") }
        guard options.port.allSatisfy({ !$0.contains(":") }) else {
            throw RunError(description: "with --capture the app listens on the --port numbers themselves: give PORT, not PORT:APP_PORT")
        }
        var rules = TrafficCapture()
        if options.ip.contains(where: { $0.contains(":") }) { rules.ip6tables = "ip6tables" }
        // This command's own calls to a controller over TCP stay direct.
        if case .tcp(_, let port) = client.exchange.endpoint { rules.outboundPortsToIgnore = [String(port)] }
        guard !rules.isInstalled() else {
            throw RunError(description: "traffic here is already captured (iptables chain PROXY_INIT_OUTPUT exists): one --capture workload per host or network namespace; `weft proxy-init remove` clears stale rules")
        }
        return rules
    }

    /// `--port PORT` or `PORT:APP_PORT`: the app gets a free port unless given one (or, captured,
    /// listens on the port itself).
    private static func ports(_ specs: [String], capture: Bool) throws -> [(mesh: Int, app: Int)] {
        try specs.map { spec in
            let parts = spec.split(separator: ":").map { Int($0) }
            guard (1...2).contains(parts.count), parts.allSatisfy({ $0.map { (1...65535).contains($0) } ?? false }) else {
                throw RunError(description: "--port \(spec): expected PORT or PORT:APP_PORT")
            }
            guard let app = parts.count == 2 ? parts[1] : (capture ? parts[0] : LoopbackAddresses.freePort()) else {
                throw RunError(description: "no free port for the app")
            }
            return (parts[0]!, app)
        }
    }

    /// `--forward LOCAL_PORT=HOST:PORT`.
    private static func forwards(_ specs: [String]) throws -> [(local: Int, target: Substring)] {
        try specs.map { spec in
            let parts = spec.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let local = Int(parts[0]), (1...65535).contains(local), parts[1].contains(":") else {
                throw RunError(description: "--forward \(spec): expected LOCAL_PORT=HOST:PORT, e.g. 15432=db.shop.svc.cluster.local:5432")
            }
            return (local, parts[1])
        }
    }

    /// Applies the Namespace and the Service when missing, and the workload; whether it created
    /// the Service (this run then removes it, if left empty).
    func applyObjects(client: ControllerClient) throws -> Bool {
        if try client.objects(kind: "Namespace", name: namespace).isEmpty {
            try client.apply(namespaceManifest, source: "weft run")
        }
        var createdService = false
        if try client.objects(kind: "Service", namespace: namespace, name: serviceName).isEmpty, let serviceManifest {
            try client.apply(serviceManifest, source: "weft run")
            createdService = true
        }
        try client.apply(workloadManifest, source: "weft run")
        return createdService
    }

    /// Joins with a join token: the controller applies what is missing of the same objects.
    func join(client: ControllerClient, token: String) throws -> JoinAnswer {
        let manifests = ([namespaceManifest] + (serviceManifest.map { [$0] } ?? []) + [workloadManifest]).joined(separator: "\n---\n")
        let body = try JSONEncoder().encode(JoinRequest(token: token, namespace: namespace, name: name, manifests: manifests))
        return try JSONDecoder().decode(JoinAnswer.self, from: client.expectOK(.POST, "/v1/join", body: body))
    }

    private var namespaceManifest: String { "apiVersion: v1\nkind: Namespace\nmetadata: {name: \(namespace)}\n" }

    /// The workload's Service (nil without ports), marked as this run's.
    private var serviceManifest: String? {
        guard !ports.isEmpty else { return nil }
        let servicePorts = ports.map { "{name: port-\($0.mesh), port: \($0.mesh), targetPort: \($0.mesh)}" }.joined(separator: ", ")
        return """
            apiVersion: v1
            kind: Service
            metadata: {name: \(serviceName), namespace: \(namespace), annotations: {weft.io/created-by: "weft run \(name)"}}
            spec:
              selector: {app: \(serviceName)}
              ports: [\(servicePorts)]
            """
    }

    private var workloadManifest: String {
        let labelText = labels.sorted { $0.key < $1.key }.map { "\($0.key): \"\($0.value)\"" }.joined(separator: ", ")
        let workloadPorts = (ports.map { "{port: \($0.mesh), name: port-\($0.mesh)}" } + ["{port: 4143, name: linkerd-proxy}"]).joined(separator: ", ")
        return """
            apiVersion: workload.linkerd.io/v1beta1
            kind: ExternalWorkload
            metadata: {name: \(name), namespace: \(namespace), labels: {\(labelText)}, annotations: {weft.io/run-pid: "\(getpid())"\(adminTLS ? ", workload.weft.io/admin-tls: \"true\"" : "")}}
            spec:
              meshTLS: {identity: "\(identity)", serverName: "\(identity)"}
              workloadIPs: [\(ips.map { "{ip: \"\($0)\"}" }.joined(separator: ", "))]
              ports: [\(workloadPorts)]
            """
    }
}
