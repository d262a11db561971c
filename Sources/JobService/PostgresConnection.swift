import CLibPQ
import Foundation
import HTTPServer

/// A value bound to a statement's `$n` placeholder: text, numbers and booleans go as text,
/// bytes in binary (no escaping, no doubling of a 16 MiB spec).
enum PostgresValue: Sendable {
    case text(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case bytes([UInt8])
    case null
}

/// Why a statement failed, with PostgreSQL's SQLSTATE when the server answered.
struct PostgresError: Error, CustomStringConvertible {
    let message: String
    let sqlState: String?
    /// The connection is gone or could not be made (server down, network, restart): the
    /// store is unavailable, the request itself may be fine.
    let connectionLost: Bool

    var description: String { message }

    /// `23505`: a unique constraint (a job id or an idempotency key taken).
    var isUniqueViolation: Bool { sqlState == "23505" }
}

/// A statement's result rows, read in PostgreSQL's text format straight from libpq's buffer
/// (the result is freed with this object).
final class PostgresRows {
    private let raw: OpaquePointer

    init(_ raw: OpaquePointer) { self.raw = raw }
    deinit { PQclear(raw) }

    /// Rows returned.
    var count: Int { Int(PQntuples(raw)) }
    /// Rows an UPDATE, INSERT or DELETE touched.
    var affected: Int { Int(String(cString: PQcmdTuples(raw))) ?? 0 }

    private func column(_ name: String) -> Int32 {
        let index = PQfnumber(raw, name)
        precondition(index >= 0, "no column \(name) in the statement's result")
        return index
    }

    func isNull(_ row: Int, _ name: String) -> Bool { PQgetisnull(raw, Int32(row), column(name)) == 1 }

    func string(_ row: Int, _ name: String) -> String? {
        let c = column(name)
        guard PQgetisnull(raw, Int32(row), c) == 0 else { return nil }
        return String(cString: PQgetvalue(raw, Int32(row), c))
    }

    func int(_ row: Int, _ name: String) -> Int? { string(row, name).flatMap { Int($0) } }
    func double(_ row: Int, _ name: String) -> Double? { string(row, name).flatMap { Double($0) } }
    func bool(_ row: Int, _ name: String) -> Bool { string(row, name) == "t" }

    /// A `bytea` column (text format: `\x` and two hex digits a byte).
    func bytes(_ row: Int, _ name: String) -> [UInt8]? {
        let c = column(name)
        guard PQgetisnull(raw, Int32(row), c) == 0, let value = PQgetvalue(raw, Int32(row), c) else { return nil }
        let length = Int(PQgetlength(raw, Int32(row), c))
        guard length >= 2 else { return [] }
        return value.withMemoryRebound(to: UInt8.self, capacity: length) { text in
            func nibble(_ c: UInt8) -> UInt8 {
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
                default: c &- UInt8(ascii: "A") &+ 10
                }
            }
            return [UInt8](unsafeUninitializedCapacity: (length - 2) / 2) { buffer, initialized in
                for i in 0..<(length - 2) / 2 { buffer[i] = nibble(text[2 + 2 * i]) << 4 | nibble(text[3 + 2 * i]) }
                initialized = (length - 2) / 2
            }
        }
    }
}

/// One libpq connection (`PGconn`), used by one thread at a time (the pool hands it out).
/// Reconnects once before a statement when the server dropped it.
final class PostgresConnection {
    private let raw: OpaquePointer

    /// Connects to `url` (`postgres://user:password@host:port/database?...`, or any libpq
    /// connection string); gives up after 5 s unless the URL sets `connect_timeout`.
    init(url: String) throws(PostgresError) {
        let keywords = ["connect_timeout", "application_name", "dbname"]
        let values = ["5", "sviserve", url]
        var cKeywords = keywords.map { strdup($0) }
        var cValues = values.map { strdup($0) }
        defer { (cKeywords + cValues).forEach { free($0) } }
        cKeywords.append(nil)
        cValues.append(nil)
        let connection = cKeywords.withUnsafeBufferPointer { k in
            cValues.withUnsafeBufferPointer { v in
                k.withMemoryRebound(to: UnsafePointer<CChar>?.self) { k in
                    v.withMemoryRebound(to: UnsafePointer<CChar>?.self) { v in PQconnectdbParams(k.baseAddress, v.baseAddress, 1) }
                }
            }
        }
        guard let connection else { throw PostgresError(message: "libpq could not allocate a connection", sqlState: nil, connectionLost: true) }
        raw = connection
        guard PQstatus(raw) == CONNECTION_OK else {
            // `raw` is set, so deinit runs and finishes the connection.
            let message = Self.trimmed(PQerrorMessage(raw))
            throw PostgresError(message: "cannot connect to PostgreSQL: \(message)", sqlState: nil, connectionLost: true)
        }
        // NOTICEs ("relation already exists, skipping") are not for the service's standard error.
        PQsetNoticeProcessor(raw, { _, _ in }, nil)
    }

    deinit { PQfinish(raw) }

