import CSQLite
import Folders
import Glibc

/// An error from SQLite, with the statement's first words for context (never bound values).
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// SQLite's extended result code (`code & 0xff` is the primary one).
    public let code: Int32
    /// SQLite's message for the error (`sqlite3_errmsg`).
    public let message: String
    /// The statement that failed, when there was one; only its start is shown in `description`.
    public let sql: String?
    /// The code, the message and the start of the statement, for logs and errors.
    public var description: String {
        if let sql { return "SQLite error \(code): \(message) (in: \(sql.prefix(120)))" }
        return "SQLite error \(code): \(message)"
    }

    /// What an error says about its cause, by its primary result code: the one reading of SQLite's
    /// codes, for the buffer and the LMS-DS alike.
    public enum Fault: Sendable, Equatable {
        /// The data was refused (a constraint, a type, a value too big): retrying the same data
        /// fails again.
        case data
        /// Another connection holds the lock (BUSY, LOCKED) beyond the busy timeout.
        case busy
        /// The file is not a database or its pages are damaged (CORRUPT, NOTADB).
        case damaged
        /// Anything else is a fault of the environment or of the program (disk full, I/O,
        /// permission, cannot open, a missing table) and says nothing about the data.
        case environment
    }

    /// The fault this error's primary result code says (see `Fault`).
    public var fault: Fault {
        switch code & 0xff {
        case SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_TOOBIG: return .data
        case SQLITE_BUSY, SQLITE_LOCKED: return .busy
        case SQLITE_CORRUPT, SQLITE_NOTADB: return .damaged
        default: return .environment
        }
    }
}

/// A value bound to or read from a statement.
public enum SQLValue: Sendable, Equatable {
    /// SQL NULL.
    case null
    /// A 64-bit integer: SQLite's INTEGER storage class.
    case integer(Int64)
    /// UTF-8 text: every CSV value in the buffer is stored this way.
    case text(String)
    /// A floating-point value: SQLite's REAL storage class.
    case real(Double)

    /// The value as text: integers and reals are formatted, NULL is nil.
    public var text: String? {
        switch self {
        case .null: return nil
        case .text(let s): return s
        case .integer(let i): return String(i)
        case .real(let d): return String(d)
        }
    }
    /// The value as an integer: text is parsed, reals truncated; nil for NULL or text that is no number.
    public var integer: Int64? {
        switch self {
        case .integer(let i): return i
        case .text(let s): return Int64(s)
        case .real(let d): return Int64(d)
        case .null: return nil
        }
    }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    /// A string literal binds as text.
    public init(stringLiteral value: String) { self = .text(value) }
    /// An integer literal binds as an integer.
    public init(integerLiteral value: Int) { self = .integer(Int64(value)) }
    /// `nil` binds as NULL.
    public init(nilLiteral: ()) { self = .null }
    /// Text, or NULL for nil: an optional column value.
    public init(_ s: String?) { self = s.map { .text($0) } ?? .null }
    /// An integer, or NULL for nil.
    public init(_ i: Int?) { self = i.map { .integer(Int64($0)) } ?? .null }
}

/// One SQLite connection. Not thread-safe by itself: each owner keeps it to one task at a time.
///
/// A deliberately small surface: `execute` for scripts, `prepare` for reused statements,
/// `query` for reading, `transaction` for atomic units of work.
public final class SQLiteDatabase: @unchecked Sendable {
    /// The database file, as given to `init`.
    public let path: String
    let handle: OpaquePointer
    private var statementCache: [String: Statement] = [:]

