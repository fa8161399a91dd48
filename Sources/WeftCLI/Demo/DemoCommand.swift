import ArgumentParser
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `weft demo`: a whole mesh on this machine, with an application to look at.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run an emojivoto-like application in a mesh on this machine and show its golden metrics live.",
        discussion: """
            Starts the control plane (as `weft up`, unless it already runs), then meshes with \
            `weft run`, in the namespace emojivoto: web (HTTP/1.1 JSON), emoji (gRPC), two versions \
            of voting (gRPC) — voting-2, the canary, fails votes on purpose (--failure-rate, every \
            one by default) — and vote-bot, which sends --rate requests per second to web. Two \
            GRPCRoutes route the voting service per method: votes split 90/10 between the \
            voting-v1 and voting-v2 Services (route voting-canary), results from either \
            (voting-results). Every hop goes through two proxies over mutual TLS. A table of each \
            workload's success rate, requests per second, latency and connections (as `weft viz \
            stat`), the voting routes (as `weft viz routes`) and the edges between workloads (as \
            `weft viz edges`) refresh every --refresh seconds. After --duration seconds, or on Ctrl-C, \
            everything it started is stopped and its objects removed. Each process's output is in \
            <home>/demo/.
            """)

    @OptionGroup var home: HomeOptions
    @OptionGroup var controllerOptions: ControllerAddressOptions

    @Option(name: .long, help: "Stop after this many seconds (default: run until Ctrl-C).")
    var duration: Double?

    @Option(name: .long, help: "Requests per second vote-bot sends to web.")
    var rate = 10.0

    @Option(name: .customLong("failure-rate"), help: "The share of votes voting-2 (the canary) fails.")
    var failureRate = 1.0

    @Option(name: .long, help: "Seconds between refreshes of the table.")
    var refresh = 2.0

    @Option(name: .long, help: "The table's figures cover this many seconds.")
    var window = 10.0

    static let namespace = "emojivoto"

    /// Writes to standard output at once (print is buffered when it is not a terminal).
    static func say(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// The demo's processes: name, service and role (`weft demo-app ROLE`).
    static let workloads: [(name: String, service: String, role: String)] = [
        ("emoji", "emoji", "emoji"), ("voting-1", "voting", "voting"), ("voting-2", "voting", "voting"),
        ("web", "web", "web"), ("vote-bot", "vote-bot", "vote-bot"),
    ]

    /// The one voting replica that fails votes on purpose.
    static let failingReplica = "voting-2"

    func validate() throws {
        guard rate > 0, rate <= 1000 else { throw ValidationError("--rate must be in (0, 1000]") }
        guard (0...1).contains(failureRate) else { throw ValidationError("--failure-rate must be between 0 and 1") }
        guard refresh >= 0.5, window >= refresh else { throw ValidationError("--refresh must be at least 0.5 and --window at least --refresh") }
    }

    func run() throws {
        let home = home.weftHome
        let controller = ControllerProcess(home: home)
        let stop = StopRequest()
        let signals = SignalHandlers([SIGINT, SIGTERM, SIGHUP], queue: DispatchQueue(label: "weft-demo.signals")) { _ in stop.request() }
        defer { signals.cancel() }

        var startedController = false
        if home.runningController() == nil {
            _ = try controller.prepareHome(trustDomain: controllerOptions.trustDomain)
            do {
                let (pid, _) = try controller.start(controllerOptions.addresses)
                Self.say("weft demo: started the control plane (weft-controller pid \(pid), home \(home.path))\n")
            } catch {
                FileHandle.standardError.write(Data("weft demo: \(error)\n".utf8))
                throw ExitCode.failure
            }
            startedController = true
        }
        let client = controller.client
        var children: [(name: String, process: SpawnedProcess)] = []
        var failure: String?
        do {
            try client.apply(Self.manifest, source: "weft demo")
            let logs = home.path + "/demo"
            try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
            let weft = SpawnedProcess.sibling("weft")
            func start(_ spec: (name: String, service: String, role: String)) throws {
                var arguments = ["run", "--home", home.path, "--name", spec.name, "--service", spec.service, "-n", Self.namespace]
                if spec.role != "vote-bot" { arguments += ["--port", "8080"] }
                arguments += ["--", weft, "demo-app", spec.role, "-n", Self.namespace]
                if spec.name == Self.failingReplica { arguments += ["--failure-rate", String(failureRate)] }
                if spec.service == "voting" { arguments.insert(contentsOf: ["--label", "version=\(spec.name == Self.failingReplica ? "v2" : "v1")"], at: 1) }
                if spec.role == "vote-bot" { arguments += ["--rate", String(rate)] }
                let child = try SpawnedProcess.spawn(weft, arguments, environment: ProcessInfo.processInfo.environment, group: .own,
                                                   output: "\(logs)/\(spec.name).log")
                children.append((spec.name, child))
            }
            for spec in Self.workloads where spec.role != "vote-bot" { try start(spec) }
            Self.say("weft demo: meshing \(children.map(\.name).joined(separator: ", ")) in namespace \(Self.namespace) …\n")
            failure = waitUntilReady(client: client, names: children.map(\.name), children: children, logs: logs, stop: stop)
            if failure == nil, let bot = Self.workloads.first(where: { $0.role == "vote-bot" }) {
                try start(bot)
                failure = waitUntilReady(client: client, names: [bot.name], children: children, logs: logs, stop: stop)
            }
            if failure == nil { failure = show(client: client, home: home, children: children, stop: stop) }
        } catch {
            failure = "\(error)"
        }

        // Stop everything, the traffic first.
        Self.say("\nweft demo: stopping …\n")
        for child in children.reversed() { _ = child.process.stop(grace: 20) }
        for (kind, name) in [("GRPCRoute", "voting-canary"), ("GRPCRoute", "voting-results"), ("Service", "web"), ("Service", "emoji"),
                             ("Service", "voting"), ("Service", "voting-v1"), ("Service", "voting-v2")] + Self.zeroTrustObjects {
            _ = try? client.delete(kind: kind, namespace: Self.namespace, name: name)
        }
        _ = try? client.delete(kind: "Namespace", namespace: "", name: Self.namespace)
        if startedController, let pid = controller.stop() { Self.say("weft demo: stopped weft-controller (pid \(pid))\n") }
        if let failure {
            FileHandle.standardError.write(Data("weft demo: \(failure)\n".utf8))
            throw ExitCode.failure
        }
        Self.say("weft demo: stopped \(children.count) workloads; nothing is left running\n")
    }

    /// What `examples/demo-zero-trust.yaml` adds, removed when the demo stops.
    static let zeroTrustObjects = [("GRPCRoute", "voting-vote"), ("GRPCRoute", "voting-results-read"),
                                   ("AuthorizationPolicy", "emoji-from-web"), ("AuthorizationPolicy", "voting-from-web"),
                                   ("AuthorizationPolicy", "results-from-vote-bot"), ("AuthorizationPolicy", "web-from-vote-bot"),
                                   ("MeshTLSAuthentication", "web-only"),
                                   ("Server", "emoji-grpc"), ("Server", "voting-grpc"), ("Server", "web-http")]

    static let manifest = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: \(namespace)}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: \(namespace)}
        spec: {selector: {app: web}, ports: [{name: http, port: 8080, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: emoji, namespace: \(namespace)}
        spec: {selector: {app: emoji}, ports: [{name: grpc, port: 8080, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: voting, namespace: \(namespace)}
        spec: {selector: {app: voting}, ports: [{name: grpc, port: 8080, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: voting-v1, namespace: \(namespace)}
        spec: {selector: {app: voting, version: v1}, ports: [{name: grpc, port: 8080, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: voting-v2, namespace: \(namespace)}
        spec: {selector: {app: voting, version: v2}, ports: [{name: grpc, port: 8080, targetPort: 8080}]}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: voting-canary, namespace: \(namespace)}
        spec:
          parentRefs: [{name: voting, kind: Service, group: core, port: 8080}]
          rules:
          - matches: [{method: {service: emojivoto.v1.VotingService, method: Vote}}]
            backendRefs: [{name: voting-v1, port: 8080, weight: 90}, {name: voting-v2, port: 8080, weight: 10}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: voting-results, namespace: \(namespace)}
        spec:
          parentRefs: [{name: voting, kind: Service, group: core, port: 8080}]
          rules:
          - matches: [{method: {service: emojivoto.v1.VotingService, method: Results}}]
        """

    /// Waits until every named workload is Ready; a failure message if a process ended first.
    private func waitUntilReady(client: ControllerClient, names: [String], children: [(name: String, process: SpawnedProcess)],
                                logs: String, stop: StopRequest) -> String? {
        let deadline = Date() + 90
        while Date() < deadline {
            if stop.requested { return nil }
            if let ended = exited(children, logs: logs) { return ended }
            let workloads = (try? MeshWorkload.all(from: client.objects(kind: "ExternalWorkload", namespace: Self.namespace))) ?? []
            if names.allSatisfy({ name in workloads.contains { $0.name == name && $0.ready } }) { return nil }
            usleep(200_000)
        }
        return "the workloads were not ready within 90 seconds; see \(logs)"
    }

    /// A message naming a process that has ended, with its log's last lines.
    private func exited(_ children: [(name: String, process: SpawnedProcess)], logs: String) -> String? {
        for child in children {
            if let status = child.process.poll() {
                let log = SpawnedProcess.outputTail("\(logs)/\(child.name).log")
                return "\(child.name) ended with status \(status):\n\(log)"
            }
        }
        return nil
    }

    /// The live table until the duration ends or a signal comes; a failure message if a process ended.
    private func show(client: ControllerClient, home: WeftHome, children: [(name: String, process: SpawnedProcess)], stop: StopRequest) -> String? {
        let terminal = isatty(1) == 1
        let started = Date()
        var history: [[ProxyScrape]] = []
        while !stop.requested {
            if let duration, Date().timeIntervalSince(started) >= duration { return nil }
            if let ended = exited(children, logs: home.path + "/demo") { return ended }
            guard let inventory = try? MeshInventory.load(client) else { return "the controller stopped answering" }
            let workloads = inventory.workloads.filter { $0.namespace == Self.namespace }
            let now = ProxyScrape.all(workloads)
            history.append(now)
            while history.count > 1, let first = history.first?.first, let latest = now.first,
                  latest.time.timeIntervalSince(first.time) > window + refresh / 2 {
                history.removeFirst()
            }
            let baseline = history.count > 1 ? history[0] : []
            let report = StatReport(kind: .workload, name: nil, namespace: Self.namespace, inventory: inventory,
                                    before: baseline, after: now, clients: nil)
            let edges = MeshEdges(inventory: inventory, scrapes: now, namespace: Self.namespace)
            let clock = DateFormatter.localizedString(from: Date(), dateStyle: .none, timeStyle: .medium)
            var screen = terminal ? "\u{1B}[H\u{1B}[2J" : "\n"
            screen += "weft demo — namespace \(Self.namespace) — \(clock) — the last \(Int(window))s"
            screen += terminal ? " (Ctrl-C to stop)\n\n" : "\n"
            screen += baseline.isEmpty ? "(measuring …)\n" : report.table(showNamespace: false, wide: false)
            if !baseline.isEmpty {
                screen += "\n" + RouteReport(service: "voting", namespace: Self.namespace, before: baseline, after: now).table()
            }
            screen += "\n" + edges.table()
            screen += "\n\(Self.failingReplica) (voting-v2, the canary for 10% of votes) fails "
                + (failureRate >= 1 ? "every vote" : "\(Int(failureRate * 100))% of votes") + " on purpose."
            screen += " Look closer: weft viz stat ew -n \(Self.namespace), weft viz routes svc/voting -n \(Self.namespace)"
            screen += home.path == WeftHome().path ? "\n" : " --home \(home.path)\n"
            screen += "Retries and a circuit breaker while it runs: weft apply -f examples/demo-resilience.yaml\n"
            screen += "Zero trust (web only from vote-bot, emoji and voting only from web): weft apply -f examples/demo-zero-trust.yaml, then weft viz authz -n \(Self.namespace)\n"
            Self.say(screen)
            let wake = Date() + refresh
            while Date() < wake, !stop.requested { usleep(50_000) }
        }
        return nil
    }
}

/// Set by a signal handler, read by the demo's loops.
final class StopRequest: Sendable {
    private let flag = Mutex(false)

    var requested: Bool { flag.withLock { $0 } }

    func request() {
        flag.withLock { $0 = true }
    }
}
