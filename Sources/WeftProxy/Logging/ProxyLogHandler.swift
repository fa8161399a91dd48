import Logging
import WeftCore

/// Writes one line per log record to standard error, as plain text or JSON
/// (`LINKERD2_PROXY_LOG_FORMAT`).
public struct ProxyLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String
    let format: ProxyConfiguration.LogFormat

    public init(label: String, format: ProxyConfiguration.LogFormat) {
        self.label = label
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let time = WallClock.timestamp()
        let line: String
        switch format {
        case .plain:
            let pairs = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(time) \(event.level.rawValue.uppercased()) \(label): \(event.message)\(pairs.isEmpty ? "" : " " + pairs)\n"
        case .json:
            var entries = [("timestamp", time), ("level", event.level.rawValue.uppercased()), ("target", label), ("message", "\(event.message)")]
            entries += fields.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
            line = "{" + entries.map { "\(JSONText.quote($0.0)):\(JSONText.quote($0.1))" }.joined(separator: ",") + "}\n"
        }
        SystemFiles.writeToStandardError(line)
    }
}