    /// Opens a database file, creating it if needed unless `create` is false.
    ///
    /// With `fileMode`, a new file never exists with a wider mode: missing folders are made 0700
    /// and the file is created with `fileMode` before SQLite opens it (SQLite alone would create it
    /// with 0644 less the umask, and a later chmod leaves a window). SQLite gives the `-wal` and
    /// `-shm` files the mode of the database file. With `restrictExisting`, an existing file and its
    /// `-wal`, `-shm` and `-journal` also lose whatever permission `fileMode` does not grant.
    public init(path: String, fileMode: mode_t? = nil, restrictExisting: Bool = false, busyTimeoutMs: Int32 = 10_000,
                create: Bool = true) throws {
        self.path = path
        if let fileMode { try SQLiteDatabase.prepareFile(path, mode: fileMode, create: create, restrictExisting: restrictExisting) }
        _ = SQLiteDatabase.configured
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: "\(msg): \(path)\(SQLiteDatabase.whyNotOpened(path))", sql: nil)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMs)
    }

    /// The process-wide configuration, before the first connection: no memory statistics (they
    /// serialize every allocation of every connection on one mutex).
    private static let configured: Bool = csqlite_disable_memstatus() == SQLITE_OK

    /// Creates the missing folders (0700) and the missing file (`mode`), or restricts an existing one.
    static func prepareFile(_ path: String, mode: mode_t, create: Bool, restrictExisting: Bool) throws {
        func failure(_ what: String) -> SQLiteError {
            SQLiteError(code: SQLITE_CANTOPEN, message: "\(what): \(String(cString: strerror(errno)))", sql: nil)
        }
        if !create {
            if restrictExisting { restrict(path, to: mode) }
            return
        }
        try createFolders(containing: path)
        // O_EXCL: only a file made here gets `mode`; one that appears meanwhile is left to its maker.
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if fd >= 0 {
            Glibc.close(fd)
            return
        }
        guard errno == EEXIST else { throw failure("cannot create \(path)") }
        if restrictExisting { restrict(path, to: mode) }
    }

    /// Creates the missing folders above `path` with mode 0700: the buffer's and the lock's folders
    /// are state directories, readable by the agent's user alone.
    public static func createFolders(containing path: String) throws {
        do {
            try Folders.makeParent(of: path, mode: 0o700)
        } catch {
            throw SQLiteError(code: SQLITE_CANTOPEN, message: error.description, sql: nil)
        }
    }

    /// SQLite says only "unable to open database file": say why, as far as the file system tells.
    static func whyNotOpened(_ path: String) -> String {
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        var st = stat()
        if !folder.isEmpty && stat(folder, &st) != 0 { return " (the folder \(folder) does not exist)" }
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return " (it is a directory)" }
            if access(path, R_OK | W_OK) != 0 { return " (no permission to read and write it)" }
        } else if access(folder.isEmpty ? "/" : folder, W_OK | X_OK) != 0 {
            return " (no permission to create files in \(folder))"
        }
        return ""
    }

    /// Takes from an existing file and its `-wal`, `-shm` and `-journal` what `mode` does not grant.
    static func restrict(_ path: String, to mode: mode_t) {
        for file in [path, path + "-wal", path + "-shm", path + "-journal"] {
            var st = stat()
            if stat(file, &st) == 0, st.st_mode & 0o777 & ~mode != 0 { chmod(file, st.st_mode & 0o777 & mode) }
        }
    }

    private var closed = false

    deinit { close() }

    /// Checkpoints the write-ahead log into the main file and closes the connection, so that the
    /// database is whole in its own file once the process ends (a copy of the file alone is
    /// complete). Idempotent; the object must not be used afterwards.
    public func close() {
        guard !closed else { return }
        closed = true
        statementCache.removeAll()
        sqlite3_exec(handle, "PRAGMA wal_checkpoint(TRUNCATE)", nil, nil, nil)
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32, _ sql: String?) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs one or more statements without parameters.
    public func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "error"
            sqlite3_free(err)
            throw SQLiteError(code: rc, message: msg, sql: sql)
        }
    }

    /// Runs one statement with parameters; returns the number of rows it changed.
    @discardableResult
    public func run(_ sql: String, _ arguments: [SQLValue] = []) throws -> Int {
        let st = try cached(sql)
        try st.bind(arguments)
        try st.runToEnd()
        return Int(sqlite3_changes(handle))
    }

    /// All rows of a query, as arrays of values.
    public func query(_ sql: String, _ arguments: [SQLValue] = []) throws -> [[SQLValue]] {
        let st = try cached(sql)
        try st.bind(arguments)
        var rows: [[SQLValue]] = []
        while try st.step() { rows.append(st.row()) }
        st.reset()
        return rows
    }

    /// All rows of a query, each read by column name (`row["path"]`): a query's columns can be
    /// reordered or added to without touching the code that reads them.
    public func namedRows(_ sql: String, _ arguments: [SQLValue] = []) throws -> [NamedRow] {
        let st = try cached(sql)
        try st.bind(arguments)
        let columns = NamedRow.Columns(st.columnNames)
        var rows: [NamedRow] = []
        while try st.step() { rows.append(NamedRow(columns: columns, values: st.row())) }
        st.reset()
        return rows
    }

    /// Calls `body` with each row of a query, read by column name, one at a time: for long results
    /// that are turned into something else, so that the rows are never all in memory at once.
    public func forEachNamedRow(_ sql: String, _ arguments: [SQLValue] = [], _ body: (NamedRow) throws -> Void) throws {
        let st = try cached(sql)
        try st.bind(arguments)
        defer { st.reset() }
        let columns = NamedRow.Columns(st.columnNames)
        while try st.step() { try body(NamedRow(columns: columns, values: st.row())) }
    }

    /// The first column of the first row, if any.
    public func scalar(_ sql: String, _ arguments: [SQLValue] = []) throws -> SQLValue? {
        try query(sql, arguments).first?.first
    }

    /// A prepared statement cached by its SQL text (for hot loops).
    public func cached(_ sql: String) throws -> Statement {
        if let st = statementCache[sql] { return st }
        let st = try Statement(database: self, sql: sql)
        statementCache[sql] = st
        return st
    }

    /// Taken before a (not nested) transaction begins and given back when it ends, when several
    /// connections of one process write to the same file (nil: this connection writes alone).
    public var writeGate: (any WriteGate)?

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// Inside an open transaction it is a savepoint: all of `body` or none of it, committed with
    /// the outer transaction.
    public func transaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        let nested = sqlite3_get_autocommit(handle) == 0
        return try gated(nested) {
            try run(nested ? "SAVEPOINT unit" : (immediate ? "BEGIN IMMEDIATE" : "BEGIN"))
            do {
                let result = try body()
                try run(nested ? "RELEASE unit" : "COMMIT")
                return result
            } catch {
                rollBack(nested: nested)
                throw error
            }
        }
    }

    /// Runs an outermost transaction inside the write gate's turn.
    private func gated<T>(_ nested: Bool, _ body: () throws -> T) throws -> T {
        guard !nested, let writeGate else { return try body() }
        writeGate.take()
        defer { writeGate.give() }
        return try body()
    }

    /// Runs `body` in a transaction that `body` ends itself: `.commit(value)` keeps its changes,
    /// `.rollback(value)` takes them back; either way `value` is returned. Throwing rolls back too
    /// and passes the error on. Inside an open transaction it is a savepoint, as `transaction`.
    public func commitOrRollback<T>(immediate: Bool = true, _ body: () throws -> TransactionEnd<T>) throws -> T {
        let nested = sqlite3_get_autocommit(handle) == 0
        return try gated(nested) {
            try run(nested ? "SAVEPOINT unit" : (immediate ? "BEGIN IMMEDIATE" : "BEGIN"))
            let end: TransactionEnd<T>
            do {
                end = try body()
            } catch {
                rollBack(nested: nested)
                throw error
            }
            switch end {
            case .commit(let value):
                try run(nested ? "RELEASE unit" : "COMMIT")
                return value
            case .rollback(let value):
                rollBack(nested: nested)
                return value
            }
        }
    }

    private func rollBack(nested: Bool) {
        if nested {
            _ = try? run("ROLLBACK TO unit")
            _ = try? run("RELEASE unit")
        } else {
            _ = try? run("ROLLBACK")
        }
    }

    /// True while a transaction is open on this connection.
    public var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// The rowid of the last successful INSERT on this connection (a new ledger row's id).
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    /// Rows changed by the last INSERT, UPDATE or DELETE on this connection.
    public var changes: Int { Int(sqlite3_changes(handle)) }
}

