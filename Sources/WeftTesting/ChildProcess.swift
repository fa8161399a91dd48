import Foundation

/// Runs a program to completion, feeding it standard input and collecting both outputs.
public struct ChildProcess {
    public struct Outcome {
        public let status: Int32
        public let stdout: Data
        public let stderr: Data

        public var standardOutput: String { String(decoding: stdout, as: UTF8.self) }
        public var standardError: String { String(decoding: stderr, as: UTF8.self) }
    }

    public static func run(_ executable: URL, _ arguments: [String], stdin: Data? = nil, directory: URL? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        // Standard error goes to a file, so a chatty child cannot stall on a full pipe while
        // standard output is being read.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("weft-test-stderr-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: errorFile.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown)
        }
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let errorHandle = try FileHandle(forWritingTo: errorFile)
        let out = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = errorHandle
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try errorHandle.close()
        return Outcome(status: process.terminationStatus, stdout: stdout, stderr: try Data(contentsOf: errorFile))
    }
}
