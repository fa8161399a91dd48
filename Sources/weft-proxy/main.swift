// weft-proxy: the data-plane microproxy. Configured only by LINKERD2_PROXY_* and WEFT_PROXY_*
// environment variables; see README.md.
import Foundation
import Logging
import WeftProxy

let environment = ProcessInfo.processInfo.environment
let configuration: ProxyConfiguration
do {
    configuration = try ProxyConfiguration(environment: environment)
} catch {
    FileHandle.standardError.write(Data("weft-proxy: \(error)\n".utf8))
    exit(2)
}

let level = configuration.logLevel
let format = configuration.logFormat
LoggingSystem.bootstrap { label in
    var handler = ProxyLogHandler(label: label, format: format)
    handler.logLevel = level
    return handler
}
let logger = Logger(label: "weft-proxy")

do {
    try await ProxyApplication(configuration: configuration, environment: environment, logger: logger).run()
} catch {
    logger.error("stopped", metadata: ["error": "\(error)"])
    exit(1)
}