/// How a `commitOrRollback` body ends its transaction, with the value it returns.
public enum TransactionEnd<T> {
    /// Commit the transaction and return the value.
    case commit(T)
    /// Undo the transaction and return the value: a unit of work that decided not to keep its changes says so without throwing.
    case rollback(T)
}

/// One row of a query, read by column name. An unknown name is a programming error (a typo or a
/// column dropped from the query) and stops the program with the name, rather than reading NULL.
public struct NamedRow {
    /// Column name -> index, shared by every row of one query.
    final class Columns {
        let index: [String: Int]
        init(_ names: [String]) {
            var index: [String: Int] = [:]
            for (i, n) in names.enumerated() where index[n] == nil { index[n] = i }
            self.index = index
        }
    }
    let columns: Columns
    /// The row's values in the query's column order.
    public let values: [SQLValue]

    /// The value of the column named `name` (its `AS` name when the query gives one).
    public subscript(_ name: String) -> SQLValue {
        guard let i = columns.index[name] else { preconditionFailure("no column \(name) in the query") }
        return values[i]
    }
}

private nonisolated(unsafe) let emptyCString: UnsafePointer<CChar> = {
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
    p.pointee = 0
    return UnsafePointer(p)
}()

/// A prepared statement; text is bound by copy, so callers may reuse their buffers.
public final class Statement {
    // Unowned: the database caches its statements, and a strong reference back would keep both
    // alive for ever (every connection and its file descriptors leaked; the WAL never checkpointed).
    unowned let db: SQLiteDatabase
    let handle: OpaquePointer
    let sql: String

