import ArgumentParser
import Foundation
import WeftAPI

/// Options every command that talks to the controller takes.
struct ControllerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The controller's management socket (default: <home>/controller.sock).",
                                            valueName: "path"))
    var socket: String?

    @Option(name: .long, help: ArgumentHelp("A controller on another host: HOST:PORT of its --api-addr (TLS; needs --operator).", valueName: "addr"))
    var controller: String?

    @OptionGroup var remote: RemoteControllerOptions

    @OptionGroup var home: HomeOptions

    func client() throws -> ControllerClient {
        try remote.client(controller: controller, socket: socket ?? home.weftHome.socket)
    }
}

/// Manifests named by `-f`, sent as the management API's `sources` body.
struct ManifestOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("A file, a directory of .yaml/.yml/.json files, or - for standard input.", valueName: "path"))
    var filename: [String]

    @Flag(name: [.customShort("R"), .long], help: "Also read the directories inside a directory.")
    var recursive = false

    func body() throws -> Data {
        var sources: [[String: String]] = []
        for source in try ManifestSources.expand(filename, recursive: recursive) {
            do {
                sources.append(["name": source, "text": try ManifestSources.read(source, limit: ManifestLimits.default.maximumInputBytes)])
            } catch let error as ManifestSources.ReadError {
                throw ValidationError(error.description)
            }
        }
        return try JSONSerialization.data(withJSONObject: ["sources": sources])
    }
}

/// Prints what the API answered for apply/delete (`service/web created`), or its error, and exits 1 on error.
func report(_ response: ControllerClient.Response, dryRun: Bool) throws {
    guard response.status == 200 else {
        FileHandle.standardError.write(Data(("error: " + response.errorMessage.trimmingCharacters(in: .newlines) + "\n").utf8))
        throw ExitCode.failure
    }
    let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
    for result in object?["results"] as? [[String: String]] ?? [] {
        let namespace = result["namespace"].flatMap { $0.isEmpty ? nil : $0 }
        let kind = (result["kind"] ?? "?").lowercased(), name = result["name"] ?? "?", action = result["action"] ?? "?"
        print("\(kind)/\(name)\(namespace.map { " (namespace \($0))" } ?? "") \(action)\(dryRun ? " (dry run)" : "")")
    }
}

/// `weft apply -f FILE|DIR|-`.
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create or update objects in the controller's store.",
        discussion: """
            Reads multi-document YAML (or JSON) like kubectl. The controller validates everything \
            first and stores all objects or none: one invalid document, or an object whose \
            metadata.resourceVersion is stale, changes nothing. Exit status 1 on any error.
            """)

    @OptionGroup var manifests: ManifestOptions
    @OptionGroup var controller: ControllerOptions

    @Flag(name: .customLong("dry-run"), help: "Validate and show what would change, without changing anything.")
    var dryRun = false

    func run() throws {
        let response = try controller.client().request(.POST, "/v1/apply" + (dryRun ? "?dryRun=true" : ""), body: manifests.body())
        try report(response, dryRun: dryRun)
    }
}

/// `weft delete (-f FILE | KIND NAME...)`.
struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete objects from the controller's store.",
        discussion: "Either the objects of manifests (-f), or KIND NAME... (e.g. `weft delete externalworkload web-1 -n shop`). All or nothing.")

    @Argument(help: "A kind (service, externalworkload, ew, server, serviceprofile, ...) and names.")
    var arguments: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("A file, a directory, or - for standard input.", valueName: "path"))
    var filename: [String] = []

    @Option(name: .shortAndLong, help: "The namespace of named objects.")
    var namespace = "default"

    @Flag(name: .customLong("dry-run"), help: "Show what would be deleted, without deleting.")
    var dryRun = false

    @OptionGroup var controller: ControllerOptions

    func validate() throws {
        if filename.isEmpty && arguments.count < 2 { throw ValidationError("give -f FILE, or a kind and at least one name") }
        if !filename.isEmpty && !arguments.isEmpty { throw ValidationError("give either -f FILE or a kind and names, not both") }
    }

    func run() throws {
        let client = try controller.client()
        if !filename.isEmpty {
            var manifests = try ManifestOptions.parse(filename.flatMap { ["-f", $0] })
            manifests.recursive = false
            try report(try client.request(.POST, "/v1/delete" + (dryRun ? "?dryRun=true" : ""), body: manifests.body()), dryRun: dryRun)
            return
        }
        var failed = false
        for name in arguments.dropFirst() {
            let query = Query.encode(["kind": arguments[0], "namespace": namespace, "name": name, "dryRun": dryRun ? "true" : nil])
            do {
                try report(try client.request(.DELETE, "/v1/objects?" + query), dryRun: dryRun)
            } catch is ExitCode {
                failed = true
            }
        }
        if failed { throw ExitCode.failure }
    }
}

/// `weft get KIND [NAME] [-n NS | -A] [-o yaml|json|wide]`.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show objects in the controller's store.",
        discussion: "KIND is a kind, its plural or short name (svc, ew, srv, sp, ...). `-o yaml` prints documents `weft apply` takes back.")

    @Argument(help: "The kind.")
    var kind: String

    @Argument(help: "One object's name.")
    var name: String?

    @Option(name: .shortAndLong, help: "The namespace.")
    var namespace = "default"

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Objects of every namespace.")
    var allNamespaces = false

    @Option(name: .shortAndLong, help: "table (default), wide, yaml or json.")
    var output = "table"

    @OptionGroup var controller: ControllerOptions

    func run() throws {
        let query = Query.encode(["kind": kind, "namespace": namespace, "name": name, "output": output,
                                  "allNamespaces": allNamespaces ? "true" : nil])
        let response = try controller.client().request(.GET, "/v1/objects?" + query)
        guard response.status == 200 else {
            FileHandle.standardError.write(Data(("error: " + response.errorMessage.trimmingCharacters(in: .newlines) + "\n").utf8))
            throw ExitCode.failure
        }
        FileHandle.standardOutput.write(response.body)
    }
}

/// A URL query from values (nil ones left out), percent-encoded.
enum Query {
    static func encode(_ values: [String: String?]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return values.compactMap { key, value in
            value.map { "\(key)=\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
        }.sorted().joined(separator: "&")
    }
}
