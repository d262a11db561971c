import CZlib

/// gzip (RFC 1952) through zlib, for response bodies over ``minimumSize`` sent to clients that
/// accept it, and for request bodies sent with `Content-Encoding: gzip`.
enum Gzip {
    /// Bodies smaller than this are sent as they are: compressing them gains little.
    static let minimumSize = 1024

    /// Whether an `Accept-Encoding` field value accepts gzip (`gzip` or `*` with q > 0).
    static func accepted(by acceptEncoding: String?) -> Bool {
        guard let value = acceptEncoding else { return false }
        for item in value.split(separator: ",") {
            let parts = item.split(separator: ";").map { String($0.filter { $0 != " " && $0 != "\t" }).lowercased() }
            guard let coding = parts.first, coding == "gzip" || coding == "*" else { continue }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if q > 0 { return true }
        }
        return false
    }

    /// `bytes` compressed as one gzip member, or nil if zlib refuses.
    static func compress(_ bytes: [UInt8]) -> [UInt8]? {
        var stream = z_stream()
        // windowBits 15 + 16 asks zlib for the gzip wrapper.
        guard deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 32)
        var input = bytes
        let status: Int32 = input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = inp.baseAddress
                stream.avail_in = uInt(inp.count)
                stream.next_out = o.baseAddress
                stream.avail_out = uInt(o.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { return nil }
        return Array(out.prefix(Int(stream.total_out)))
    }

    /// Why a gzip body could not be decoded.
    enum DecodingFailure: Error, Equatable {
        /// It inflates to more than the limit (a decompression bomb, or just too large).
        case tooLarge
        /// It is not gzip, or it is truncated or corrupt.
        case malformed
    }

    /// `bytes` — one or more gzip members — inflated, never holding more than `limit` output
    /// bytes: inflation stops as soon as the output would pass the limit, so a small body that
    /// inflates to gigabytes costs at most `limit` bytes and proportional time.
    static func decompress(_ bytes: [UInt8], limit: Int) -> Result<[UInt8], DecodingFailure> {
        guard !bytes.isEmpty else { return .failure(.malformed) }
        var stream = z_stream()
        // windowBits 15 + 16: gzip wrapper only (not raw or zlib deflate).
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return .failure(.malformed) }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = bytes
        return input.withUnsafeMutableBufferPointer { inp -> Result<[UInt8], DecodingFailure> in
            stream.next_in = inp.baseAddress
            stream.avail_in = uInt(inp.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { out -> (Int32, Int) in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return (status, out.count - Int(stream.avail_out))
                }
                guard produced <= limit - output.count else { return .failure(.tooLarge) }
                output.append(contentsOf: chunk[..<produced])
                switch status {
                case Z_STREAM_END:
                    // Another member may follow (RFC 1952 §2.2); anything else is refused.
                    guard stream.avail_in > 0 else { return .success(output) }
                    guard inflateReset(&stream) == Z_OK else { return .failure(.malformed) }
                case Z_OK:
                    continue
                case Z_BUF_ERROR where produced > 0:
                    continue
                default:
                    return .failure(.malformed)
                }
            }
        }
    }

    /// How a request body is encoded, from its `Content-Encoding` field: `nil` when the server
    /// cannot decode it (anything but no coding, `identity` or one `gzip`).
    static func requestCoding(_ contentEncoding: [String]) -> RequestCoding? {
        let codings = contentEncoding.filter { $0 != "identity" }
        switch codings {
        case []: return .identity
        case ["gzip"], ["x-gzip"]: return .gzip
        default: return nil
        }
    }

    /// A request body's coding that the server decodes.
    enum RequestCoding { case identity, gzip }
}
