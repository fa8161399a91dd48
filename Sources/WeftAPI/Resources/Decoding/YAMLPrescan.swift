/// A single pass over YAML text, before any YAML library sees it, that refuses what would make
/// composition expensive: anchors and aliases (the "billion laughs" expansion) and nesting so deep
/// that a recursive composer could exhaust its stack.
///
/// It is deliberately conservative. Kubernetes manifests do not need anchors; a document that uses
/// them is refused with the line to fix rather than expanded.
struct YAMLPrescan {
    struct Failure: Error {
        let line: Int
        let message: String
    }

    /// Checks `text`; `depthBudget` bounds the nesting estimated from indentation, sequence
    /// indicators and flow brackets.
    static func check(_ text: String, maximumDepth: Int) throws(Failure) {
        let depthBudget = 4 * maximumDepth
        var blockScalarIndent: Int? = nil
        var flowDepth = 0
        var lineNumber = 0
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let indent = line.prefix(while: { $0 == UInt8(ascii: " ") }).count
            let isBlank = line.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }
            if let parent = blockScalarIndent {
                if isBlank || indent > parent { continue }
                blockScalarIndent = nil
            }
            if line.starts(with: Array("---".utf8)) || line.starts(with: Array("...".utf8)) {
                flowDepth = 0
            }
            let (sequenceIndicators, deepestFlow) = try scan(line, lineNumber: lineNumber, indent: indent,
                                                           flowDepth: &flowDepth, blockScalarIndent: &blockScalarIndent)
            if deepestFlow > maximumDepth || 2 * indent + sequenceIndicators + deepestFlow > depthBudget {
                throw Failure(line: lineNumber, message: "nesting is deeper than \(maximumDepth) levels")
            }
        }
    }

    /// Scans one line outside block scalars: refuses anchors and aliases, follows quotes, flow
    /// brackets and block scalar headers; returns its sequence indicators and deepest flow level.
    private static func scan(_ line: Substring.UTF8View.SubSequence, lineNumber: Int, indent: Int, flowDepth: inout Int,
                             blockScalarIndent: inout Int?) throws(Failure) -> (sequenceIndicators: Int, deepestFlow: Int) {
        var state = LineState()
        var sequenceIndicators = 0
        var deepestFlow = flowDepth
        var index = line.startIndex
        while index < line.endIndex {
            let byte = line[index]
            let next = line.index(after: index) < line.endIndex ? line[line.index(after: index)] : nil
            if let quote = state.quote {
                if byte == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") {
                    index = line.index(after: index)
                } else if byte == quote {
                    if quote == UInt8(ascii: "'") && next == UInt8(ascii: "'") {
                        index = line.index(after: index)
                    } else {
                        state.quote = nil
                    }
                }
                index = line.index(after: index)
                continue
            }
            let isSpace = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
            if byte == UInt8(ascii: "#") && (index == line.startIndex || state.previousWasSpace) { break }
            if state.atTokenStart && !isSpace {
                switch byte {
                case UInt8(ascii: "&"):
                    throw Failure(line: lineNumber, message: "YAML anchors (&) are not accepted; write the value out")
                case UInt8(ascii: "*"):
                    throw Failure(line: lineNumber, message: "YAML aliases (*) are not accepted; write the value out (a value starting with '*' must be quoted)")
                case UInt8(ascii: "\""), UInt8(ascii: "'"):
                    state.quote = byte
                    state.atTokenStart = false
                case UInt8(ascii: "|"), UInt8(ascii: ">"):
                    if line[index...].dropFirst().allSatisfy({ isBlockScalarHeader($0) }) {
                        blockScalarIndent = indent
                    }
                    state.atTokenStart = false
                case UInt8(ascii: "-"), UInt8(ascii: "?"):
                    if next == nil || next == UInt8(ascii: " ") {
                        if byte == UInt8(ascii: "-") { sequenceIndicators += 1 }
                    } else {
                        state.atTokenStart = false
                    }
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    flowDepth += 1
                    deepestFlow = max(deepestFlow, flowDepth)
                default:
                    state.atTokenStart = false
                }
            } else if !isSpace {
                switch byte {
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    if flowDepth > 0 {
                        flowDepth += 1
                        deepestFlow = max(deepestFlow, flowDepth)
                        state.atTokenStart = true
                    }
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    if flowDepth > 0 { flowDepth -= 1 }
                case UInt8(ascii: ","):
                    if flowDepth > 0 { state.atTokenStart = true }
                case UInt8(ascii: ":"):
                    if next == nil || next == UInt8(ascii: " ") || (flowDepth > 0 && next == UInt8(ascii: ",")) {
                        state.atTokenStart = true
                    }
                default:
                    break
                }
            }
            state.previousWasSpace = isSpace
            index = line.index(after: index)
        }
        return (sequenceIndicators, deepestFlow)
    }

    private struct LineState {
        var quote: UInt8? = nil
        var atTokenStart = true
        var previousWasSpace = true
    }

    private static func isBlockScalarHeader(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"),
            UInt8(ascii: " "), UInt8(ascii: "\r"):
            true
        default:
            false
        }
    }
}
