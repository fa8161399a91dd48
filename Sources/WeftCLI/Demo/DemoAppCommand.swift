import ArgumentParser
import Dispatch
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle
import Synchronization
import WeftServing

/// `weft demo-app ROLE`: one process of the demo application, as `weft demo` starts it under
/// `weft run` (hidden from help: not for direct use).
struct DemoAppCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-app", abstract: "One service of `weft demo` (emoji, voting, web or vote-bot).", shouldDisplay: false)

    @Argument(help: "emoji, voting, web or vote-bot")
    var role: String

    @Option(name: .long, help: "The port to listen on, on 127.0.0.1 (default: $PORT).")
    var port: Int?

    @Option(name: .customLong("failure-rate"), help: "voting: the share of votes that fail.")
    var failureRate = 0.0

    @Option(name: .long, help: "vote-bot: requests per second.")
    var rate = 5.0

    @Option(name: [.customShort("n"), .long], help: "The demo's namespace (for the services' names).")
    var namespace = "emojivoto"

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let listenPort = port ?? environment["PORT"].flatMap(Int.init)
        guard let outbound = environment["WEFT_OUTBOUND_ADDR"].flatMap(HTTPExchange.Endpoint.init(parsing:)),
              case .tcp(let outboundHost, let outboundPort) = outbound else {
            throw ValidationError("run under `weft run` (WEFT_OUTBOUND_ADDR names the proxy's outbound listener)")
        }
        let logger = Logger(label: "demo-\(role)")
        let namespace = namespace
        @Sendable func authority(_ service: String) -> String { "\(service).\(namespace).svc.cluster.local:8080" }
        switch role {
        case "vote-bot":
            guard rate > 0, rate <= 1000 else { throw ValidationError("--rate must be in (0, 1000]") }
            VoteBot(outbound: outbound, webAuthority: authority("web"), rate: rate).run()
        case "emoji", "voting", "web":
            guard let listenPort else { throw ValidationError("give --port or $PORT") }
            try Self.block {
                var services: [any Service] = []
                switch role {
                case "emoji", "voting":
                    let rpc: any RegistrableRPCService = role == "emoji" ? EmojiService() : VotingService(failureRate: failureRate)
                    let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: listenPort), transportSecurity: .plaintext)
                    services.append(GRPCService(name: "the \(role) service", address: "127.0.0.1:\(listenPort)",
                                                server: GRPCServer(transport: transport, services: [rpc])))
                default:
                    let web = DemoWeb(emoji: try DemoWeb.client(outbound: (outboundHost, outboundPort), authority: authority("emoji")),
                                      voting: try DemoWeb.client(outbound: (outboundHost, outboundPort), authority: authority("voting")))
                    services += [GRPCClientService(client: web.emoji), GRPCClientService(client: web.voting)]
                    services.append(try await HTTPEndpoint(name: "web", address: .tcp(host: "127.0.0.1", port: listenPort),
                                                           maximumBody: 0, logger: logger) { await web.handle($0) })
                }
                try await ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
            }
        default:
            throw ValidationError("unknown role \(role): emoji, voting, web or vote-bot")
        }
    }

    /// Runs async work from this synchronous command, and waits for it.
    static func block(_ body: @escaping @Sendable () async throws -> Void) throws {
        let outcome = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do { try await body() } catch { outcome.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let error = outcome.withLock({ $0 }) { throw error }
    }
}

/// A gRPC client's connections as a `Service`.
struct GRPCClientService: Service {
    let client: GRPCClient<HTTP2ClientTransport.Posix>

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await client.runConnections()
        } onGracefulShutdown: {
            client.beginGracefulShutdown()
        }
    }
}
