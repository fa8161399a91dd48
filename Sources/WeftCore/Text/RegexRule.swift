/// Checks a regular expression from a user's route before anything matches with it.
///
/// Patterns whose matching could backtrack catastrophically — a quantified group that itself
/// contains a quantifier, such as `(a+)+$` — are refused, as are patterns that do not compile and
/// patterns longer than 1024 bytes.
public enum RegexRule {
    public static let maximumLength = 1024

    /// `nil` when `pattern` is acceptable, else why not.
    public static func problem(with pattern: String) -> String? {
        guard pattern.utf8.count <= maximumLength else {
            return "regular expression is longer than \(maximumLength) bytes"
        }
        if hasNestedQuantifier(pattern) {
            return "regular expression \"\(pattern.prefix(64))\" nests quantifiers (like (a+)+), which can take exponential time"
        }
        do {
            _ = try Regex(pattern)
        } catch {
            return "\"\(pattern.prefix(64))\" is not a valid regular expression"
        }
        return nil
    }

    /// Whether a group containing a quantifier is itself followed by a quantifier.
    static func hasNestedQuantifier(_ pattern: String) -> Bool {
        var groupHasQuantifier: [Bool] = []
        var escaped = false
        var inClass = false
        var lastClosedGroupHadQuantifier = false
        for character in pattern {
            if escaped {
                escaped = false
                lastClosedGroupHadQuantifier = false
                continue
            }
            switch character {
            case "\\":
                escaped = true
            case "[" where !inClass:
                inClass = true
            case "]" where inClass:
                inClass = false
                lastClosedGroupHadQuantifier = false
            case _ where inClass:
                continue
            case "(":
                groupHasQuantifier.append(false)
                lastClosedGroupHadQuantifier = false
            case ")":
                lastClosedGroupHadQuantifier = groupHasQuantifier.popLast() ?? false
                if lastClosedGroupHadQuantifier, !groupHasQuantifier.isEmpty {
                    groupHasQuantifier[groupHasQuantifier.count - 1] = true
                }
                continue
            case "*", "+", "{":
                if lastClosedGroupHadQuantifier { return true }
                if !groupHasQuantifier.isEmpty { groupHasQuantifier[groupHasQuantifier.count - 1] = true }
            case "?":
                break
            default:
                lastClosedGroupHadQuantifier = false
            }
            if character != ")" && character != "?" { lastClosedGroupHadQuantifier = false }
        }
        return false
    }
}
