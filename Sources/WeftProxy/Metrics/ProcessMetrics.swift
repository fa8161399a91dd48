#if canImport(Glibc)
import Glibc
#endif

/// `process_*` metrics read from /proc, and `proxy_build_info`.
enum ProcessMetrics {
    static let startTime = WallClock.secondsSinceEpoch()

    static func render(version: String) -> String {
        var text = "# HELP proxy_build_info Proxy build info\n# TYPE proxy_build_info gauge\n"
        text += "proxy_build_info{version=\"\(version)\",vendor=\"weft\"} 1\n"
        text += "# HELP process_start_time_seconds Time that the process started (in seconds since the UNIX epoch)\n"
        text += "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds \(Int(startTime))\n"
        #if os(Linux)
        if let bytes = SystemFiles.read("/proc/self/stat", limit: 4096),
           case let stat = String(decoding: bytes, as: UTF8.self), let close = stat.lastIndex(of: ")") {
            // Fields after the command name: state is field 3; utime 14, stime 15, rss 24.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            if fields.count > 21, let user = Double(fields[11]), let system = Double(fields[12]), let pages = Double(fields[21]) {
                text += "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
                text += "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total \((user + system) / ticks)\n"
                text += "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                text += "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes \(Int(pages) * Int(sysconf(Int32(_SC_PAGESIZE))))\n"
            }
        }
        // (Less the descriptor that reads the directory.)
        if let entries = SystemFiles.entryCount("/proc/self/fd") {
            text += "# HELP process_open_fds Number of open file descriptors.\n# TYPE process_open_fds gauge\nprocess_open_fds \(entries - 1)\n"
        }
        #endif
        return text
    }
}
