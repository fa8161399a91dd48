import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import WeftAPI
#if canImport(Glibc)
import Glibc
#endif

/// `weft run`: meshes one process.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Mesh a process: register it, start its proxy, run it, and clean up when it exits.",
        discussion: """
            Registers (or updates) the ExternalWorkload NAMESPACE/NAME with a loopback address of \
            its own (127.64.0.0/10, the same each time for a name) or --ip, creates its Service if \
            there is none, asks the controller for a bootstrap token, and starts weft-proxy on that \
            address: inbound on each --port (forwarded to the app), outbound on :4140, admin on \
            :4191. Once the proxy has its certificate, COMMAND runs with:
              PORT, WEFT_APP_PORT   the port the app must listen on, on 127.0.0.1 (first --port)
              WEFT_APP_PORTS        every mesh port and its app port: 8080=41234,9090=41235
              WEFT_OUTBOUND_ADDR    the proxy's outbound listener: HTTP/1 and HTTP/2 (gRPC) requests \
            sent to it go to the service their Host / :authority names (web.shop.svc.cluster.local:8080), \
            over mutual TLS
              WEFT_WORKLOAD_IP, WEFT_WORKLOAD, WEFT_IDENTITY
            When COMMAND exits (or on Ctrl-C / SIGTERM, which reach it), the workload is removed, \
            its proxy stopped, and the Service removed if this run created it and nothing else \
            uses it. The exit status is COMMAND's (128+N if signal N ended it).

            Example: weft run --name web-1 --service web --namespace shop --port 8080 -- \\
                       sh -c 'exec python3 -m http.server "$PORT" --bind 127.0.0.1'
            """)

    @Option(name: .long, help: "The workload's name (an ExternalWorkload).")
    var name: String

    @Option(name: [.customShort("n"), .long], help: "Its namespace.")
    var namespace = "default"

    @Option(name: .long, help: ArgumentHelp("A port the workload serves: PORT (the app is given a free one in $PORT) or PORT:APP_PORT (the app listens on 127.0.0.1:APP_PORT). Repeatable.", valueName: "port"))
    var port: [String] = []

    @Option(name: .long, help: "The Service it belongs to (label app=SERVICE); default: its name.")
    var service: String?

    @Option(name: .customLong("service-account"), help: "Its identity is SERVICE_ACCOUNT.NAMESPACE.serviceaccount.identity.linkerd.<trust domain>; default: the service.")
    var serviceAccount: String?

    @Option(name: .long, help: ArgumentHelp("An extra label KEY=VALUE. Repeatable.", valueName: "label"))
    var label: [String] = []

    @Option(name: .long, help: "The workload's address (default: a free loopback address of its own; required with --capture: this host's address that peers reach).")
    var ip: String?

    @Flag(name: .long, help: "Transparent mode (root): iptables rules (as `weft proxy-init`) send all of this host's or network namespace's TCP traffic through the proxy, which runs as UID 2102; the app listens on the --port numbers themselves. One such workload per host or namespace.")
    var capture = false

    @Option(name: .long, help: ArgumentHelp("A local port on the workload's address forwarded to a service: LOCAL_PORT=SERVICE_HOST:PORT (any TCP protocol). Repeatable.", valueName: "forward"))
    var forward: [String] = []

    @Option(name: .customLong("proxy-log-level"), help: "weft-proxy's log level (its log is in <home>/workloads/NAMESPACE.NAME/proxy.log).")
    var proxyLogLevel = "info"

    @Option(name: .customLong("ready-timeout"), help: "Seconds to wait for the proxy to be ready.")
    var readyTimeout = 30.0

    @OptionGroup var access: MeshAccessOptions

    @Argument(parsing: .postTerminator, help: "The command to run, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command to run after --, e.g. weft run --name web -- ./web") }
        guard Self.isDNSLabel(name), Self.isDNSLabel(namespace) else {
            throw ValidationError("--name and --namespace must be DNS labels (lowercase letters, digits and -, at most 63)")
        }
    }

    static func isDNSLabel(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 63 && text.first != "-" && text.last != "-"
            && text.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    func run() throws {
        let client = try access.client()
        let workload: MeshedWorkload
        do {
            workload = try MeshedWorkload.register(self, client: client, home: access.home.weftHome)
        } catch {
            FileHandle.standardError.write(Data("weft run: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let status = workload.run(command)
        throw ExitCode(status)
    }
}

/// One process meshed by `weft run`: its registration, its proxy, its command and its cleanup.
final class MeshedWorkload: Sendable {
    /// What the signal handlers and the proxy's watcher share with the main thread.
    private struct State {
        var command: SpawnedProcess?
        var stopping = false
    }

    private let state = Mutex(State())
    /// Signalled once the proxy process has ended (and been reaped by its watcher).
    private let proxyExited = DispatchSemaphore(value: 0)

    let client: ControllerClient
    let namespace: String
    let name: String
    let ip: String
    let identity: String
    let directory: String
    let environment: [String: String]
    let proxy: SpawnedProcess
    /// Whether this run created the workload's Service (it removes it, if left empty).
    let createdService: Bool
    let serviceName: String
    /// Transparent mode: the rules to remove at the end, and the proxy's user (owner of its token).
    let capture: TrafficCapture?
    /// The bootstrap token the proxy reads (renewed at half its lifetime).
    let tokenFile: String

    private init(client: ControllerClient, namespace: String, name: String, ip: String, identity: String, directory: String,
                 environment: [String: String], proxy: SpawnedProcess, createdService: Bool, serviceName: String, capture: TrafficCapture?,
                 tokenFile: String) {
        self.capture = capture
        self.tokenFile = tokenFile
        self.client = client
        self.namespace = namespace
        self.name = name
        self.ip = ip
        self.identity = identity
        self.directory = directory
        self.environment = environment
        self.proxy = proxy
        self.createdService = createdService
        self.serviceName = serviceName
    }

    struct RunError: Error, CustomStringConvertible {
        let description: String
    }

    /// How long a bootstrap token lives; a fresh one is written at half of it.
    static let tokenLifetime = 86_400

    /// Registers the workload and starts its proxy, waiting until it is ready.
    static func register(_ options: RunCommand, client: ControllerClient, home: WeftHome) throws -> MeshedWorkload {
        let mesh = try client.mesh()
        guard let meshIdentity = mesh.identity else {
            throw RunError(description: "the controller runs without identity (--identity-dir); `weft up` starts one with it")
        }
        let controllerHost: String? = if case .tcp(let host, _) = client.exchange.endpoint { host } else { nil }
        func reachable(_ address: String) -> String {
            guard let controllerHost, address.hasPrefix("0.0.0.0:") else { return address }
            return controllerHost + address.dropFirst("0.0.0.0".count)
        }
        let (namespace, name) = (options.namespace, options.name)
        var capture: TrafficCapture?
        if options.capture {
            guard geteuid() == 0 else {
                throw RunError(description: "--capture needs root (it installs iptables rules); without it, weft run meshes the process on ports of its own")
            }
            guard options.ip != nil else { throw RunError(description: "--capture needs --ip: the address of this host (or namespace) that peers reach") }
            guard options.port.allSatisfy({ !$0.contains(":") }) else {
                throw RunError(description: "with --capture the app listens on the --port numbers themselves: give PORT, not PORT:APP_PORT")
            }
            var rules = TrafficCapture()
            // This command's own calls to a controller over TCP stay direct.
            if case .tcp(_, let port) = client.exchange.endpoint { rules.outboundPortsToIgnore = [String(port)] }
            guard !rules.isInstalled() else {
                throw RunError(description: "traffic here is already captured (iptables chain PROXY_INIT_OUTPUT exists): one --capture workload per host or network namespace; `weft proxy-init remove` clears stale rules")
            }
            capture = rules
        }
        let serviceName = options.service ?? name
        let identity = "\(options.serviceAccount ?? serviceName).\(namespace).serviceaccount.identity.linkerd.\(mesh.trustDomain)"

        // Ports: the mesh port, and where the app listens.
        var ports: [(mesh: Int, app: Int)] = []
        for spec in options.port {
            let parts = spec.split(separator: ":").map { Int($0) }
            guard (1...2).contains(parts.count), parts.allSatisfy({ $0.map { (1...65535).contains($0) } ?? false }) else {
                throw RunError(description: "--port \(spec): expected PORT or PORT:APP_PORT")
            }
            guard let app = parts.count == 2 ? parts[1] : (capture != nil ? parts[0] : LoopbackAddresses.freePort()) else {
                throw RunError(description: "no free port for the app")
            }
            ports.append((parts[0]!, app))
        }
        var forwards: [(local: Int, target: Substring)] = []
        for spec in options.forward {
            let parts = spec.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let local = Int(parts[0]), (1...65535).contains(local), parts[1].contains(":") else {
                throw RunError(description: "--forward \(spec): expected LOCAL_PORT=HOST:PORT, e.g. 15432=db.shop.svc.cluster.local:5432")
            }
            forwards.append((local, parts[1]))
        }

        let existing = MeshWorkload.all(from: try client.objects(kind: "ExternalWorkload"))
        if let same = existing.first(where: { $0.namespace == namespace && $0.name == name }),
           same.adminEndpoint.readyStatus(timeout: .seconds(1)) == 200 {
            throw RunError(description: "\(namespace)/\(name) is already running (its proxy at \(same.ip):\(same.adminPort) answers)")
        }
        let proxyPorts = [4140, 4143, 4191] + ports.map(\.mesh) + forwards.map(\.local)
        let ip: String
        if let given = options.ip {
            ip = given
        } else {
            let taken = Set(existing.filter { !($0.namespace == namespace && $0.name == name) }.map(\.ip))
            guard let chosen = LoopbackAddresses.workloadIP(namespace: namespace, name: name, taken: taken, ports: proxyPorts) else {
                throw RunError(description: "no free loopback address for the workload")
            }
            ip = chosen
        }

        // Objects: the namespace and the Service when missing, and the workload.
        if try client.objects(kind: "Namespace", name: namespace).isEmpty {
            try client.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: \(namespace)}\n", source: "weft run")
        }
        var createdService = false
        if try client.objects(kind: "Service", namespace: namespace, name: serviceName).isEmpty, !ports.isEmpty {
            let servicePorts = ports.map { "{name: port-\($0.mesh), port: \($0.mesh), targetPort: \($0.mesh)}" }.joined(separator: ", ")
            try client.apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: \(serviceName), namespace: \(namespace), annotations: {weft.io/created-by: "weft run \(name)"}}
                spec:
                  selector: {app: \(serviceName)}
                  ports: [\(servicePorts)]
                """, source: "weft run")
            createdService = true
        }
        var labels = ["app": serviceName]
        for entry in options.label {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw RunError(description: "--label \(entry): expected KEY=VALUE") }
            labels[String(parts[0])] = String(parts[1])
        }
        let labelText = labels.sorted { $0.key < $1.key }.map { "\($0.key): \"\($0.value)\"" }.joined(separator: ", ")
        let workloadPorts = (ports.map { "{port: \($0.mesh), name: port-\($0.mesh)}" } + ["{port: 4143, name: linkerd-proxy}"]).joined(separator: ", ")
        try client.apply("""
            apiVersion: workload.linkerd.io/v1beta1
            kind: ExternalWorkload
            metadata: {name: \(name), namespace: \(namespace), labels: {\(labelText)}, annotations: {weft.io/run-pid: "\(getpid())"}}
            spec:
              meshTLS: {identity: "\(identity)", serverName: "\(identity)"}
              workloadIPs: [{ip: "\(ip)"}]
              ports: [\(workloadPorts)]
            """, source: "weft run")

        // The proxy.
        let directory = home.workloadDirectory(namespace: namespace, name: name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // The proxy reads its token; in transparent mode it runs as its own user, which cannot
        // enter the home (0700), so its token lives in a directory of its own.
        let tokenDirectory = capture != nil ? FileManager.default.temporaryDirectory.path + "/weft-token-\(namespace).\(name)-\(getpid())" : directory
        if tokenDirectory != directory {
            try FileManager.default.createDirectory(atPath: tokenDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let tokenFile = tokenDirectory + "/token"
        let proxyUser = capture.map { uid_t($0.proxyUID) }
        if let proxyUser { chown(tokenDirectory, proxyUser, gid_t(proxyUser)) }
        try writeToken(client: client, identity: identity, to: tokenFile, owner: proxyUser)
        let context = "{\"ns\":\"\(namespace)\",\"external_workload\":\"\(name)\"}"
        var proxyEnvironment = [
            "LINKERD2_PROXY_LOG": options.proxyLogLevel,
            "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS": meshIdentity.trustAnchorsPEM,
            "LINKERD2_PROXY_IDENTITY_LOCAL_NAME": identity,
            "LINKERD2_PROXY_IDENTITY_TOKEN_FILE": tokenFile,
            "LINKERD2_PROXY_IDENTITY_SVC_ADDR": reachable(meshIdentity.address),
            "LINKERD2_PROXY_IDENTITY_SVC_NAME": meshIdentity.serverName,
            "LINKERD2_PROXY_DESTINATION_SVC_ADDR": reachable(mesh.destinationAddress),
            "LINKERD2_PROXY_DESTINATION_CONTEXT": context,
            "LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES": "svc.\(mesh.clusterDomain).",
            "LINKERD2_PROXY_POLICY_SVC_ADDR": reachable(mesh.policyAddress),
            "LINKERD2_PROXY_POLICY_WORKLOAD": context,
            "LINKERD2_PROXY_INBOUND_LISTEN_ADDR": "\(ip):4143",
            "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR": "\(ip):4140",
            "LINKERD2_PROXY_ADMIN_LISTEN_ADDR": "\(ip):4191",
            "LINKERD2_PROXY_INGRESS_MODE": "true",
            "LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD": "5s",
        ]
        if capture != nil {
            // Transparent: connections come redirected, with their original destinations.
            proxyEnvironment["LINKERD2_PROXY_INBOUND_LISTEN_ADDR"] = "0.0.0.0:4143"
            proxyEnvironment["LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR"] = "127.0.0.1:4140"
            proxyEnvironment["LINKERD2_PROXY_ADMIN_LISTEN_ADDR"] = "0.0.0.0:4191"
            // Ingress mode stays on: redirected HTTP goes where its Host says (its original
            // destination, for a plain address), other redirected traffic to its original
            // destination, and requests sent to 127.0.0.1:4140 itself reach services by name.
        } else if !ports.isEmpty {
            proxyEnvironment["WEFT_PROXY_INBOUND_PORTS"] = ports.map { "\(ip):\($0.mesh)=127.0.0.1:\($0.app)" }.joined(separator: ",")
        }
        if !ports.isEmpty { proxyEnvironment["LINKERD2_PROXY_INBOUND_PORTS"] = ports.map { String($0.mesh) }.joined(separator: ",") }
        if !forwards.isEmpty {
            proxyEnvironment["WEFT_PROXY_OUTBOUND_PORTS"] = forwards.map { "\(ip):\($0.local)=\($0.target)" }.joined(separator: ",")
        }
        if let path = ProcessInfo.processInfo.environment["PATH"] { proxyEnvironment["PATH"] = path }
        let proxy: SpawnedProcess
        do {
            let program = SpawnedProcess.sibling("weft-proxy")
            if let proxyUser {
                proxy = try SpawnedProcess.spawn("setpriv", ["--reuid", String(proxyUser), "--regid", String(proxyUser), "--clear-groups", program],
                                               environment: proxyEnvironment, group: .own, output: directory + "/proxy.log")
            } else {
                proxy = try SpawnedProcess.spawn(program, [], environment: proxyEnvironment, group: .own, output: directory + "/proxy.log")
            }
        } catch {
            unregister(client: client, namespace: namespace, name: name, service: createdService ? serviceName : nil)
            try? FileManager.default.removeItem(atPath: tokenDirectory == directory ? tokenFile : tokenDirectory)
            throw error
        }

        var commandEnvironment = ProcessInfo.processInfo.environment
        commandEnvironment["WEFT_WORKLOAD_IP"] = ip
        commandEnvironment["WEFT_WORKLOAD"] = "\(namespace)/\(name)"
        commandEnvironment["WEFT_IDENTITY"] = identity
        commandEnvironment["WEFT_OUTBOUND_ADDR"] = capture == nil ? "\(ip):4140" : "127.0.0.1:4140"
        if let first = ports.first {
            commandEnvironment["PORT"] = String(first.app)
            commandEnvironment["WEFT_APP_PORT"] = String(first.app)
            commandEnvironment["WEFT_APP_PORTS"] = ports.map { "\($0.mesh)=\($0.app)" }.joined(separator: ",")
        }
        let workload = MeshedWorkload(client: client, namespace: namespace, name: name, ip: ip, identity: identity, directory: directory,
                                      environment: commandEnvironment, proxy: proxy, createdService: createdService, serviceName: serviceName,
                                      capture: capture, tokenFile: tokenFile)
        // Ready: the proxy has its certificate and its listeners.
        let deadline = Date() + options.readyTimeout
        while true {
            if let status = proxy.poll() {
                let log = SpawnedProcess.outputTail(directory + "/proxy.log")
                workload.abandon()
                throw RunError(description: "weft-proxy exited with status \(status):\n\(log)")
            }
            // Ready for peers: the controller has seen the proxy ready (only then is it an endpoint).
            if HTTPExchange.Endpoint.tcp(host: ip, port: 4191).readyStatus(timeout: .seconds(1)) == 200,
               (try? MeshWorkload.all(from: client.objects(kind: "ExternalWorkload", namespace: namespace, name: name)))?.first?.ready == true {
                break
            }
            if Date() > deadline {
                _ = proxy.stop(grace: 2)
                workload.abandon()
                throw RunError(description: "weft-proxy was not ready within \(Int(options.readyTimeout))s; see \(directory)/proxy.log")
            }
            usleep(50_000)
        }
        if let capture {
            do {
                try capture.install()
            } catch {
                _ = proxy.stop(grace: 5)
                workload.abandon()
                throw error
            }
        }
        let portText = capture != nil
            ? "every TCP connection here (iptables), app ports " + ports.map { String($0.mesh) }.joined(separator: ",") + "; outbound 127.0.0.1:4140"
            : ports.map { "\(ip):\($0.mesh) → app 127.0.0.1:\($0.app)" }.joined(separator: ", ") + "; outbound \(ip):4140"
        FileHandle.standardError.write(Data("""
            weft run: \(namespace)/\(name) is in the mesh as \(identity)
              inbound \(portText.isEmpty ? "(no ports)" : portText); admin http://\(ip):4191; proxy log \(directory)/proxy.log

            """.utf8))
        return workload
    }

    /// Writes a fresh token (0600, owned by `owner` when given: the proxy's user in transparent mode).
    static func writeToken(client: ControllerClient, identity: String, to path: String, owner: uid_t? = nil) throws {
        let body = try JSONEncoder().encode(TokenRequest(identity: identity, ttlSeconds: tokenLifetime))
        let answer = try JSONDecoder().decode(TokenAnswer.self, from: client.expectOK(.POST, "/v1/tokens", body: body))
        let temporary = path + ".tmp"
        FileManager.default.createFile(atPath: temporary, contents: Data(answer.token.utf8), attributes: [.posixPermissions: 0o600])
        if let owner { chown(temporary, owner, gid_t(owner)) }
        guard rename(temporary, path) == 0 else { throw RunError(description: "cannot write \(path)") }
    }

    /// Runs the command to its end, cleans up, and returns its exit status.
    func run(_ command: [String]) -> Int32 {
        let queue = DispatchQueue(label: "weft-run.signals")
        let signals = SignalHandlers([SIGINT, SIGTERM, SIGHUP], queue: queue) { [self] number in forward(number) }
        // A fresh token before this one expires (a certificate renewal needs a valid one).
        let refresher = DispatchSource.makeTimerSource(queue: queue)
        refresher.schedule(deadline: .now() + .seconds(Self.tokenLifetime / 2), repeating: .seconds(Self.tokenLifetime / 2))
        refresher.setEventHandler { [self] in
            do { try Self.writeToken(client: client, identity: identity, to: tokenFile, owner: capture.map { uid_t($0.proxyUID) }) } catch {
                FileHandle.standardError.write(Data("weft run: could not renew the bootstrap token: \(error)\n".utf8))
            }
        }
        refresher.resume()
        // The proxy's own end is reported, not repaired: the workload turns not Ready.
        let watcher = Thread { [self] in
            let status = proxy.wait()
            proxyExited.signal()
            if !state.withLock({ $0.stopping }) {
                FileHandle.standardError.write(Data("weft run: weft-proxy of \(namespace)/\(name) exited with status \(status); the workload is out of the mesh (see \(directory)/proxy.log)\n".utf8))
            }
        }
        watcher.start()

        let status: Int32
        do {
            let child = try SpawnedProcess.spawn(command[0], Array(command.dropFirst()), environment: environment, group: .inherit,
                                               output: nil, inheritInput: true)
            state.withLock { $0.command = child }
            status = child.wait()
        } catch {
            FileHandle.standardError.write(Data("weft run: \(error)\n".utf8))
            status = 127
        }
        refresher.cancel()
        tearDown()
        signals.cancel()
        return status
    }

    /// A signal for `weft run` reaches the command: SIGTERM and SIGHUP at once; SIGINT (which a
    /// terminal already sent to the command, in the same process group) as SIGTERM if the command is
    /// still there 3 seconds later. SIGKILL follows 10 seconds after either.
    private func forward(_ number: Int32) {
        guard let child = state.withLock({ $0.command }) else { return }
        let queue = DispatchQueue.global()
        if number == SIGINT {
            queue.asyncAfter(deadline: .now() + 3) { if SpawnedProcess.isAlive(child.pid) { child.signal(SIGTERM) } }
        } else {
            child.signal(number)
        }
        queue.asyncAfter(deadline: .now() + 13) { if SpawnedProcess.isAlive(child.pid) { child.signal(SIGKILL) } }
    }

    /// The workload leaves the mesh first (peers stop choosing it), then its proxy stops.
    private func tearDown() {
        state.withLock { $0.stopping = true }
        removeRegistration()
        proxy.signal(SIGTERM)
        if proxyExited.wait(timeout: .now() + 8) == .timedOut {
            proxy.signal(SIGKILL)
            _ = proxyExited.wait(timeout: .now() + 5)
        }
        capture?.remove()
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: tokenFile).deletingLastPathComponent().path)
    }

    /// After a failed start: the registration and the token go; the proxy's log stays for the user.
    fileprivate func abandon() {
        removeRegistration()
        try? FileManager.default.removeItem(atPath: tokenFile)
        if !tokenFile.hasPrefix(directory + "/") {
            try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: tokenFile).deletingLastPathComponent().path)
        }
    }

    fileprivate func removeRegistration() {
        Self.unregister(client: client, namespace: namespace, name: name, service: createdService ? serviceName : nil)
    }

    /// Deletes the workload, and `service` (one this run created) if no workload is left in it.
    static func unregister(client: ControllerClient, namespace: String, name: String, service: String?) {
        do {
            try client.delete(kind: "ExternalWorkload", namespace: namespace, name: name)
            if let service {
                let remaining = MeshWorkload.all(from: try client.objects(kind: "ExternalWorkload", namespace: namespace))
                if !remaining.contains(where: { $0.labels["app"] == service }) {
                    try client.delete(kind: "Service", namespace: namespace, name: service)
                }
            }
        } catch {
            FileHandle.standardError.write(Data("weft run: could not remove \(namespace)/\(name) from the controller: \(error)\n".utf8))
        }
    }
}
