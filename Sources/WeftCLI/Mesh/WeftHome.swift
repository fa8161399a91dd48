import Foundation

/// The directory a one-machine mesh lives in (`--home`, else `$WEFT_HOME`, else `./.weft`):
/// the controller's store, trust material, socket, pid file and log, and one directory per
/// workload meshed with `weft run`.
struct WeftHome {
    let path: String

    /// `explicit`, else `$WEFT_HOME`, else `.weft`, made absolute.
    init(_ explicit: String? = nil) {
        let chosen = explicit ?? ProcessInfo.processInfo.environment["WEFT_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ".weft"
        path = chosen.hasPrefix("/") ? chosen : FileManager.default.currentDirectoryPath + "/" + chosen
    }

    var identityDirectory: String { path + "/identity" }
    var storeDirectory: String { path + "/store" }
    var socket: String { path + "/controller.sock" }
    var pidFile: String { path + "/controller.pid" }
    var log: String { path + "/controller.log" }
    var trustAnchors: String { identityDirectory + "/trust-anchors.pem" }
    /// Where `weft run` keeps a workload's token and proxy log while it runs.
    func workloadDirectory(namespace: String, name: String) -> String { "\(path)/workloads/\(namespace).\(name)" }

    /// Creates the home (0700) if it is missing.
    func create() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// The pid of the controller `weft up` started, when that process is still alive.
    func runningController() -> pid_t? {
        guard let data = FileManager.default.contents(atPath: pidFile),
              let pid = pid_t(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
              SpawnedProcess.isAlive(pid), SpawnedProcess.commandName(of: pid) == "weft-controller" else { return nil }
        return pid
    }
}
