import NIOCore
import NIOPosix
import NIOSSL
import X509

/// The certificate chain a live TLS endpoint presents, fetched without judging it (the caller
/// prints it and checks it against the trust anchors itself).
enum EndpointCertificates {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Connects to `host:port` with `serverName` as SNI and returns the presented chain, leaf first.
    static func fetch(host: String, port: Int, serverName: String?, timeout: TimeAmount = .seconds(5)) throws -> [Certificate] {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        let context = try NIOSSLContext(configuration: configuration)
        let presented = group.next().makePromise(of: [NIOSSLCertificate].self)
        // Every way out completes the promise (later completions are ignored).
        defer { presented.fail(Failure(description: "gave up")) }
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: serverName) { certificates, verdict in
                        presented.succeed(certificates)
                        // Seen is enough: the handshake is closed right after.
                        verdict.succeed(.certificateVerified)
                    }
                    try channel.pipeline.syncOperations.addHandler(tls)
                }
            }
        let channel: Channel
        do {
            channel = try bootstrap.connect(host: host, port: port).wait()
        } catch {
            throw Failure(description: "cannot connect to \(host):\(port): \(error)")
        }
        defer { channel.close(promise: nil) }
        let timer = group.next().scheduleTask(in: timeout) {
            presented.fail(Failure(description: "\(host):\(port) presented no certificate within \(timeout.nanoseconds / 1_000_000_000)s"))
        }
        channel.closeFuture.whenComplete { _ in
            presented.fail(Failure(description: "\(host):\(port) closed the connection without presenting a certificate"))
        }
        let certificates = try presented.futureResult.wait()
        timer.cancel()
        return try certificates.map { try Certificate(derEncoded: try $0.toDERBytes()) }
    }
}
