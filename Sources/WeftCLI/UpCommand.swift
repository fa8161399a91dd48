import ArgumentParser
import Foundation
import WeftAPI
import WeftIdentity
#if canImport(Glibc)
import Glibc
#endif

/// Where a home is, for the commands that run or read a one-machine mesh.
struct HomeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The mesh's directory (default: $WEFT_HOME, else ./.weft).", valueName: "dir"))
    var home: String?

    var weftHome: WeftHome { WeftHome(home) }
}

/// `weft up`: the control plane of a one-machine mesh.
struct UpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start the mesh's control plane (weft-controller) for this machine.",
        discussion: """
            Creates the home directory (--home, else $WEFT_HOME, else ./.weft) and, on first start, \
            the trust anchor, the issuer and the token-signing key in <home>/identity. Then starts \
            weft-controller in the background with its store in <home>/store, its management API on \
            <home>/controller.sock and its log in <home>/controller.log, waits until it answers and \
            prints where everything is. The destination and policy services are served over mutual \
            TLS (--control-plane-tls): proxies `weft run` starts present their workload certificates. \
            Running it again while the controller runs changes nothing. \
            With --foreground the controller replaces this process instead (for systemd and other \
            supervisors): its log goes to standard error and SIGTERM stops it.
            """)

    @OptionGroup var home: HomeOptions

    @Flag(name: .long, help: "Run the controller in this process, in the foreground.")
    var foreground = false

    @OptionGroup var controllerOptions: ControllerAddressOptions

    func run() throws {
        let home = home.weftHome
        let controller = ControllerProcess(home: home)
        if let pid = home.runningController() {
            let mesh = try controller.client.mesh()
            print("weft: the mesh is already up (weft-controller pid \(pid))")
            Self.describe(mesh, home: home, pid: pid)
            return
        }
        if try controller.prepareHome(trustDomain: controllerOptions.trustDomain) {
            print("weft: created the trust anchor and issuer in \(home.identityDirectory)")
        }
        if foreground {
            try "\(getpid())\n".write(toFile: home.pidFile, atomically: true, encoding: .utf8)
            let program = SpawnedProcess.sibling("weft-controller")
            let argv = ([program] + controller.arguments(controllerOptions.addresses)).map { strdup($0) } + [nil]
            execvp(program, argv)
            throw ValidationError("cannot run \(program): \(String(cString: strerror(errno)))")
        }
        do {
            let (pid, mesh) = try controller.start(controllerOptions.addresses)
            print("weft: the mesh is up (weft-controller pid \(pid))")
            Self.describe(mesh, home: home, pid: pid)
        } catch let error as ControllerProcess.StartError {
            FileHandle.standardError.write(Data("weft up: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// Where everything is.
    static func describe(_ mesh: MeshDescription, home: WeftHome, pid: pid_t) {
        var rows: [(String, String)] = [("home", home.path), ("management API", home.socket)]
        if let identity = mesh.identity { rows.append(("identity", "\(identity.address) (\(identity.serverName))")) }
        rows += [("destination", mesh.destinationAddress), ("policy", mesh.policyAddress), ("admin", "http://\(mesh.adminAddress)/ready"),
                 ("trust anchor", home.trustAnchors), ("trust domain", mesh.trustDomain), ("log", home.log), ("version", mesh.version)]
        if let issuer = mesh.identity.flatMap({ try? TrustDirectory.certificates(pem: $0.issuerPEM).first }) {
            rows.append(("issuer valid until", "\(issuer.notValidAfter)"))
        }
        let width = rows.map(\.0.count).max() ?? 0
        for (key, value) in rows { print("  " + key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value) }
        print("Mesh a process: weft run --name NAME --namespace NS --port PORT -- COMMAND")
    }
}

/// `weft down`.
struct DownCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop the control plane that `weft up` started.",
        discussion: """
            Sends SIGTERM to weft-controller (SIGKILL after 15 seconds) and removes its pid file and \
            socket. The store and the trust material stay in the home for the next `weft up`. Proxies \
            of workloads still running keep what they last learned.
            """)

    @OptionGroup var home: HomeOptions

    func run() throws {
        let home = home.weftHome
        if let pid = ControllerProcess(home: home).stop() {
            print("weft: stopped weft-controller (pid \(pid))")
        } else {
            print("weft: the mesh is not running (no controller in \(home.path))")
        }
    }
}

/// The addresses `weft up` (and `weft demo`, when it starts the controller) give weft-controller.
struct ControllerAddressOptions: ParsableArguments {
    @Option(name: .customLong("identity-addr"), help: "Where the identity service listens.")
    var identityAddress = "127.0.0.1:8080"
    @Option(name: .customLong("destination-addr"), help: "Where the destination service listens.")
    var destinationAddress = "127.0.0.1:8086"
    @Option(name: .customLong("policy-addr"), help: "Where the policy services listen.")
    var policyAddress = "127.0.0.1:8090"
    @Option(name: .customLong("admin-addr"), help: "The controller's /live, /ready and /metrics.")
    var adminAddress = "127.0.0.1:9990"
    @Option(name: .customLong("api-addr"), help: "Also serve the management API over TCP (TLS 1.3), for other hosts: joining with join tokens (`weft token create --join`), operators with certificates (`weft identity operator create`).")
    var apiAddress: String?
    @Option(name: .customLong("trust-domain"), help: "The mesh's trust domain (used when the trust material is first made).")
    var trustDomain = "cluster.local"

    var addresses: ControllerProcess.Addresses {
        ControllerProcess.Addresses(identity: identityAddress, destination: destinationAddress, policy: policyAddress,
                                    admin: adminAddress, api: apiAddress, trustDomain: trustDomain)
    }
}
