/// The bytes received but not yet parsed, read as CRLF-terminated lines or as raw body bytes.
///
/// Finding a line's end resumes where the previous search stopped, so a line that arrives one
/// byte at a time costs linear, not quadratic, time.
struct InputBuffer: Sendable {
    private var bytes: [UInt8] = []
    /// The index of the first unread byte.
    private var readIndex = 0
    /// The index from which the search for the next LF resumes; bytes before it hold no LF.
    private var scanIndex = 0

    /// The number of unread bytes.
    var count: Int { bytes.count - readIndex }

    /// Whether every received byte has been read.
    var isEmpty: Bool { count == 0 }

    /// Adds received bytes after the unread ones.
    mutating func append<Bytes: Sequence<UInt8>>(contentsOf newBytes: Bytes) {
        bytes.append(contentsOf: newBytes)
    }

    /// Forgets every unread byte.
    mutating func removeAll() {
        bytes.removeAll()
        readIndex = 0
        scanIndex = 0
    }

    /// Reads the next line if its CRLF has arrived, returning its content without the CRLF.
    ///
    /// Returns `nil` when the line is still incomplete and could still fit `maxLength`.
    ///
    /// - Throws: `tooLong` once the line's content is known to exceed `maxLength` bytes, whether
    ///   or not its end has arrived (checked first, so the error does not depend on how the
    ///   bytes were split); ``HTTPParseError/bareLF`` for an LF without CR;
    ///   ``HTTPParseError/bareCR`` for a CR inside the line.
    mutating func readLine(maxLength: Int, tooLong: HTTPParseError) throws(HTTPParseError) -> ArraySlice<UInt8>? {
        guard let lf = bytes[scanIndex...].firstIndex(of: HTTPSyntax.lf) else {
            scanIndex = bytes.count
            // Without its LF the line holds at least `count - 1` content bytes (the last may be its CR).
            if count - 1 > maxLength { throw tooLong }
            return nil
        }
        guard lf > readIndex, bytes[lf - 1] == HTTPSyntax.cr else {
            if lf - readIndex > maxLength { throw tooLong }
            throw .bareLF
        }
        let line = bytes[readIndex..<(lf - 1)]
        if line.count > maxLength { throw tooLong }
        if line.contains(HTTPSyntax.cr) { throw .bareCR }
        readIndex = lf + 1
        scanIndex = readIndex
        return line
    }

    /// Reads up to `maxCount` bytes, as many as have arrived.
    mutating func read(upTo maxCount: Int) -> ArraySlice<UInt8> {
        let end = readIndex + min(maxCount, count)
        let slice = bytes[readIndex..<end]
        readIndex = end
        scanIndex = end
        return slice
    }

    /// Drops read bytes from storage once they dominate it, keeping appends amortised O(1).
    mutating func compact() {
        if readIndex == bytes.count {
            bytes.removeAll(keepingCapacity: bytes.capacity <= 64 * 1024)
            readIndex = 0
            scanIndex = 0
        } else if readIndex >= 4096 && readIndex * 2 >= bytes.count {
            bytes.removeSubrange(..<readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
    }
}
