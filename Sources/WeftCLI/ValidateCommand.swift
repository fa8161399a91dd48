import ArgumentParser
import Foundation
import WeftAPI

/// `weft validate -f FILE|DIR|-`: reads manifests exactly as the controller will and reports every
/// problem, without changing anything.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check resource manifests without applying them.",
        discussion: """
            Each file is read as multi-document YAML (or JSON) with the same limits and rules as \
            the controller: unknown kinds, versions and fields are errors, and a file with any \
            error is refused as a whole. Exit status: 0 when every file is valid, 1 otherwise.
            """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("A file, a directory of .yaml/.yml/.json files, or - for standard input.", valueName: "path"))
    var filename: [String]

    @Flag(name: [.customShort("R"), .long], help: "Also read the directories inside a directory.")
    var recursive = false

    @Flag(name: .shortAndLong, help: "Print only errors.")
    var quiet = false

    mutating func run() throws {
        var failed = false
        let decoder = ManifestDecoder()
        for source in try ManifestSources.expand(filename, recursive: recursive) {
            do {
                let text = try ManifestSources.read(source, limit: decoder.limits.maximumInputBytes)
                let resources = try decoder.decode(text, source: source)
                if !quiet {
                    print("\(source): \(resources.count) valid resource\(resources.count == 1 ? "" : "s")")
                    for resource in resources {
                        print("  \(resource.label) (\(resource.apiVersion))")
                    }
                }
            } catch let error as ManifestError {
                failed = true
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
            } catch let error as ManifestSources.ReadError {
                failed = true
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
            }
        }
        if failed { throw ExitCode.failure }
    }
}
