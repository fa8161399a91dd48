import Dispatch
import Foundation
import Synchronization
import WeftAPI
#if canImport(Glibc)
import Glibc
#endif

/// One process meshed by `weft run`: its registration, its proxy, its command and its cleanup.
final class MeshedWorkload: Sendable {
    /// What the signal handlers and the proxy's watcher share with the main thread.
    private struct State {
        var command: SpawnedProcess?
        var stopping = false
    }

    private let state = Mutex(State())
    /// Signalled once the proxy process has ended (and been reaped by its watcher).
    private let proxyExited = DispatchSemaphore(value: 0)

    let client: ControllerClient
    let namespace: String
    let name: String
    let ip: String
    let identity: String
    let directory: String
    let environment: [String: String]
    let proxy: SpawnedProcess
    /// Whether this run created the workload's Service (it removes it, if left empty).
    let createdService: Bool
    let serviceName: String
    /// Transparent mode: the rules to remove at the end, and the proxy's user (owner of its token).
    let capture: TrafficCapture?
    /// The bootstrap token the proxy reads (renewed at half its lifetime).
    let tokenFile: String

    init(client: ControllerClient, namespace: String, name: String, ip: String, identity: String, directory: String,
                 environment: [String: String], proxy: SpawnedProcess, createdService: Bool, serviceName: String, capture: TrafficCapture?,
                 tokenFile: String) {
        self.capture = capture
        self.tokenFile = tokenFile
        self.client = client
        self.namespace = namespace
        self.name = name
        self.ip = ip
        self.identity = identity
        self.directory = directory
        self.environment = environment
        self.proxy = proxy
        self.createdService = createdService
        self.serviceName = serviceName
    }

    struct RunError: Error, CustomStringConvertible {
        let description: String
    }

    /// How long a bootstrap token lives; a fresh one is written at half of it.
    static let tokenLifetime = 86_400

    /// Writes a fresh token (0600, owned by `owner` when given: the proxy's user in transparent mode).
    static func writeToken(client: ControllerClient, identity: String, to path: String, owner: uid_t? = nil) throws {
        let body = try JSONEncoder().encode(TokenRequest(identity: identity, ttlSeconds: tokenLifetime))
        let answer = try JSONDecoder().decode(TokenAnswer.self, from: client.expectOK(.POST, "/v1/tokens", body: body))
        try writeToken(answer.token, to: path, owner: owner)
        // A joined workload authenticates with its newest token.
        client.exchange.bearer?.replace(with: answer.token)
    }

    static func writeToken(_ token: String, to path: String, owner: uid_t?) throws {
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw RunError(description: "cannot write \(temporary)")
        }
        if let owner { chown(temporary, owner, gid_t(owner)) }
        guard rename(temporary, path) == 0 else { throw RunError(description: "cannot write \(path)") }
    }

    /// Runs the command to its end, cleans up, and returns its exit status.
    func run(_ command: [String]) -> Int32 {
        let queue = DispatchQueue(label: "weft-run.signals")
        let signals = SignalHandlers([SIGINT, SIGTERM, SIGHUP], queue: queue) { [self] number in forward(number) }
        // A fresh token before this one expires (a certificate renewal needs a valid one).
        let refresher = DispatchSource.makeTimerSource(queue: queue)
        refresher.schedule(deadline: .now() + .seconds(Self.tokenLifetime / 2), repeating: .seconds(Self.tokenLifetime / 2))
        refresher.setEventHandler { [self] in
            do { try Self.writeToken(client: client, identity: identity, to: tokenFile, owner: capture.map { uid_t($0.proxyUID) }) } catch {
                FileHandle.standardError.write(Data("weft run: could not renew the bootstrap token: \(error)\n".utf8))
            }
        }
        refresher.resume()
        // The proxy's own end is reported, not repaired: the workload turns not Ready.
        let watcher = Thread { [self] in
            let status = proxy.wait()
            proxyExited.signal()
            if !state.withLock({ $0.stopping }) {
                FileHandle.standardError.write(Data("weft run: weft-proxy of \(namespace)/\(name) exited with status \(status); the workload is out of the mesh (see \(directory)/proxy.log)\n".utf8))
            }
        }
        watcher.start()

        let status: Int32
        do {
            let child = try SpawnedProcess.spawn(command[0], Array(command.dropFirst()), environment: environment, group: .inherit,
                                               output: nil, inheritInput: true)
            state.withLock { $0.command = child }
            status = child.wait()
        } catch {
            FileHandle.standardError.write(Data("weft run: \(error)\n".utf8))
            status = 127
        }
        refresher.cancel()
        tearDown()
        signals.cancel()
        return status
    }

    /// A signal for `weft run` reaches the command: SIGTERM and SIGHUP at once; SIGINT (which a
    /// terminal already sent to the command, in the same process group) as SIGTERM if the command is
    /// still there 3 seconds later. SIGKILL follows 10 seconds after either.
    private func forward(_ number: Int32) {
        guard let child = state.withLock({ $0.command }) else { return }
        let queue = DispatchQueue.global()
        if number == SIGINT {
            queue.asyncAfter(deadline: .now() + 3) { if SpawnedProcess.isAlive(child.pid) { child.signal(SIGTERM) } }
        } else {
            child.signal(number)
        }
        queue.asyncAfter(deadline: .now() + 13) { if SpawnedProcess.isAlive(child.pid) { child.signal(SIGKILL) } }
    }

    /// The workload leaves the mesh first (peers stop choosing it), then its proxy stops.
    private func tearDown() {
        state.withLock { $0.stopping = true }
        removeRegistration()
        proxy.signal(SIGTERM)
        if proxyExited.wait(timeout: .now() + 8) == .timedOut {
            proxy.signal(SIGKILL)
            _ = proxyExited.wait(timeout: .now() + 5)
        }
        capture?.remove()
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: tokenFile).deletingLastPathComponent().path)
    }

    /// After a failed start: the registration and the token go; the proxy's log stays for the user.
    func abandon() {
        removeRegistration()
        try? FileManager.default.removeItem(atPath: tokenFile)
        if !tokenFile.hasPrefix(directory + "/") {
            try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: tokenFile).deletingLastPathComponent().path)
        }
    }

    func removeRegistration() {
        Self.unregister(client: client, namespace: namespace, name: name, service: createdService ? serviceName : nil)
    }

    /// Deletes the workload, and `service` (one this run created) if no workload is left in it.
    static func unregister(client: ControllerClient, namespace: String, name: String, service: String?) {
        do {
            if client.exchange.bearer?.current != nil {
                // Joined: the workload's own token lets it leave (the controller removes the Service if empty).
                _ = try client.expectOK(.POST, "/v1/leave", body: try JSONEncoder().encode(LeaveRequest(namespace: namespace, name: name, service: service)))
                return
            }
            try client.delete(kind: "ExternalWorkload", namespace: namespace, name: name)
            if let service {
                let remaining = MeshWorkload.all(from: try client.objects(kind: "ExternalWorkload", namespace: namespace))
                if !remaining.contains(where: { $0.labels["app"] == service }) {
                    try client.delete(kind: "Service", namespace: namespace, name: service)
                }
            }
        } catch {
            FileHandle.standardError.write(Data("weft run: could not remove \(namespace)/\(name) from the controller: \(error)\n".utf8))
        }
    }
}
