import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A process started by `weft up`, `weft run` or `weft demo` with `posix_spawn`: its own
/// session or process group when asked (so a terminal's Ctrl-C reaches only whom it should),
/// signal dispositions reset to their defaults, and output sent to a file or inherited.
struct SpawnedProcess: Sendable {
    enum Group {
        /// The caller's process group: the terminal's signals reach the child too.
        case inherit
        /// A process group of its own.
        case own
        /// A new session (a daemon: no controlling terminal).
        case session
    }

    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    let pid: pid_t
    let executable: String

    /// Starts `executable` with `arguments`; `output` is a file appended to (standard output and
    /// error), or nil to inherit the caller's. Standard input is /dev/null unless inherited.
    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String],
                      group: Group, output: String?, inheritInput: Bool = false) throws -> SpawnedProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if !inheritInput { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        if let output {
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        switch group {
        case .inherit: break
        case .own:
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        case .session:
            flags |= 0x80  // POSIX_SPAWN_SETSID (glibc ≥ 2.26; the header hides it without _GNU_SOURCE)
        }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return SpawnedProcess(pid: pid, executable: executable)
    }

    /// Sends `signal`; false when the process is gone.
    @discardableResult
    func signal(_ signal: Int32) -> Bool { kill(pid, signal) == 0 }

    /// Waits for the process to end; its exit status (128 + the signal that killed it, as shells say).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return 1 }
        }
        return Self.exitCode(status)
    }

    /// The exit status if the process has ended, without blocking.
    func poll() -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        return result == pid ? Self.exitCode(status) : nil
    }

    /// Asks the process to stop (SIGTERM), and kills it if it is still there after `grace` seconds.
    /// Returns its exit status.
    func stop(grace: TimeInterval) -> Int32 {
        signal(SIGTERM)
        let deadline = Date() + grace
        while Date() < deadline {
            if let status = poll() { return status }
            usleep(20_000)
        }
        signal(SIGKILL)
        return wait()
    }

    static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Whether a process exists (it may be another user's).
    static func isAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// The command name the kernel knows a process by (`/proc/PID/comm`).
    static func commandName(of pid: pid_t) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/comm") else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The last lines a child wrote to its output file since `offset`, indented for quoting.
    static func outputTail(_ path: String, from offset: Int = 0, lines: Int = 15) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "(no log at \(path))" }
        let text = String(decoding: data.dropFirst(min(offset, data.count)), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).map { "  | " + $0 }.joined(separator: "\n")
    }

    /// A program installed beside `weft` (its build directory, or the same bin directory), else
    /// the name itself for a search of PATH.
    static func sibling(_ name: String) -> String {
        if let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let candidate = URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return name
    }
}