    init(database: SQLiteDatabase, sql: String) throws {
        db = database
        self.sql = sql
        var st: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &st, nil)
        guard rc == SQLITE_OK, let st else { throw database.error(rc, sql) }
        handle = st
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement, clears its bindings and binds `values` to parameters 1, 2, ... in order.
    public func bind(_ values: [SQLValue]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (i, v) in values.enumerated() { try bind(v, at: Int32(i + 1)) }
    }

    /// Binds one value at a 1-based parameter index (text is copied).
    public func bind(_ value: SQLValue, at index: Int32) throws {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(handle, index)
        case .integer(let i): rc = sqlite3_bind_int64(handle, index, i)
        case .real(let d): rc = sqlite3_bind_double(handle, index, d)
        case .text(let s):
            var s = s
            rc = s.withUTF8 { buf in
                buf.withMemoryRebound(to: CChar.self) { c in
                    sqlite3_bind_text(handle, index, c.baseAddress ?? emptyCString, Int32(c.count), csqlite_transient())
                }
            }
        }
        if rc != SQLITE_OK { throw db.error(rc, sql) }
    }

    /// Binds text (or NULL) at a 1-based index without building an `SQLValue`.
    public func bindText(_ value: String?, at index: Int32) throws {
        guard var s = value else {
            sqlite3_bind_null(handle, index)
            return
        }
        let rc = s.withUTF8 { buf in
            buf.withMemoryRebound(to: CChar.self) { c in
                sqlite3_bind_text(handle, index, c.baseAddress ?? emptyCString, Int32(c.count), csqlite_transient())
            }
        }
        if rc != SQLITE_OK { throw db.error(rc, sql) }
    }

    /// Binds an integer at a 1-based index without building an `SQLValue`.
    public func bindInt(_ value: Int64, at index: Int32) {
        sqlite3_bind_int64(handle, index, value)
    }

    /// Steps once; true while there is a row.
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let e = db.error(rc, sql)
        sqlite3_reset(handle)
        throw e
    }

    /// Steps to the end and resets, for statements that return nothing.
    public func runToEnd() throws {
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Makes the statement ready to run again; its bindings stay.
    public func reset() { sqlite3_reset(handle) }

    /// The number of result columns.
    public var columnCount: Int { Int(sqlite3_column_count(handle)) }

    /// Column `i` (0-based) of the current row as text; nil for NULL.
    public func text(_ i: Int) -> String? {
        guard let p = sqlite3_column_text(handle, Int32(i)) else { return nil }
        let n = Int(sqlite3_column_bytes(handle, Int32(i)))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// Column `i` (0-based) of the current row as an integer (0 for NULL).
    public func integer(_ i: Int) -> Int64 { sqlite3_column_int64(handle, Int32(i)) }

    /// Whether column `i` (0-based) of the current row is NULL.
    public func isNull(_ i: Int) -> Bool { sqlite3_column_type(handle, Int32(i)) == SQLITE_NULL }

    /// The result columns' names (their `AS` names when the query gives them).
    public var columnNames: [String] {
        (0..<columnCount).map { String(cString: sqlite3_column_name(handle, Int32($0))) }
    }

    /// The current row, each column in its own storage class.
    public func row() -> [SQLValue] {
        (0..<columnCount).map { i in
            switch sqlite3_column_type(handle, Int32(i)) {
            case SQLITE_NULL: return .null
            case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, Int32(i)))
            case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, Int32(i)))
            default: return .text(text(i) ?? "")
            }
        }
    }
}

/// A turn at writing, shared by the connections of one process that write to one database file:
/// SQLite lets one write at a time and makes the others poll, and a connection that commits and
/// begins again at once can starve a poller. `take` waits for the caller's turn; `give` ends it.
public protocol WriteGate: AnyObject, Sendable {
    /// Waits for the caller's turn.
    func take()
    /// Ends the caller's turn.
    func give()
}
