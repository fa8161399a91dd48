import Foundation
import Testing
import WeftTesting

/// `weft validate`, run as a real process the way a user runs it.
@Suite("weft validate")
struct ValidateCommandTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `weft` binary built beside this test bundle.
    static var weft: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("weft")
    }

    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static func run(_ arguments: [String], stdin: Data? = nil) throws -> Outcome {
        let outcome = try ChildProcess.run(weft, arguments, stdin: stdin, directory: repository)
        return Outcome(status: outcome.status, stdout: outcome.standardOutput, stderr: outcome.standardError)
    }

    @Test func validExamplePasses() throws {
        let outcome = try Self.run(["validate", "-f", "examples/mesh-expansion.yaml"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.hasPrefix("examples/mesh-expansion.yaml: 8 valid resources\n  Namespace shop (v1)\n"))
        #expect(outcome.stdout.contains("  ExternalWorkload shop/books-vm-1 (workload.linkerd.io/v1beta1)\n"))
        #expect(outcome.stderr.isEmpty)
    }

    @Test func directoryOfFixtures() throws {
        let outcome = try Self.run(["validate", "-q", "-f", "Tests/WeftAPITests/Fixtures/valid"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
    }

    @Test func invalidFileFailsWithEveryError() throws {
        let outcome = try Self.run(["validate", "-f", "examples/mesh-expansion.yaml", "-f", "Tests/WeftAPITests/Fixtures/invalid/server.yaml"])
        #expect(outcome.status == 1)
        #expect(outcome.stdout.contains("examples/mesh-expansion.yaml: 8 valid resources"))
        let lines = outcome.stderr.split(separator: "\n")
        #expect(lines.count == 7)
        #expect(lines.first == "Tests/WeftAPITests/Fixtures/invalid/server.yaml: document 1 (Server default/both): spec: must set exactly one of podSelector and externalWorkloadSelector")
    }

    @Test func standardInput() throws {
        let yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: Bad\n"
        let outcome = try Self.run(["validate", "-f", "-"], stdin: Data(yaml.utf8))
        #expect(outcome.status == 1)
        #expect(outcome.stderr == "-: document 1 (Namespace Bad): metadata.name: \"Bad\" must be a lowercase RFC 1123 label (a-z, 0-9 and '-', at most 63 characters, starting and ending with a letter or digit)\n")
    }

    @Test func oversizedAndMissingFiles() throws {
        let big = FileManager.default.temporaryDirectory.appendingPathComponent("weft-big-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: big) }
        try Data(repeating: UInt8(ascii: "a"), count: 9 * 1024 * 1024).write(to: big)
        let outcome = try Self.run(["validate", "-f", big.path, "-f", "/nonexistent/x.yaml"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr == "\(big.path): input is larger than 8388608 bytes\n/nonexistent/x.yaml: cannot open the file\n")
    }

    @Test func helpAndUsageErrors() throws {
        let help = try Self.run(["validate", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("-f, --filename <path>"))
        let missing = try Self.run(["validate"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("Missing expected argument '--filename <path> ...'"))
    }
}
