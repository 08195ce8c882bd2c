import Extract
import Glibc
import SQLiteDB
import Synchronization

/// The embedded LMS-DS: one SQLite file with the upstream tables (no `lms.` schema prefix; SQLite
/// has none) and the same merge semantics as the server engines. The zero-setup default target.
///
/// Sendable because its one mutable part, the connection (opened without SQLite's own mutex, with
/// a statement cache), is reached only through `connection`'s lock: two tasks never use it at once.
public final class SQLiteStore: LMSDataStore {
    let path: String
    private let connection: Mutex<SQLiteDatabase>
    let dialect = SQLiteDialect()
    let extraMigrations: String?
    /// The resources whose tables this LMS-DS holds (their DDL: the shipped scripts and `extraMigrations`).
    public let registry: ResourceRegistry

    /// `sqlite:` and the file's path.
    public var location: String { "sqlite:\(path)" }

    /// With `create` false, a missing file is `unavailable` rather than a new, empty LMS-DS.
    public init(path: String, extraMigrations: String? = nil, create: Bool = true, registry: ResourceRegistry = .standard) throws {
        self.path = path
        self.extraMigrations = extraMigrations
        self.registry = registry
        if !create && access(path, F_OK) != 0 { throw StoreError.unavailable("no LMS-DS at \(path) yet") }
        do {
            let db = try SQLiteDatabase(path: path, fileMode: 0o600, busyTimeoutMs: 30_000, create: create)
            try db.execute("PRAGMA journal_mode = WAL")
            // FULL: once a file is committed here, the buffer may forget it; it must survive power loss.
            try db.execute("PRAGMA synchronous = FULL")
            try db.execute("PRAGMA foreign_keys = ON")
            connection = Mutex(db)
        } catch {
            throw SQLiteStore.classify(error, during: .opening)
        }
    }

    /// What the store was doing when an error came.
    enum Work {
        /// Opening the file: every failure leaves the LMS-DS unavailable.
        case opening
        /// Applying the schema scripts: every failure is a failed migration.
        case migrating
        /// Reading or applying files, in the LMS-DS file `path`.
        case working(path: String?)
    }

    /// The one place where SQLite's errors become the store's: only a fault of the data (a
    /// constraint, a type) rejects a file. A full disk, an I/O or permission error, a lock, a file
    /// that cannot be opened is the environment's: the file stays staged and is retried.
    /// An environment fault names the LMS-DS file, so that a full disk says which one.
    static func classify(_ error: any Error, during work: Work = .working(path: nil)) -> any Error {
        if error is StoreError { return error }
        let e = error as? SQLiteError
        let code = e.map { EngineCode.sqlite($0.code) }
        switch work {
        case .opening: return StoreError.unavailable("\(error)", engineCode: code)
        case .migrating: return StoreError.migration("\(error)", engineCode: code)
        case .working(let path):
            guard let e else { return error }
            switch e.fault {
            case .data: return StoreError.dataRefused(e.description, engineCode: code)
            case .busy: return StoreError.unavailable("the LMS-DS file is locked by another process: \(e)", engineCode: code)
            case .damaged, .environment:
                return StoreError.unavailable((path.map { "the LMS-DS file \($0): " } ?? "") + e.description, engineCode: code)
            }
        }
    }

    /// Runs `body` on the connection, holding its lock, with SQLite's errors mapped by `classify`.
    /// Every use of the connection goes through here; `body` must not call back into the store's
    /// public methods (the lock is not recursive).
    func withConnection<T: Sendable>(during work: Work? = nil, _ body: (SQLiteDatabase) throws -> T) throws -> T {
        do {
            return try connection.withLock { db in try body(db) }
        } catch {
            throw SQLiteStore.classify(error, during: work ?? .working(path: path))
        }
    }

