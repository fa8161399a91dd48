import NIOCore

/// Follows the frame boundaries of one direction of an HTTP/2 connection's bytes, without
/// copying them, and reports each GOAWAY's error code.
///
/// Feed it every byte in order (chunks may split anywhere, even inside a frame header).
struct HTTP2FrameScanner {
    /// A GOAWAY seen in the bytes, with its error code.
    struct GoAway: Equatable {
        var errorCode: UInt32
    }

    private enum State {
        /// Inside bytes that are not frames (the client preface), with this many left.
        case skipping(Int)
        /// Collecting a frame header; `collected` bytes of it so far.
        case header(collected: Int)
        /// Inside a frame's payload, with this many bytes left. For a GOAWAY, the first 8
        /// payload bytes (last stream ID, error code) are collected.
        case payload(remaining: Int, isGoAway: Bool, collected: Int)
    }

    private static let prefaceLength = 24
    private static let headerLength = 9

    private var state: State
    /// The bytes of a header, or the start of a GOAWAY payload, split across chunks.
    private var scratch: UInt64 = 0
    private var frameLength = 0

    /// - Parameter skippingClientPreface: the bytes start with the 24-byte client preface
    ///   (a client's outbound direction).
    init(skippingClientPreface: Bool) {
        state = skippingClientPreface ? .skipping(Self.prefaceLength) : .header(collected: 0)
    }

    /// Scans `bytes`, returning the GOAWAY frames whose first 8 payload bytes ended in them.
    mutating func scan(_ bytes: ByteBuffer) -> [GoAway] {
        var found: [GoAway] = []
        var index = bytes.readerIndex
        let end = bytes.writerIndex
        while index < end {
            switch state {
            case .skipping(let left):
                let taken = min(left, end - index)
                index += taken
                state = left == taken ? .header(collected: 0) : .skipping(left - taken)
            case .header(var collected):
                while collected < Self.headerLength, index < end {
                    let byte = bytes.getInteger(at: index, as: UInt8.self)!
                    if collected < 3 { frameLength = frameLength << 8 | Int(byte) }
                    if collected == 3 { scratch = UInt64(byte) }  // the frame type
                    collected += 1
                    index += 1
                }
                if collected < Self.headerLength {
                    state = .header(collected: collected)
                } else {
                    state = .payload(remaining: frameLength, isGoAway: scratch == 0x7, collected: 0)
                    scratch = 0
                    frameLength = 0
                }
            case .payload(var remaining, let isGoAway, var collected):
                if isGoAway {
                    while collected < 8, remaining > 0, index < end {
                        scratch = scratch << 8 | UInt64(bytes.getInteger(at: index, as: UInt8.self)!)
                        collected += 1
                        remaining -= 1
                        index += 1
                    }
                    if collected == 8 {
                        found.append(GoAway(errorCode: UInt32(truncatingIfNeeded: scratch)))
                        scratch = 0
                        collected = 9  // reported
                    }
                }
                let skipped = min(remaining, end - index)
                index += skipped
                remaining -= skipped
                state = remaining == 0 ? .header(collected: 0) : .payload(remaining: remaining, isGoAway: isGoAway, collected: collected)
            }
        }
        // A frame with an empty payload ends at its header.
        if case .payload(0, _, _) = state { state = .header(collected: 0) }
        return found
    }
}
