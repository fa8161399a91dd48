import WeftCore

/// Checks an IP address written as text.
enum IPAddressText {
    static func problem(_ text: String) -> String? {
        IPAddress(text) == nil ? "\"\(text)\" is not an IPv4 or IPv6 address" : nil
    }
}
