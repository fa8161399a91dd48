import ArgumentParser
import Foundation

/// `weft viz authz -n NAMESPACE [WORKLOAD]`.
struct VizAuthzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authz",
        abstract: "What each workload's proxy admitted and refused, per server, route and authorization.",
        discussion: """
            Reads the /metrics of the namespace's workload proxies twice, --window apart, and \
            shows, per server, route and authorization, the requests (and TCP connections) per \
            second each proxy admitted — and, as [UNAUTHORIZED] rows, those it refused; [NO ROUTE] \
            counts requests no route of the server matched. From Linkerd's \
            inbound_{http,tcp}_authz_{allow,deny}_total and inbound_http_route_not_found_total.
            """)

    @Argument(help: "Only this workload (an ExternalWorkload's name).")
    var workload: String?

    @Option(name: [.customShort("n"), .long], help: "The workloads' namespace.")
    var namespace = "default"

    @Option(name: [.customShort("t"), .long], help: "Seconds between the two readings.")
    var window = 5.0

    @Option(name: .shortAndLong, help: "table or json.")
    var output = "table"

    @OptionGroup var access: MeshAccessOptions

    func validate() throws {
        guard ["table", "json"].contains(output) else { throw ValidationError("-o must be table or json") }
        guard window >= 0.5, window <= 3600 else { throw ValidationError("--window must be between 0.5 and 3600 seconds") }
    }

    func run() throws {
        do {
            let inventory = try MeshInventory.load(try access.client())
            let proxies = inventory.workloads.filter { candidate in candidate.namespace == namespace && (workload.map { candidate.name == $0 } ?? true) }
            if proxies.isEmpty {
                FileHandle.standardError.write(Data("error: no workload \(workload.map { "\"\($0)\" " } ?? "")in namespace \(namespace)\n".utf8))
                throw ExitCode.failure
            }
            let before = ProxyScrape.all(proxies)
            Thread.sleep(forTimeInterval: window)
            let after = ProxyScrape.all(proxies)
            let report = AuthzReport(namespace: namespace, workload: workload, before: before, after: after)
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
