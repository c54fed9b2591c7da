import NIOCore

/// The bytes of one flow that wait for their delivery time, in arrival order, and the pacing state that computes it.
///
/// Pure bookkeeping: the owning ``ProxyConnection`` does the I/O and the timers. Only used on one event loop.
struct ProxyLink {
    private struct Chunk {
        let due: NIODeadline
        let bytes: ByteBuffer
    }

    private var chunks = CircularBuffer<Chunk>()
    /// Bytes waiting, for back-pressure on the sender.
    private(set) var queuedBytes = 0
    /// Delivery times never go backwards, so chunks leave in order even with jitter.
    private var lastDue = NIODeadline.uptimeNanoseconds(0)
    /// When the paced "wire" is free to carry the next slice.
    private var wireFreeAt = NIODeadline.uptimeNanoseconds(0)

    var isEmpty: Bool { chunks.isEmpty }

    /// When the first chunk is due, if any.
    var nextDue: NIODeadline? { chunks.first?.due }

    /// Queues `bytes` received at `now` under `conditions`.
    mutating func enqueue(_ bytes: ByteBuffer, at now: NIODeadline, conditions: LinkConditions) {
        var rest = bytes
        // Slices of about 10 ms each, so a paced transfer trickles instead of arriving in one late burst.
        let sliceLength = conditions.bytesPerSecond.map { max($0 / 100, 1) } ?? max(rest.readableBytes, 1)
        while rest.readableBytes > 0, let slice = rest.readSlice(length: min(sliceLength, rest.readableBytes)) {
            var departure = now
            if let rate = conditions.bytesPerSecond {
                let start = max(now, wireFreeAt)
                let nanoseconds = Int64(slice.readableBytes) * 1_000_000_000 / Int64(rate)
                departure = start + .nanoseconds(nanoseconds)
                wireFreeAt = departure
            }
            var due = departure + TimeAmount(conditions.latency)
            if conditions.jitter > .zero {
                due = due + .nanoseconds(Int64.random(in: 0...TimeAmount(conditions.jitter).nanoseconds))
            }
            due = max(due, lastDue)
            lastDue = due
            chunks.append(Chunk(due: due, bytes: slice))
            queuedBytes += slice.readableBytes
        }
    }

    /// Removes and returns every chunk due at `now`, in order.
    mutating func takeDue(at now: NIODeadline) -> [ByteBuffer] {
        var due: [ByteBuffer] = []
        while let first = chunks.first, first.due <= now {
            chunks.removeFirst()
            queuedBytes -= first.bytes.readableBytes
            due.append(first.bytes)
        }
        return due
    }

    /// Drops everything queued (the pacing state is kept, so order still holds for what comes next).
    mutating func removeAll() {
        chunks.removeAll()
        queuedBytes = 0
    }
}
