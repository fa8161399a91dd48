import Yams

/// Why YAML text could not be read into documents.
public struct YAMLReadError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The 1-based line the problem is on, when known.
    public let line: Int?
    public let message: String

    public var description: String {
        if let line { return "line \(line): \(message)" }
        return message
    }
}

/// Splits YAML text into documents, within ``ManifestLimits``.
///
/// Every scalar is kept as text: booleans, numbers and nulls are interpreted later by
/// ``StrictDecoder`` according to the field they land in, so `on`, `no` or `0o777` cannot slip
/// through as something the author did not mean.
enum YAMLDocumentReader {
    /// The documents of `text`, empty ones (a lone `---`) dropped.
    static func documents(in text: String, limits: ManifestLimits) throws(YAMLReadError) -> [Node] {
        guard text.utf8.count <= limits.maximumInputBytes else {
            throw YAMLReadError(line: nil, message: "input is larger than \(limits.maximumInputBytes) bytes")
        }
        do {
            try YAMLPrescan.check(text, maximumDepth: limits.maximumDepth)
        } catch {
            throw YAMLReadError(line: error.line, message: error.message)
        }
        var documents: [Node] = []
        do {
            let parser = try Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .utf8)
            while let root = try parser.nextRoot() {
                if case .scalar(let scalar) = root, scalar.style == Node.Scalar.Style.plain, scalar.string.isEmpty { continue }
                guard documents.count < limits.maximumDocuments else {
                    throw YAMLReadError(line: root.mark?.line, message: "more than \(limits.maximumDocuments) documents")
                }
                try checkShape(of: root, limits: limits)
                documents.append(root)
            }
        } catch let error as YAMLReadError {
            throw error
        } catch let error as YamlError {
            throw YAMLReadError(yams: error)
        } catch {
            throw YAMLReadError(line: nil, message: "cannot read YAML: \(error)")
        }
        return documents
    }

    /// Walks a document once, bounding its depth, node count and scalar sizes.
    private static func checkShape(of root: Node, limits: ManifestLimits) throws(YAMLReadError) {
        var nodes = 0
        var stack: [(Node, Int)] = [(root, 1)]
        while let (node, depth) = stack.popLast() {
            nodes += 1
            if nodes > limits.maximumNodesPerDocument {
                throw YAMLReadError(line: node.mark?.line, message: "document has more than \(limits.maximumNodesPerDocument) nodes")
            }
            if depth > limits.maximumDepth {
                throw YAMLReadError(line: node.mark?.line, message: "nesting is deeper than \(limits.maximumDepth) levels")
            }
            switch node {
            case .scalar(let scalar):
                if scalar.string.utf8.count > limits.maximumScalarBytes {
                    throw YAMLReadError(line: node.mark?.line, message: "a value is longer than \(limits.maximumScalarBytes) bytes")
                }
            case .mapping(let mapping):
                for (key, value) in mapping {
                    stack.append((key, depth + 1))
                    stack.append((value, depth + 1))
                }
            case .sequence(let sequence):
                for element in sequence { stack.append((element, depth + 1)) }
            case .alias:
                throw YAMLReadError(line: node.mark?.line, message: "YAML aliases (*) are not accepted; write the value out")
            }
        }
    }
}

extension YAMLReadError {
    init(yams error: YamlError) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            self.init(line: mark.line, message: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            self.init(line: context.mark.line > 0 ? context.mark.line : nil, message: "duplicate key \(keys) (first seen on this line)")
        case .reader(let problem, _, _, _):
            self.init(line: nil, message: "invalid YAML input: \(problem)")
        default:
            self.init(line: nil, message: "invalid YAML: \(error)")
        }
    }
}
