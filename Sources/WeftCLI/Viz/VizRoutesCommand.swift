import ArgumentParser
import Foundation

/// `weft viz routes svc/NAME`.
struct VizRoutesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routes",
        abstract: "Success rate, requests per second and latency of each route of a service, as its clients' proxies saw them.",
        discussion: """
            Reads the /metrics of every workload's proxy (and of each --proxy) twice, --window \
            apart, and sums the per-route series their outbound side keeps for the service \
            (Linkerd 2.16's outbound_http_route_* and outbound_grpc_route_* families): one row per \
            HTTPRoute or GRPCRoute, [default] for the service's default route. SUCCESS counts \
            responses that were not 5xx, not the proxy's own error and, for gRPC, OK.
            """)

    @Argument(help: "svc/NAME: the service whose routes to show.")
    var resource: String

    @Option(name: [.customShort("n"), .long], help: "The service's namespace.")
    var namespace = "default"

    @Option(name: .long, help: ArgumentHelp("Also read the proxy whose admin server is at HOST:PORT (e.g. a weft run --forward client's).",
                                            valueName: "host:port"))
    var proxy: [String] = []

    @Option(name: [.customShort("t"), .long], help: "Seconds between the two readings.")
    var window = 5.0

    @Option(name: .shortAndLong, help: "table or json.")
    var output = "table"

    @OptionGroup var access: MeshAccessOptions

    func validate() throws {
        guard ["table", "json"].contains(output) else { throw ValidationError("-o must be table or json") }
        guard window >= 0.5, window <= 3600 else { throw ValidationError("--window must be between 0.5 and 3600 seconds") }
        _ = try service()
        _ = try extraProxies()
    }

    func service() throws -> String {
        let parts = resource.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, ["svc", "service", "services"].contains(parts[0].lowercased()), !parts[1].isEmpty else {
            throw ValidationError("expected svc/NAME, not \"\(resource)\"")
        }
        return parts[1]
    }

    func extraProxies() throws -> [MeshWorkload] {
        try proxy.map { address in
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else {
                throw ValidationError("--proxy: expected HOST:PORT, not \"\(address)\"")
            }
            let host = String(address[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            return MeshWorkload(namespace: "", name: address, labels: [:], ip: host, identity: nil, ports: [], adminPort: port,
                                ready: true, readyReason: "")
        }
    }

    func run() throws {
        let name = try service()
        do {
            let inventory = try MeshInventory.load(try access.client())
            let proxies = inventory.workloads + (try extraProxies())
            let before = ProxyScrape.all(proxies)
            Thread.sleep(forTimeInterval: window)
            let after = ProxyScrape.all(proxies)
            let report = RouteReport(service: name, namespace: namespace, before: before, after: after)
            if report.rows.isEmpty {
                FileHandle.standardError.write(Data("no traffic to svc/\(name) in \(namespace) was routed by the proxies read\n".utf8))
            }
            print(output == "json" ? try report.json() : report.table(), terminator: "")
            for scrape in after where !scrape.reachable {
                FileHandle.standardError.write(Data("warning: \(scrape.source): \(scrape.failure ?? "no answer")\n".utf8))
            }
        } catch let error as ControllerClient.ConnectionError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
