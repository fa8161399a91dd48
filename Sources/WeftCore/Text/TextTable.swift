/// Rows of text in aligned columns, as kubectl prints them: each column as wide as its widest
/// cell plus three spaces, the last one unpadded.
public enum TextTable {
    public static func render(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] + 3 - cell.count)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}
