import Foundation
import WeftAPI
import WeftCore
import Yams

/// How `weft get` shows objects: YAML documents (which `weft apply` takes back), JSON, or a table
/// with kubectl's columns.
struct ObjectPrinter {
    let now: Date

    func yaml(_ objects: [Resource]) throws -> String {
        let encoder = YAMLEncoder()
        encoder.options.sortKeys = true
        return try objects.map { try encoder.encode($0.object) }.joined(separator: "---\n")
    }

    func json(_ objects: [Resource], single: Bool) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if single, let object = objects.first {
            return String(decoding: try encoder.encode(object.object), as: UTF8.self) + "\n"
        }
        let items = try objects.map { try JSONSerialization.jsonObject(with: encoder.encode($0.object)) }
        let list: [String: Any] = ["apiVersion": "v1", "kind": "List", "items": items]
        let data = try JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    func table(_ objects: [Resource], kind: String, showNamespace: Bool, wide: Bool) -> String {
        guard !objects.isEmpty else { return "No resources found.\n" }
        var header = showNamespace ? ["NAMESPACE", "NAME"] : ["NAME"]
        var rows: [[String]] = []
        let extra = columns(kind: kind, wide: wide)
        header += extra.map(\.title) + ["AGE"]
        for object in objects {
            var row = showNamespace ? [object.metadata.namespace ?? "", object.metadata.name ?? ""] : [object.metadata.name ?? ""]
            row += extra.map { $0.value(object) }
            row.append(age(object.metadata.creationTimestamp))
            rows.append(row)
        }
        return TextTable.render(header, rows)
    }

    private struct Column {
        let title: String
        let value: (Resource) -> String
    }

    private func columns(kind: String, wide: Bool) -> [Column] {
        switch kind {
        case Service.kind:
            var columns = [Column(title: "PORT(S)") { resource in
                guard case .service(let service) = resource else { return "" }
                return (service.spec.ports ?? []).map { "\($0.port.value)/\(($0.protocol ?? .tcp).rawValue)" }.joined(separator: ",")
            }]
            if wide {
                columns.append(Column(title: "SELECTOR") { resource in
                    guard case .service(let service) = resource else { return "" }
                    return (service.spec.selector ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                })
            }
            return columns
        case ExternalWorkload.kind:
            var columns = [
                Column(title: "IP") { resource in
                    guard case .externalWorkload(let workload) = resource else { return "" }
                    return workload.spec.workloadIPs?.first?.ip ?? "<none>"
                },
                Column(title: "READY") { resource in
                    guard case .externalWorkload(let workload) = resource else { return "" }
                    let ready = workload.status?.conditions?.first { $0.type == "Ready" }
                    return ready.map { $0.status.rawValue + ($0.reason.map { " (\($0))" } ?? "") } ?? "Unknown"
                },
            ]
            if wide {
                columns.append(Column(title: "IDENTITY") { resource in
                    guard case .externalWorkload(let workload) = resource else { return "" }
                    return workload.meshTLS?.identity ?? ""
                })
            }
            return columns
        default:
            return []
        }
    }

    private func age(_ timestamp: String?) -> String {
        guard let timestamp, let created = try? Date(timestamp, strategy: .iso8601) else { return "<unknown>" }
        let seconds = max(0, Int(now.timeIntervalSince(created)))
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<7200: return "\(seconds / 60)m"
        case ..<172_800: return "\(seconds / 3600)h"
        default: return "\(seconds / 86400)d"
        }
    }
}
