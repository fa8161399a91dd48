import Synchronization

/// The controller's own metrics, served in Prometheus text format on its admin port: open
/// watches per API, updates sent and their computation latency, store write errors.
public final class ControllerMetrics: Sendable {
    private struct State {
        var watches: [String: Int] = [:]
        var updates: [String: Int] = [:]
        var latencySeconds: [String: Double] = [:]
        var storeWriteErrors: [String: Int] = [:]
        var probes: [String: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func watchStarted(_ api: String) { state.withLock { $0.watches[api, default: 0] += 1 } }
    public func watchEnded(_ api: String) { state.withLock { $0.watches[api, default: 0] -= 1 } }

    public func updateSent(_ api: String, latency: Duration) {
        let seconds = Double(latency.components.seconds) + Double(latency.components.attoseconds) / 1e18
        state.withLock {
            $0.updates[api, default: 0] += 1
            $0.latencySeconds[api, default: 0] += seconds
        }
    }

    public func storeWriteFailed(_ code: String) { state.withLock { $0.storeWriteErrors[code, default: 0] += 1 } }
    public func probed(_ result: String) { state.withLock { $0.probes[result, default: 0] += 1 } }

    /// The Prometheus exposition text.
    public func render(storeObjects: Int, storeVersion: UInt64) -> String {
        let state = state.withLock { $0 }
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ values: [String: some Numeric & CustomStringConvertible], label: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (key, value) in values.sorted(by: { $0.key < $1.key }) { text += "\(name){\(label)=\"\(key)\"} \(value)\n" }
        }
        family("weft_controller_watches", "gauge", "Open watch streams per API.", state.watches, label: "api")
        family("weft_controller_updates_total", "counter", "Updates sent on watch streams per API.", state.updates, label: "api")
        family("weft_controller_update_latency_seconds_sum", "counter",
               "Time spent computing the updates sent, per API (divide by updates_total for the mean).", state.latencySeconds, label: "api")
        family("weft_controller_store_write_errors_total", "counter", "Store writes that failed, by error code.", state.storeWriteErrors, label: "code")
        family("weft_controller_workload_probes_total", "counter", "ExternalWorkload health probes, by result.", state.probes, label: "result")
        text += "# HELP weft_controller_store_objects Objects in the store.\n# TYPE weft_controller_store_objects gauge\nweft_controller_store_objects \(storeObjects)\n"
        text += "# HELP weft_controller_store_resource_version The store's resource version.\n# TYPE weft_controller_store_resource_version gauge\nweft_controller_store_resource_version \(storeVersion)\n"
        return text
    }
}
