import Foundation

/// What `weft run --join-token` leaves in its workload directory while it runs (`joined.json`):
/// where its bootstrap token is, so that `weft check` on the same host can read the workload's
/// registration with it (the only thing that token may read).
struct JoinedWorkload: Codable {
    var namespace: String
    var name: String
    var tokenFile: String

    static let fileName = "joined.json"

    func write(into directory: String) throws {
        let data = try JSONEncoder().encode(self)
        guard FileManager.default.createFile(atPath: directory + "/" + Self.fileName, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw MeshedWorkload.RunError(description: "cannot write \(directory)/\(Self.fileName)")
        }
    }

    /// Every joined workload of this home that is running.
    static func all(in home: WeftHome) -> [JoinedWorkload] {
        let root = home.path + "/workloads"
        let directories = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return directories.sorted().compactMap { directory in
            FileManager.default.contents(atPath: "\(root)/\(directory)/\(fileName)").flatMap { try? JSONDecoder().decode(JoinedWorkload.self, from: $0) }
        }
    }

    /// Checks, with the workload's own token, that the controller has it and that it is Ready.
    func check(_ report: inout CheckCommand.Report, client: ControllerClient) {
        let name = "\(namespace)/\(self.name)"
        guard let token = FileManager.default.contents(atPath: tokenFile).map({ String(decoding: $0, as: UTF8.self) }), !token.isEmpty else {
            report.check(false, "\(name): its bootstrap token can be read (\(tokenFile))", hint: "run weft check as the user that ran weft run (root with --capture)")
            return
        }
        do {
            let objects = try client.authenticating(with: BearerToken(token)).objects(kind: "ExternalWorkload", namespace: namespace, name: self.name)
            guard let workload = MeshWorkload.all(from: objects).first else {
                report.check(false, "\(name): the controller has its registration", hint: "is `weft run` for it still running?")
                return
            }
            report.check(workload.ready, "\(name): registered with the controller and Ready (\(workload.readyReason))",
                         hint: "the controller probes its proxy at \(workload.ip):\(workload.adminPort): is that reachable from the controller's host?")
        } catch {
            report.check(false, "\(name): the controller has its registration: \(error)")
        }
    }
}
