import CLibPQ
import Glibc

/// An error from PostgreSQL or libpq. Never carries a password: the connection's `Redactor` takes
/// out the secrets it knows, and whatever still looks like one is masked here.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// The five-character SQLSTATE, when the server sent one.
    public let sqlState: String?
    /// The server's or libpq's message, with secrets masked.
    public let message: String
    /// The connection itself is gone or could not be made.
    public let connectionLost: Bool

    init(sqlState: String?, message: String, connectionLost: Bool) {
        self.sqlState = sqlState
        self.message = Redactor.redactShapes(message)
        self.connectionLost = connectionLost
    }

    /// The message, prefixed with its SQLSTATE when there is one (`[23505] duplicate key ...`).
    public var description: String {
        (sqlState.map { "[\($0)] " } ?? "") + message
    }

    /// What an error says about its cause: the one reading of SQLSTATEs and lost connections.
    public enum Fault: Sendable, Equatable {
        /// The server refused the data itself: a data exception (22), an integrity constraint (23)
        /// or a program limit such as an over-long index row (54). The same data fails again.
        case data
        /// Worth retrying later: the connection is lost or cannot be made (08), authentication (28),
        /// out of resources such as a full disk (53), shutdown (57), a lock or serialization
        /// conflict (40, 55P03), a database that does not exist yet (3D).
        case transient
        /// The server refused the statement for neither reason: permission (42501), a missing table
        /// or function, an error of a script itself. Neither the data's fault nor one that passes.
        case refused
    }

    /// The fault this error's SQLSTATE or lost connection says (see `Fault`); without an SQLSTATE, `.refused`.
    public var fault: Fault {
        if connectionLost { return .transient }
        guard let s = sqlState else { return .refused }
        let sqlClass = String(s.prefix(2))
        if ["22", "23", "54"].contains(sqlClass) { return .data }
        if ["08", "28", "53", "57", "40", "3D"].contains(sqlClass) || s == "55P03" { return .transient }
        return .refused
    }
}

/// A result's rows as text (NULL as nil).
public struct PostgresRows: Sendable {
    /// Every row of the result, each column as text in the server's output format.
    public var rows: [[String?]]
    /// Rows the command affected (`UPDATE 3` -> 3).
    public var affected: Int
}

/// One libpq connection, used by one task at a time. A deliberately small surface: `execute` with
/// bind parameters, `executeBatch` for parameter-free multi-statement text, `copyIn` for bulk loads.
public final class PostgresConnection: @unchecked Sendable {
    let conn: OpaquePointer
    /// Takes this connection's secrets out of every message it reports.
    let redactor: Redactor

