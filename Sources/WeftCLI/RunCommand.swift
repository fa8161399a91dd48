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

            From another host: weft run --controller HOST:PORT --join-token TOKEN --ca-cert-hash PIN \
            --capture --ip ADDRESS ... (both printed by `weft token create --join` on the controller's \
            host): the management API is reached over TLS, trusted by the pin, and the join token \
            registers the workload.

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

    @Option(name: .long, help: "The workload's address (default: a free loopback address of its own; required with --capture: this host's address that peers reach). IPv4 or IPv6; twice for a dual-stack host (one of each family).")
    var ip: [String] = []

    @Flag(name: .long, help: "Transparent mode (root): iptables rules (as `weft proxy-init`) send all of this host's or network namespace's TCP traffic through the proxy, which runs as UID 2102; the app listens on the --port numbers themselves. One such workload per host or namespace.")
    var capture = false

    @Option(name: .long, help: ArgumentHelp("A local port on the workload's address forwarded to a service: LOCAL_PORT=SERVICE_HOST:PORT (any TCP protocol). Repeatable.", valueName: "forward"))
    var forward: [String] = []

    @Option(name: .customLong("join-token"), help: "Join the controller at --controller HOST:PORT with a join token (`weft token create --join`); needs --ca-cert-hash and --ip.")
    var joinToken: String?

    @Option(name: .customLong("trust-domain"), help: "With --join-token: the mesh's trust domain (the workload's identity ends in it).")
    var trustDomain = "cluster.local"

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
        var client = try access.client()
        if joinToken != nil {
            guard case .tcp = client.exchange.endpoint, client.exchange.tls != nil else {
                throw ValidationError("--join-token needs --controller HOST:PORT and --ca-cert-hash sha256:<hex> (both printed by `weft token create --join`)")
            }
            guard !ip.isEmpty else { throw ValidationError("--join-token needs --ip: the address of this host that peers reach") }
            client = client.authenticating(with: BearerToken())
        }
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
