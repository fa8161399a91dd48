import NIOHPACK
import NIOHTTP1

// NIO's `remove(name:)` writes the header list even when the name is absent, which copies a
// list shared with the message it came from. The proxy removes only what is there.

extension HTTPHeaders {
    /// Removes every `name` field (case-insensitive), touching the list only if there is one.
    mutating func removeIfPresent(name: String) {
        if contains(name: name) { remove(name: name) }
    }
}

extension HPACKHeaders {
    /// Removes every `name` field (case-insensitive), touching the list only if there is one.
    mutating func removeIfPresent(name: String) {
        if contains(name: name) { remove(name: name) }
    }
}