    /// Connects with libpq keywords (`host`, `port`, `dbname`, `user`, `password`, `sslmode`, ...).
    /// When `expandDBName` is set, a `dbname` holding a URI or a conninfo string is expanded, so
    /// `postgresql://...` works. Everything libpq reads itself also applies: `PG*` variables,
    /// `~/.pgpass`, service files.
    public init(parameters: [(String, String)], expandDBName: Bool = false) throws {
        redactor = Redactor(parameters: parameters)
        let keys = parameters.map { strdup($0.0) } + [nil]
        let values = parameters.map { strdup($0.1) } + [nil]
        defer {
            for p in keys { free(p) }
            for p in values { free(p) }
        }
        let c: OpaquePointer? = keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                k.withMemoryRebound(to: UnsafePointer<CChar>?.self) { kk in
                    v.withMemoryRebound(to: UnsafePointer<CChar>?.self) { vv in
                        PQconnectdbParams(kk.baseAddress, vv.baseAddress, expandDBName ? 1 : 0)
                    }
                }
            }
        }
        guard let c else { throw PostgresError(sqlState: nil, message: "out of memory", connectionLost: true) }
        guard PQstatus(c) == CONNECTION_OK else {
            // libpq's parse errors quote the connection string they refused.
            let message = redactor.redact(String(cString: PQerrorMessage(c)).trimmingTrailingNewlines)
            PQfinish(c)
            throw PostgresError(sqlState: nil, message: message, connectionLost: true)
        }
        conn = c
        // Notices (e.g. "relation already exists, skipping") are not errors; keep them off stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    deinit { PQfinish(conn) }

    /// Whether libpq still considers the connection usable (false after the server went away).
    public var isOK: Bool { PQstatus(conn) == CONNECTION_OK }

    /// What the server is, for status: `host:port/dbname as user` (no password).
    public var summary: String {
        let host = String(cString: PQhost(conn))
        return redactor.redact("\(host):\(String(cString: PQport(conn)))/\(String(cString: PQdb(conn))) as \(String(cString: PQuser(conn)))")
    }

    /// libpq's last error on this connection, without secrets.
    private var errorMessage: String { redactor.redact(String(cString: PQerrorMessage(conn)).trimmingTrailingNewlines) }

    private func check(_ result: OpaquePointer?) throws -> OpaquePointer {
        guard let result else {
            throw PostgresError(sqlState: nil, message: errorMessage,
                                connectionLost: PQstatus(conn) != CONNECTION_OK)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_IN, PGRES_EMPTY_QUERY:
            return result
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = redactor.redact(String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines)
            PQclear(result)
            throw PostgresError(sqlState: state, message: message, connectionLost: PQstatus(conn) != CONNECTION_OK)
        }
    }

    private func rows(of result: OpaquePointer) -> PostgresRows {
        let n = Int(PQntuples(result)), m = Int(PQnfields(result))
        var out: [[String?]] = []
        out.reserveCapacity(n)
        for r in 0..<n {
            out.append((0..<m).map { c in
                PQgetisnull(result, Int32(r), Int32(c)) == 1 ? nil : String(cString: PQgetvalue(result, Int32(r), Int32(c)))
            })
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(rows: out, affected: affected)
    }

    /// One statement; `$1...` take `parameters` as text (nil = NULL). Values never enter the SQL text.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws -> PostgresRows {
        let cStrings = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { for p in cStrings { free(p) } }
        let result: OpaquePointer? = cStrings.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: UnsafePointer<CChar>?.self) { p in
                PQexecParams(conn, sql, Int32(parameters.count), nil, p.baseAddress, nil, nil, 0)
            }
        }
        let r = try check(result)
        defer { PQclear(r) }
        return rows(of: r)
    }

    /// Several parameter-free statements in one round trip; returns each statement's result.
    @discardableResult
    public func executeBatch(_ sql: String) throws -> [PostgresRows] {
        guard PQsendQuery(conn, sql) == 1 else {
            throw PostgresError(sqlState: nil, message: errorMessage,
                                connectionLost: PQstatus(conn) != CONNECTION_OK)
        }
        var results: [PostgresRows] = []
        var firstError: PostgresError? = nil
        while let r = PQgetResult(conn) {
            do {
                let ok = try check(r)
                results.append(rows(of: ok))
                PQclear(ok)
            } catch let e as PostgresError {
                if firstError == nil { firstError = e }
            }
        }
        if let firstError { throw firstError }
        return results
    }

    /// `COPY table (columns) FROM STDIN` in text format: `write` is called with an encoder that
    /// takes one row of text values (nil = NULL) at a time; data goes out in 256 KiB chunks.
    public func copyIn(_ copySQL: String, _ write: (CopyEncoder) throws -> Void) throws {
        _ = try check(PQexec(conn, copySQL)).clearing()
        let encoder = CopyEncoder(connection: self)
        var failure: Error? = nil
        do {
            try write(encoder)
            try encoder.flush()
        } catch {
            failure = error
        }
        let end = failure == nil ? PQputCopyEnd(conn, nil) : PQputCopyEnd(conn, "aborted by the client")
        guard end == 1 else {
            throw PostgresError(sqlState: nil, message: errorMessage, connectionLost: true)
        }
        var copyError: Error? = nil
        while let r = PQgetResult(conn) {
            do { try check(r).clearing() } catch { if copyError == nil { copyError = error } }
        }
        if let failure { throw failure }
        if let copyError { throw copyError }
    }

    func putCopyData(_ bytes: [UInt8]) throws {
        let rc = bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { PQputCopyData(conn, $0.baseAddress, Int32($0.count)) }
        }
        guard rc == 1 else {
            throw PostgresError(sqlState: nil, message: errorMessage, connectionLost: true)
        }
    }
}

/// Encodes rows in COPY's text format: tab between fields, `\N` for NULL, and backslash, tab,
/// newline and carriage return escaped.
public final class CopyEncoder {
    let connection: PostgresConnection
    var buffer: [UInt8] = []

    init(connection: PostgresConnection) {
        self.connection = connection
        buffer.reserveCapacity(300 * 1024)
    }

    /// Appends one row (nil is NULL), sending the buffered rows to the server when the buffer is full.
    public func row(_ values: [String?]) throws {
        for (i, v) in values.enumerated() {
            if i > 0 { buffer.append(0x09) }
            guard let v else {
                buffer.append(0x5C); buffer.append(0x4E)
                continue
            }
            for b in v.utf8 {
                switch b {
                case 0x5C: buffer.append(0x5C); buffer.append(0x5C)
                case 0x09: buffer.append(0x5C); buffer.append(0x74)
                case 0x0A: buffer.append(0x5C); buffer.append(0x6E)
                case 0x0D: buffer.append(0x5C); buffer.append(0x72)
                default: buffer.append(b)
                }
            }
        }
        buffer.append(0x0A)
        if buffer.count >= 256 * 1024 { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try connection.putCopyData(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

extension OpaquePointer {
    func clearing() { PQclear(self) }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = self
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }
}

