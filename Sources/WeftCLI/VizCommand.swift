import ArgumentParser
import Foundation

/// `weft viz`: the mesh's golden metrics, read from the proxies.
struct VizCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "viz",
        abstract: "Golden metrics and edges of the mesh, read from every workload's proxy.",
        subcommands: [VizStatCommand.self, VizRoutesCommand.self, VizEdgesCommand.self, VizAuthzCommand.self])
}

/// Options of the viz commands that reach the controller.
struct MeshAccessOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The controller's management API: a socket path or HOST:PORT (default: the home's socket).", valueName: "addr"))
    var controller: String?

    @OptionGroup var remote: RemoteControllerOptions

    @OptionGroup var home: HomeOptions

    func client() throws -> ControllerClient {
        try remote.client(controller: controller, socket: home.weftHome.socket)
    }
}

/// `weft viz stat [KIND[/NAME]]`.
struct VizStatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat",
        abstract: "Success rate, requests per second, latency and connections of workloads, services or namespaces.",
        discussion: """
            Reads every workload proxy's /metrics twice, --window apart (the controller names the \
            workloads and their admin addresses), and prints what their inbound side served in \
            between, with Linkerd's columns: MESHED (proxies that answered), SUCCESS (responses \
            that were not 5xx and not a gRPC error), RPS, LATENCY_P50/P95/P99 (from the latency \
            histograms, interpolated as Prometheus does) and TCP_CONN (open inbound connections). \
            -o wide adds SECURED (the share of requests that came over mTLS) and IDENTITY; -o json \
            gives every figure unrounded, with the request counts.
            KIND is ew (ExternalWorkloads, the default), svc or ns, optionally /NAME.
            """)

    @Argument(help: "ew, svc or ns, optionally with /NAME.")
    var resource = "ew"

    @Option(name: [.customShort("n"), .long], help: "The namespace.")
    var namespace = "default"

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Every namespace.")
    var allNamespaces = false

    @Option(name: .long, help: ArgumentHelp("Only traffic from this client: ew/NAME or svc/NAME (in --from-namespace, default --namespace).", valueName: "kind/name"))
    var from: String?

    @Option(name: .customLong("from-namespace"), help: "The namespace of --from (default: --namespace).")
    var fromNamespace: String?

    @Option(name: [.customShort("t"), .long], help: "Seconds between the two readings.")
    var window = 5.0

    @Option(name: .shortAndLong, help: "table, wide or json.")
    var output = "table"

    @OptionGroup var access: MeshAccessOptions

    func validate() throws {
        guard ["table", "wide", "json"].contains(output) else { throw ValidationError("-o must be table, wide or json") }
        guard window >= 0.5, window <= 3600 else { throw ValidationError("--window must be between 0.5 and 3600 seconds") }
    }

    func run() throws {
        let (kind, name) = try Self.parse(resource)
        do {
            let client = try access.client()
            let inventory = try MeshInventory.load(client)
            let scope = allNamespaces ? nil : namespace
            var clients: Set<String>?
            if let from {
                let (fromKind, fromName) = try Self.parse(from)
                guard let fromName else { throw ValidationError("--from needs a name: ew/NAME or svc/NAME") }
                let fromScope = fromNamespace ?? namespace
                let sources: [MeshWorkload]
                switch fromKind {
                case .workload: sources = inventory.workloads.filter { $0.namespace == fromScope && $0.name == fromName }
                case .service:
                    let services = inventory.services.filter { $0.namespace == fromScope && $0.name == fromName }
                    sources = inventory.workloads.filter { workload in services.contains { $0.selects(workload) } }
                case .namespace: sources = inventory.workloads.filter { $0.namespace == fromName }
                }
                guard !sources.isEmpty else { throw ValidationError("--from \(from): no such workloads in \(fromScope)") }
                clients = Set(sources.compactMap(\.identity))
            }
            let workloads = inventory.workloads.filter { scope == nil || $0.namespace == scope || kind == .namespace }
            let before = ProxyScrape.all(workloads)
            Thread.sleep(forTimeInterval: window)
            let after = ProxyScrape.all(workloads)
            let report = StatReport(kind: kind, name: name, namespace: kind == .namespace ? nil : scope, inventory: inventory,
                                    before: before, after: after, clients: clients)
            if let name, report.rows.isEmpty {
                FileHandle.standardError.write(Data("error: \(kind.rawValue) \(name) not found in \(scope ?? "any namespace")\n".utf8))
                throw ExitCode.failure
            }
            print(output == "json" ? try report.json() : report.table(showNamespace: allNamespaces && kind != .namespace, wide: output == "wide"),
                  terminator: "")
            for scrape in after where !scrape.reachable {
                FileHandle.standardError.write(Data("warning: \(scrape.workload.qualifiedName): \(scrape.failure ?? "no answer")\n".utf8))
            }
        } catch let error as ControllerClient.ConnectionError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    static func parse(_ text: String) throws -> (StatReport.Kind, String?) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let first = parts.first, let kind = StatReport.Kind(name: first) else {
            throw ValidationError("unknown resource \"\(text)\": use ew, svc or ns, optionally /NAME")
        }
        return (kind, parts.count == 2 ? parts[1] : nil)
    }
}

/// `weft viz edges`.
struct VizEdgesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edges",
        abstract: "Which workloads talk to which, and whether both ends proved who they are over mTLS.",
        discussion: """
            From one reading of every proxy's /metrics: each client workload whose proxy opened \
            connections to another workload's address, with SERVER_ID (the identity the client's \
            proxy verified) and CLIENT_ID (the identity the server's proxy saw). SECURED is √ when \
            both agree on mutual TLS and on each other's identity; MSG says why not otherwise.
            """)

    @Argument(help: "Accepted for Linkerd's syntax (edges are between workloads).")
    var resource = "ew"

    @Option(name: [.customShort("n"), .long], help: "Only edges with an end in this namespace.")
    var namespace = "default"

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Every namespace.")
    var allNamespaces = false

    @Option(name: .shortAndLong, help: "table or json.")
    var output = "table"

    @OptionGroup var access: MeshAccessOptions

    func run() throws {
        guard ["table", "wide", "json"].contains(output) else { throw ValidationError("-o must be table or json") }
        do {
            let inventory = try MeshInventory.load(try access.client())
            let edges = MeshEdges(inventory: inventory, scrapes: ProxyScrape.all(inventory.workloads), namespace: allNamespaces ? nil : namespace)
            print(output == "json" ? try edges.json() : edges.table(), terminator: "")
        } catch let error as ControllerClient.ConnectionError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
