import Foundation

/// Turns `-f` arguments into the files to read, and reads them within a size limit.
enum ManifestSources {
    struct ReadError: Error, CustomStringConvertible {
        let source: String
        let message: String
        var description: String { "\(source): \(message)" }
    }

    static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// Files named directly, and the manifest files inside directories, sorted by path.
    static func expand(_ arguments: [String], recursive: Bool) throws -> [String] {
        var result: [String] = []
        for argument in arguments {
            var isDirectory: ObjCBool = false
            if argument != "-", FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue {
                result += try files(in: argument, recursive: recursive)
            } else {
                result.append(argument)
            }
        }
        return result
    }

    private static func files(in directory: String, recursive: Bool) throws -> [String] {
        var found: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            let path = (directory as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                if recursive { found += try files(in: path, recursive: true) }
            } else if extensions.contains((name as NSString).pathExtension.lowercased()) {
                found.append(path)
            }
        }
        return found
    }

    /// The text of a file or of standard input (`-`), refusing more than `limit` bytes without
    /// reading past it.
    static func read(_ source: String, limit: Int) throws -> String {
        let handle: FileHandle
        if source == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let file = FileHandle(forReadingAtPath: source) else {
                throw ReadError(source: source, message: "cannot open the file")
            }
            handle = file
        }
        defer { if source != "-" { try? handle.close() } }
        var data = Data()
        while data.count <= limit {
            guard let chunk = try handle.read(upToCount: 64 * 1024), !chunk.isEmpty else { break }
            data.append(chunk)
        }
        guard data.count <= limit else {
            throw ReadError(source: source, message: "input is larger than \(limit) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ReadError(source: source, message: "input is not UTF-8 text")
        }
        return text
    }
}
