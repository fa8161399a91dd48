#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WeftStore

/// A set of file changes made durable together: new file contents are written to temporary
/// files and synced, a journal naming every change is written and synced, then the changes are
/// made and the journal removed. A crash at any point leaves either none of the changes (no
/// journal yet) or all of them once ``recover(in:)`` has rolled the journal forward.
struct AtomicCommit {
    private enum Change {
        case replace(temporary: String, final: String)
        case remove(String)
    }

    private let directory: String
    private var changes: [Change] = []

    init(directory: String) {
        self.directory = directory
    }

    static func journalPath(in directory: String) -> String { directory + "/journal" }

    /// Stages new contents for `path` (a temporary file beside it, synced).
    mutating func write(_ bytes: [UInt8], to path: String) throws(StoreError) {
        let temporary = path + ".tmp-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try Self.writeSynced(bytes, to: temporary)
        } catch {
            unlink(temporary)
            abandon()
            throw error
        }
        changes.append(.replace(temporary: temporary, final: path))
    }

    /// Stages the removal of `path`.
    mutating func remove(_ path: String) {
        changes.append(.remove(path))
    }

    /// Drops every staged change.
    func abandon() {
        for case .replace(let temporary, _) in changes { unlink(temporary) }
    }

    /// Makes every staged change, durably and together.
    func commit() throws(StoreError) {
        var journal = ""
        for change in changes {
            switch change {
            case .replace(let temporary, let final): journal += "R\t\(temporary)\t\(final)\n"
            case .remove(let path): journal += "D\t\(path)\n"
            }
        }
        let journalPath = Self.journalPath(in: directory)
        do {
            try Self.writeSynced(Array(journal.utf8), to: journalPath + ".tmp")
            try Self.rename(journalPath + ".tmp", journalPath)
            try Self.syncDirectory(directory)
        } catch {
            unlink(journalPath + ".tmp")
            abandon()
            throw error
        }
        // From here on the changes are decided: a failure below is finished by recovery.
        try Self.apply(journal)
        unlink(journalPath)
        try Self.syncDirectory(directory)
    }

    /// Finishes a commit interrupted by a crash, and removes stray temporary files.
    static func recover(in directory: String) throws(StoreError) {
        let journalPath = journalPath(in: directory)
        unlink(journalPath + ".tmp")
        if let journal = readFile(journalPath) {
            try apply(String(decoding: journal, as: UTF8.self))
            unlink(journalPath)
            try syncDirectory(directory)
        }
    }

    private static func apply(_ journal: String) throws(StoreError) {
        var directories: Set<String> = []
        for line in journal.split(separator: "\n") {
            let fields = line.split(separator: "\t").map(String.init)
            switch (fields.first, fields.count) {
            case ("R", 3):
                // Already renamed before a crash: the temporary file is gone and the final is in place.
                if access(fields[1], F_OK) == 0 { try rename(fields[1], fields[2]) }
                directories.insert(parent(fields[2]))
            case ("D", 2):
                unlink(fields[1])
                directories.insert(parent(fields[1]))
            default:
                throw StoreError(.storageFailed, "unreadable journal line \"\(line)\"")
            }
        }
        for directory in directories { try syncDirectory(directory) }
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    static func failure(_ what: String, _ path: String) -> StoreError {
        let code = errno
        let reason = String(cString: strerror(code))
        if code == ENOSPC || code == EDQUOT {
            return StoreError(.storageFull, "the disk holding the store is full (\(what) \(path): \(reason)); nothing was changed")
        }
        return StoreError(.storageFailed, "\(what) \(path): \(reason); nothing was changed")
    }

    static func writeSynced(_ bytes: [UInt8], to path: String) throws(StoreError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("cannot create", path) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw failure("cannot write", path)
            }
            offset += written
        }
        guard fsync(fd) == 0 else { throw failure("cannot sync", path) }
    }

    static func rename(_ from: String, _ to: String) throws(StoreError) {
        #if canImport(Glibc)
        let result = Glibc.rename(from, to)
        #else
        let result = Darwin.rename(from, to)
        #endif
        guard result == 0 else { throw failure("cannot rename to", to) }
    }

    static func syncDirectory(_ path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open directory", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure("cannot sync directory", path) }
    }

    static func makeDirectory(_ path: String) throws(StoreError) {
        var built = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            built += "/" + part
            if mkdir(built, 0o700) != 0 && errno != EEXIST { throw failure("cannot create directory", built) }
        }
    }

    /// A whole file, or nil when it cannot be read.
    static func readFile(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return result }
            result += chunk[..<count]
            if result.count > limit { return nil }
        }
    }

    /// `write(2)` (the name is taken by ``write(_:to:)``).
    private static func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.write(fd, buffer, count)
        #else
        Darwin.write(fd, buffer, count)
        #endif
    }

    /// Names in a directory, without `.` and `..`.
    static func entries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
