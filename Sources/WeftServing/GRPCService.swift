import GRPCCore
import ServiceLifecycle
import WeftCore

/// A gRPC server as a `Service`: serves until graceful shutdown, then drains. A server that
/// cannot serve (its address taken) fails naming what it is for and its address.
public struct GRPCService<Transport: ServerTransport>: ServiceLifecycle.Service {
    let name: String
    let address: String
    let server: GRPCServer<Transport>

    public init(name: String, address: String, server: GRPCServer<Transport>) {
        self.name = name
        self.address = address
        self.server = server
    }

    public func run() async throws {
        do {
            try await withGracefulShutdownHandler {
                try await server.serve()
            } onGracefulShutdown: {
                server.beginGracefulShutdown()
            }
        } catch {
            throw ListenError(listener: name, address: address, error: error)
        }
    }
}
