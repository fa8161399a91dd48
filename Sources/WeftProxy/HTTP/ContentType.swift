/// What a request's `content-type` says about it, read without copying or lowercasing it.
enum ContentType {
    private static let grpcPrefix = Array("application/grpc".utf8)

    /// Whether `value` is a gRPC content type (`application/grpc`, `application/grpc+proto`…,
    /// in any case).
    static func isGRPC(_ value: String?) -> Bool {
        guard let value else { return false }
        var bytes = value.utf8.makeIterator()
        for expected in grpcPrefix {
            guard let byte = bytes.next(), byte.asciiLowercased == expected else { return false }
        }
        return true
    }
}

extension UInt8 {
    /// The byte with an ASCII capital letter made small; any other byte as it is.
    var asciiLowercased: UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self) ? self | 0x20 : self
    }
}
