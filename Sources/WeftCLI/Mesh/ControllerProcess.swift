import Crypto
import Foundation
import WeftAPI
import WeftIdentity

/// The `weft-controller` of a home: started in the background by `weft up` (or `weft demo`),
/// found again through its pid file, stopped by `weft down`.
struct ControllerProcess {
    /// Addresses the controller is started with (Linkerd's ports by default).
    struct Addresses {
        var identity = "127.0.0.1:8080"
        var destination = "127.0.0.1:8086"
        var policy = "127.0.0.1:8090"
        var admin = "127.0.0.1:9990"
        /// The management API over TCP too, for other hosts (off by default).
        var api: String?
        var trustDomain = "cluster.local"
    }

    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    let home: WeftHome

    var client: ControllerClient { ControllerClient(socket: home.socket) }

    /// Creates the home and, on first use, the trust anchor, issuer and token key in it; true
    /// when it made them.
    func prepareHome(trustDomain: String) throws -> Bool {
        try home.create()
        guard !FileManager.default.fileExists(atPath: home.trustAnchors) else { return false }
        let material = try TrustMaterial.generate(trustDomain: trustDomain, anchorLifetime: 3650 * 86_400, issuerLifetime: 365 * 86_400)
        try TrustDirectory(path: home.identityDirectory).write(material, tokenKey: P256.Signing.PrivateKey())
        return true
    }

    /// The controller's command line for this home.
    func arguments(_ addresses: Addresses) -> [String] {
        var arguments = ["--data-dir", home.storeDirectory, "--api-socket", home.socket, "--identity-dir", home.identityDirectory,
                         "--identity-addr", addresses.identity, "--destination-addr", addresses.destination,
                         "--policy-addr", addresses.policy, "--admin-addr", addresses.admin, "--trust-domain", addresses.trustDomain,
                         "--control-plane-tls"]
        if let api = addresses.api { arguments += ["--api-addr", api] }
        return arguments
    }

    /// Starts the controller in its own session with its output in the home's log, and waits
    /// until its management API answers. Fails with the log's last lines if it exits first.
    func start(_ addresses: Addresses, timeout: TimeInterval = 60) throws -> (pid: pid_t, mesh: MeshDescription) {
        try? FileManager.default.removeItem(atPath: home.socket)
        let logStart = (try? FileManager.default.attributesOfItem(atPath: home.log)[.size] as? Int) ?? 0
        let child = try SpawnedProcess.spawn(SpawnedProcess.sibling("weft-controller"), arguments(addresses),
                                           environment: ProcessInfo.processInfo.environment, group: .session, output: home.log)
        try "\(child.pid)\n".write(toFile: home.pidFile, atomically: true, encoding: .utf8)
        let deadline = Date() + timeout
        while Date() < deadline {
            if let status = child.poll() {
                try? FileManager.default.removeItem(atPath: home.pidFile)
                try? FileManager.default.removeItem(atPath: home.socket)
                throw StartError(description: "weft-controller exited with status \(status):\n" + SpawnedProcess.outputTail(home.log, from: logStart))
            }
            if FileManager.default.fileExists(atPath: home.socket), let mesh = try? client.mesh() {
                return (child.pid, mesh)
            }
            usleep(100_000)
        }
        _ = child.stop(grace: 5)
        try? FileManager.default.removeItem(atPath: home.pidFile)
        try? FileManager.default.removeItem(atPath: home.socket)
        throw StartError(description: "weft-controller did not answer within \(Int(timeout))s; its log:\n" + SpawnedProcess.outputTail(home.log, from: logStart))
    }

    /// Stops the running controller (SIGTERM, then SIGKILL after `grace`), and removes its pid
    /// file and socket. Returns the pid it stopped, or nil when none was running.
    func stop(grace: TimeInterval = 15) -> pid_t? {
        defer {
            try? FileManager.default.removeItem(atPath: home.pidFile)
            try? FileManager.default.removeItem(atPath: home.socket)
        }
        guard let pid = home.runningController() else { return nil }
        kill(pid, SIGTERM)
        let deadline = Date() + grace
        while Date() < deadline, SpawnedProcess.isAlive(pid) {
            // Not our child when another `weft` started it: it is reaped by init, so only watch it.
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
            usleep(50_000)
        }
        if SpawnedProcess.isAlive(pid) { kill(pid, SIGKILL) }
        return pid
    }
}
