import Foundation

/// What a proxy says about itself in `GetDestination.context_token`
/// (`LINKERD2_PROXY_DESTINATION_CONTEXT`) or in a policy `workload` string
/// (`LINKERD2_PROXY_POLICY_WORKLOAD`), parsed leniently as Linkerd's controllers do: JSON such as
/// `{"ns":"shop","pod":"web-1"}` or `{"ns":"shop","external_workload":"web-1"}` (whitespace and
/// a trailing newline allowed), or the legacy `ns:<ns>` / `<ns>:<pod>`.
public struct ContextToken: Sendable, Equatable {
    public var namespace: String?
    public var pod: String?
    public var externalWorkload: String?

    public init(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("{"),
           let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] {
            namespace = (object["ns"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            pod = (object["pod"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            externalWorkload = (object["external_workload"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            return
        }
        let parts = trimmed.split(separator: ":", maxSplits: 1).map(String.init)
        if parts.count == 2 {
            namespace = parts[0] == "ns" ? parts[1] : parts[0]
            pod = parts[0] == "ns" ? nil : parts[1]
        }
    }
}