    /// Applies the scripts the journal does not list: ours, then the operator's (`--migrations-dir`),
    /// each journaled with its checksum; an operator's script changed since it was applied stops the
    /// migration, named.
    public func migrate() throws {
        let scripts: [MigrationScript]
        do { scripts = try MigrationScript.load(engine: "sqlite", extraDirectory: extraMigrations) } catch {
            throw SQLiteStore.classify(error, during: .migrating)
        }
        try withConnection(during: .migrating) { db in
            try db.transaction {
                try db.execute("CREATE TABLE IF NOT EXISTS MigrationJournal (Script TEXT NOT NULL CONSTRAINT PK_MigrationJournal PRIMARY KEY, InstallDate TEXT NOT NULL, Checksum TEXT)")
                // A journal made before checksums were journaled.
                if try db.query("SELECT 1 FROM pragma_table_info('MigrationJournal') WHERE name = 'Checksum'").isEmpty {
                    try db.execute("ALTER TABLE MigrationJournal ADD COLUMN Checksum TEXT")
                }
                var journal: [String: String?] = [:]
                for row in try db.query("SELECT Script, Checksum FROM MigrationJournal") { if let name = row[0].text { journal[name] = row[1].text } }
                for script in try MigrationScript.verify(scripts, journal: journal, table: "MigrationJournal") {
                    try db.run("UPDATE MigrationJournal SET Checksum = ? WHERE Script = ?", [.text(script.checksum), .text(script.name)])
                }
            }
            for script in scripts {
                do {
                    try db.transaction {
                        guard try db.scalar("SELECT 1 FROM MigrationJournal WHERE Script = ?", [.text(script.name)]) == nil else { return }
                        try db.execute(script.sql)
                        try db.run("INSERT INTO MigrationJournal (Script, InstallDate, Checksum) VALUES (?, ?, ?)",
                                   [.text(script.name), .text(Timestamp.now()), .text(script.checksum)])
                    }
                } catch let e as SQLiteError {
                    throw StoreError.migration("\(script.name): \(e)", engineCode: .sqlite(e.code))
                }
            }
        }
    }

    /// Applies a batch in one `BEGIN IMMEDIATE` transaction (the write lock is the agent's lock on
    /// this LMS-DS): every file's rows into staging with its number, then the set-based merge (see
    /// `LMSDataStore`).
    public func apply(batch requests: [ApplyRequest], rows: BatchRows) throws -> AppliedBatch {
        guard let merge = try MergeSQL.forBatch(requests, registry: registry, dialect: dialect) else {
            return AppliedBatch(results: [], processedFilesMark: nil)
        }
        return try withConnection { db in try db.transaction(immediate: true) { try applyInTransaction(db, merge, requests, rows: rows) } }
    }

    /// What `ProcessedFiles` records for each path, in one query (the paths as a JSON array).
    public func processedRecords(fullPaths: [String]) throws -> [String: ProcessedRecord] {
        try withConnection { db in try SQLiteStore.processedRecords(db, fullPaths: fullPaths) }
    }

    private static func processedRecords(_ db: SQLiteDatabase, fullPaths: [String]) throws -> [String: ProcessedRecord] {
        guard !fullPaths.isEmpty else { return [:] }
        var records: [String: ProcessedRecord] = [:]
        for row in try db.query("SELECT FullPath, Checksum, Applied FROM ProcessedFiles WHERE FullPath IN (SELECT value FROM json_each(?))",
                                [.text(JSONText.array(fullPaths))]) {
            if let path = row[0].text { records[path] = ProcessedRecord(checksum: row[1].text, applied: row[2].text) }
        }
        return records
    }

    /// `ProcessedFiles`' row count and latest upload time.
    public func processedFilesMark() throws -> String {
        try withConnection { db in try SQLiteStore.processedFilesMark(db) }
    }

    private static func processedFilesMark(_ db: SQLiteDatabase) throws -> String {
        let row = try db.query("SELECT count(*), max(UploadDateTime) FROM ProcessedFiles").first ?? []
        return "\(row.first?.integer ?? 0) \(row.last?.text ?? "-")"
    }

    private func applyInTransaction(_ db: SQLiteDatabase, _ merge: MergeSQL, _ requests: [ApplyRequest], rows: BatchRows) throws -> AppliedBatch {
        let snapshots = requests[0].mode == .snapshot
        let applied = try MergeSQL.alreadyApplied(requests, records: snapshots ? try SQLiteStore.processedRecords(db, fullPaths: requests.map(\.fullPath)) : [:])
        let now = Timestamp.now()
        // Prepared once per connection and reused: the merge text depends only on the resource and
        // the files' columns, and preparing it again for each batch costs more than running it.
        for s in merge.createStaging + merge.clearStaging { try db.run(s) }

        // Bulk-load the rows into staging, and each child table's values into its own.
        let schema = merge.schema
        let columns = schema.columns
        let insert = try db.cached(SQLiteStore.insertStatement(merge.staging, merge.stagingInputColumns))
        let key = ResourceSchema.naturalKey.compactMap(schema.index(of:))
        let children = try merge.children.compactMap { c -> (column: Int, child: ChildTable, insert: Statement)? in
            guard let column = schema.index(of: c.child.column) else { return nil }
            return (column, c.child, try db.cached(SQLiteStore.insertStatement(c.child.staging, c.stagingInputColumns)))
        }
        for n in requests.indices {
            try rows(n) { row in
                insert.reset()
                insert.bindInt(row.id, at: 1)
                insert.bindInt(Int64(n), at: 2)
                for i in 0..<columns.count { try insert.bindText(row.values[i], at: Int32(i + 3)) }
                try insert.runToEnd()
                for c in children {
                    for v in c.child.values(row.values[c.column]) {
                        try c.insert.bind(key.map { SQLValue(row.values[$0]) } + [.text(v)])
                        try c.insert.runToEnd()
                    }
                }
            }
        }
        try SQLiteStore.insert(db, into: MergeSQL.scopeStaging, columns: ["FileNo", "SourceSystem", "ScopeId", "ByKeys"], merge.scopeRows(requests))
        try SQLiteStore.insert(db, into: MergeSQL.droppedKeyStaging, columns: ["FileNo"] + ResourceSchema.naturalKey, merge.droppedKeyRows(requests))

        let x = SQLiteMergeExecutor(db: db, dialect: dialect)
        let results = try merge.run(on: x, requests, now: now, alreadyApplied: applied)
        return AppliedBatch(results: results, processedFilesMark: snapshots ? try SQLiteStore.processedFilesMark(db) : nil)
    }

