import ArgumentParser
import Foundation

/// `weft proxy-init install|remove`: Linkerd's proxy-init for a host or network namespace.
struct ProxyInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy-init",
        abstract: "Install or remove the iptables rules that send TCP traffic through weft-proxy (as root).",
        discussion: """
            The rules of Linkerd's proxy-init, in table nat: PREROUTING → PROXY_INIT_REDIRECT \
            (ignored ports and subnets return; every other TCP connection to the inbound port) and \
            OUTPUT → PROXY_INIT_OUTPUT (the proxy's own UID, loopback and ignored ports return; every \
            other TCP connection to the outbound port). Each rule has a proxy-init/... comment. \
            install replaces rules already there; remove deletes them (and is quiet if there are none). \
            `weft run --capture` uses the same rules.
            """)

    @Argument(help: "install or remove")
    var action: String

    @Option(name: .customLong("proxy-uid"), help: "The proxy's user ID (its own connections are not redirected).")
    var proxyUID = 2102
    @Option(name: .customLong("incoming-proxy-port")) var inboundPort = 4143
    @Option(name: .customLong("outgoing-proxy-port")) var outboundPort = 4140
    @Option(name: .customLong("inbound-ports-to-ignore"), help: "Ports and ranges, comma-separated.")
    var inboundIgnore = "4190,4191"
    @Option(name: .customLong("outbound-ports-to-ignore"), help: "Ports and ranges, comma-separated.")
    var outboundIgnore = ""
    @Option(name: .customLong("subnets-to-ignore"), help: "Inbound source subnets (CIDR), comma-separated.")
    var subnetsIgnore = ""
    @Option(name: .long, help: "The iptables program.")
    var iptables = "iptables"

    func run() throws {
        func list(_ text: String) -> [String] { text.split(separator: ",").map(String.init) }
        let capture = TrafficCapture(proxyUID: proxyUID, inboundPort: inboundPort, outboundPort: outboundPort,
                                     inboundPortsToIgnore: list(inboundIgnore), outboundPortsToIgnore: list(outboundIgnore),
                                     subnetsToIgnore: list(subnetsIgnore), iptables: iptables)
        switch action {
        case "install":
            do {
                try capture.install()
            } catch {
                FileHandle.standardError.write(Data("weft proxy-init: \(error)\n".utf8))
                throw ExitCode(2)
            }
        case "remove":
            capture.remove()
        default:
            FileHandle.standardError.write(Data("weft proxy-init: the action is install or remove, not \(action)\n".utf8))
            throw ExitCode(2)
        }
    }
}
