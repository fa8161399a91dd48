/// One sample of Prometheus' text format: `name{label="value",...} 12.5`.
struct MetricSample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// A reader of the Prometheus text exposition format, as proxies' `/metrics` write it: comments
/// and timestamps are skipped, label values unescaped; a malformed line is an error naming it.
enum PrometheusText {
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    /// The most samples read from one answer.
    static let maximumSamples = 200_000

    static func parse(_ text: String) throws -> [MetricSample] {
        var samples: [MetricSample] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard samples.count < maximumSamples else { throw ParseError(description: "more than \(maximumSamples) samples") }
            guard let sample = sample(Substring(line)) else { throw ParseError(description: "line \(index + 1) is not a sample: \(line.prefix(120))") }
            samples.append(sample)
        }
        return samples
    }

    private static func sample(_ line: Substring) -> MetricSample? {
        var rest = line
        let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
        let name = String(rest[..<nameEnd])
        guard !name.isEmpty else { return nil }
        rest = rest[nameEnd...]
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while true {
                rest = rest.drop { $0 == " " || $0 == "," }
                if rest.first == "}" {
                    rest = rest.dropFirst()
                    break
                }
                guard let equals = rest.firstIndex(of: "=") else { return nil }
                let key = String(rest[..<equals]).trimmingCharacters(in: .whitespaces)
                rest = rest[rest.index(after: equals)...]
                guard rest.first == "\"" else { return nil }
                rest = rest.dropFirst()
                var value = ""
                var escaped = false
                var closed = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped {
                        value.append(character == "n" ? "\n" : character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        closed = true
                        break
                    } else {
                        value.append(character)
                    }
                }
                guard closed, !key.isEmpty else { return nil }
                labels[key] = value
            }
        }
        let fields = rest.split(separator: " ", omittingEmptySubsequences: true)
        guard let first = fields.first else { return nil }
        let value: Double
        switch first {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let parsed = Double(first) else { return nil }
            value = parsed
        }
        return MetricSample(name: name, labels: labels, value: value)
    }
}