    private static func insert(_ db: SQLiteDatabase, into table: String, columns: [String], _ rows: [[String?]]) throws {
        guard !rows.isEmpty else { return }
        let st = try db.cached(insertStatement(table, columns))
        for r in rows {
            try st.bind(r.map { SQLValue($0) })
            try st.runToEnd()
        }
    }

    /// Records a superseded snapshot in `ProcessedFiles` (`Applied` false) without merging it, unless the
    /// file is already recorded as applied with this checksum.
    @discardableResult
    public func recordWithoutApplying(_ request: ApplyRequest) throws -> String {
        try withConnection { db in
            try db.transaction(immediate: true) {
                if !(try SQLiteStore.processedRecords(db, fullPaths: [request.fullPath])[request.fullPath] ?? .none).isApplied(checksum: request.checksum) {
                    try MergeSQL.record(on: SQLiteMergeExecutor(db: db, dialect: dialect), request, dialect: dialect, now: Timestamp.now(), applied: false)
                }
                return try SQLiteStore.processedFilesMark(db)
            }
        }
    }

    /// Live and soft-deleted rows of every table the registry fills.
    public func tableCounts() throws -> [(table: String, live: Int, deleted: Int)] {
        let tables = registry.tables
        return try withConnection { db in
            try tables.map { t in
                let r = try db.query("SELECT count(*) - count(DeletedAt), count(DeletedAt) FROM \(t)").first ?? []
                return (t, Int(r.first?.integer ?? 0), Int(r.last?.integer ?? 0))
            }
        }
    }

    /// Checkpoints the write-ahead log into the file and closes it (see `SQLiteDatabase.close()`).
    public func close() { connection.withLock { $0.close() } }

    static func insertStatement(_ table: String, _ columns: [String]) -> String {
        "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
    }

    /// Runs a read-only query (tests).
    func query(_ sql: String, _ arguments: [SQLValue] = []) throws -> [[SQLValue]] {
        try connection.withLock { db in try db.query(sql, arguments) }
    }
}

/// The merge's statements on a SQLite connection (prepared once, reused).
struct SQLiteMergeExecutor: MergeExecutor {
    let db: SQLiteDatabase
    let dialect: SQLiteDialect
    func execute(_ sql: String, _ parameters: [String]) throws -> Int { try db.run(sql, parameters.map { .text($0) }) }
    func executeAll(_ statements: [String]) throws { for s in statements { try db.run(s) } }
    func integerRows(_ sql: String, _ parameters: [String]) throws -> [[Int]] {
        try db.query(sql, parameters.map { .text($0) }).map { $0.map { Int($0.integer ?? 0) } }
    }
    /// One prepared upsert, run per file: in-process, a statement costs microseconds.
    func record(_ requests: [ApplyRequest], now: String, applied: Bool) throws {
        for r in requests { try MergeSQL.record(on: self, r, dialect: dialect, now: now, applied: applied) }
    }
}

/// A JSON array of strings, for SQLite's `json_each` (a list as one bind parameter).
enum JSONText {
    static func array(_ values: [String]) -> String {
        var s = "["
        for (i, v) in values.enumerated() {
            if i > 0 { s += "," }
            s += "\""
            for u in v.unicodeScalars {
                switch u {
                case "\"": s += "\\\""
                case "\\": s += "\\\\"
                case _ where u.value < 0x20: s += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
                default: s.unicodeScalars.append(u)
                }
            }
            s += "\""
        }
        return s + "]"
    }
}