    /// Whether the connection is usable without reconnecting.
    var isHealthy: Bool { PQstatus(raw) == CONNECTION_OK && PQtransactionStatus(raw) == PQTRANS_IDLE }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        message.map { String(cString: $0) }?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown error"
    }

    /// Reconnects if the server dropped the connection (it restarted, or was away). An idle
    /// connection's closing is only seen by reading: `PQconsumeInput` reads without blocking
    /// and marks the connection bad at end of input, so a restarted server costs no failed
    /// statement.
    private func ensureConnected() throws(PostgresError) {
        if PQstatus(raw) == CONNECTION_OK { _ = PQconsumeInput(raw) }
        guard PQstatus(raw) != CONNECTION_OK else { return }
        PQreset(raw)
        guard PQstatus(raw) == CONNECTION_OK else {
            throw PostgresError(message: "cannot connect to PostgreSQL: \(Self.trimmed(PQerrorMessage(raw)))", sqlState: nil, connectionLost: true)
        }
    }

    /// Runs one statement with `$1`... bound to `parameters`; returns its rows.
    @discardableResult
    func execute(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError) -> PostgresRows {
        try ensureConnected()
        var texts: [UnsafeMutablePointer<CChar>?] = []
        var binaries: [[UInt8]] = []
        var formats: [Int32] = []
        var lengths: [Int32] = []
        for parameter in parameters {
            let text: String?
            switch parameter {
            case .text(let s): text = s
            case .int(let i): text = String(i)
            case .double(let d): text = d.isFinite ? "\(d)" : (d.isNaN ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"))
            case .bool(let b): text = b ? "t" : "f"
            case .null: text = nil
            case .bytes(let b):
                binaries.append(b); texts.append(nil); formats.append(1); lengths.append(Int32(b.count))
                continue
            }
            texts.append(text.map { strdup($0) } ?? nil)
            formats.append(0)
            lengths.append(0)
        }
        defer { texts.forEach { free($0) } }
        // Binary parameters point into `binaries`' storage for the duration of the call.
        var values: [UnsafePointer<CChar>?] = texts.map { $0.map { UnsafePointer($0) } }
        var binaryIndex = 0
        let result: OpaquePointer? = withBinaryPointers(binaries) { pointers in
            for (i, format) in formats.enumerated() where format == 1 {
                values[i] = pointers[binaryIndex]
                binaryIndex += 1
            }
            return values.withUnsafeBufferPointer { v in
                lengths.withUnsafeBufferPointer { l in
                    formats.withUnsafeBufferPointer { f in
                        PQexecParams(raw, sql, Int32(parameters.count), nil, v.baseAddress, l.baseAddress, f.baseAddress, 0)
                    }
                }
            }
        }
        return try check(result)
    }

    /// Runs several statements in one string, without parameters (migrations).
    func executeScript(_ sql: String) throws(PostgresError) {
        try ensureConnected()
        _ = try check(PQexec(raw, sql))
    }

    private func check(_ result: OpaquePointer?) throws(PostgresError) -> PostgresRows {
        guard let result else {
            throw PostgresError(message: Self.trimmed(PQerrorMessage(raw)), sqlState: nil, connectionLost: PQstatus(raw) != CONNECTION_OK)
        }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let message = Self.trimmed(PQresultErrorMessage(result))
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            PQclear(result)
            // Class 08 (connection exception), 57P (operator intervention: shutdown, restart).
            let lost = PQstatus(raw) != CONNECTION_OK || state?.hasPrefix("08") == true || state?.hasPrefix("57P") == true
            throw PostgresError(message: message, sqlState: state, connectionLost: lost)
        }
        return PostgresRows(result)
    }
}

/// Calls `body` with a stable pointer to each byte array's storage.
private func withBinaryPointers<R>(_ arrays: [[UInt8]], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    func nest(_ index: Int, _ pointers: [UnsafePointer<CChar>?]) -> R {
        guard index < arrays.count else { return body(pointers) }
        return arrays[index].withUnsafeBufferPointer { buffer in
            nest(index + 1, pointers + [buffer.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) } ?? UnsafePointer(bitPattern: 1)])
        }
    }
    return nest(0, [])
}

/// A small pool of connections to one database, for a store used by many threads: a caller
/// takes a connection for one statement or one transaction and gives it back; at most `size`
/// are open, made on first need, and a broken one is dropped rather than returned.
final class PostgresPool: @unchecked Sendable {
    // @unchecked: a connection (not Sendable) is used by the one thread that took it from `idle`.
    let url: String
    private let idle = Locked<[PostgresConnection]>([])
    private let slots: DispatchSemaphore

    init(url: String, size: Int) {
        self.url = url
        slots = DispatchSemaphore(value: max(size, 1))
    }

    /// Runs `body` with a connection of the pool (waiting up to 30 s for one).
    func with<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard slots.wait(timeout: .now() + 30) == .success else {
            throw PostgresError(message: "every connection to PostgreSQL stayed busy for 30 s", sqlState: nil, connectionLost: false)
        }
        defer { slots.signal() }
        let pooled = idle.withLock { $0.popLast() }
        let connection = try pooled ?? PostgresConnection(url: url)
        defer { if connection.isHealthy { idle.withLock { $0.append(connection) } } }
        return try body(connection)
    }

    /// Runs `body` in one transaction (`BEGIN` ... `COMMIT`, rolled back when it throws).
    func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try with { connection in
            try connection.execute("BEGIN")
            do {
                let value = try body(connection)
                try connection.execute("COMMIT")
                return value
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }
}
