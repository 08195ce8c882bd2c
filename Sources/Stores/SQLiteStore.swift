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

    /// Applies one file in one `BEGIN IMMEDIATE` transaction (the write lock is the agent's lock on this
    /// LMS-DS): rows into staging tables, then the merge (see `LMSDataStore`).
    public func apply(_ request: ApplyRequest, rows: RowStream) throws -> ApplyResult {
        // BEGIN IMMEDIATE takes the write lock: the agent's lock on this LMS-DS for the whole file.
        try withConnection { db in try db.transaction(immediate: true) { try applyInTransaction(db, request, rows: rows) } }
    }

    /// What `ProcessedFiles` records for the path.
    public func processedRecord(fullPath: String) throws -> ProcessedRecord {
        try withConnection { db in try SQLiteStore.processedRecord(db, fullPath: fullPath) }
    }

    private static func processedRecord(_ db: SQLiteDatabase, fullPath: String) throws -> ProcessedRecord {
        guard let row = try db.query("SELECT Checksum, Applied FROM ProcessedFiles WHERE FullPath = ?", [.text(fullPath)]).first else { return .none }
        return ProcessedRecord(checksum: row[0].text, applied: row[1].text)
    }

    private func applyInTransaction(_ db: SQLiteDatabase, _ request: ApplyRequest, rows: RowStream) throws -> ApplyResult {
        let applied = request.mode == .snapshot
            ? try SQLiteStore.processedRecord(db, fullPath: request.fullPath).isApplied(checksum: request.checksum) : false
        let now = Timestamp.now()
        let merge = MergeSQL(schema: request.schema, registry: registry, dialect: dialect, present: request.presentColumns)
        // Prepared once per connection and reused: the merge text depends only on the resource and
        // the file's columns, and preparing it again for each of thousands of small files costs more
        // than running it.
        for s in merge.createStaging + merge.clearStaging { try db.run(s) }

        // Bulk-load the rows into staging, and each child table's values into its own.
        let columns = request.schema.columns
        let insert = try db.cached(SQLiteStore.insertStatement(merge.staging, merge.stagingInputColumns))
        let key = ResourceSchema.naturalKey.compactMap(request.schema.index(of:))
        let children = try merge.children.compactMap { c -> (column: Int, child: ChildTable, insert: Statement)? in
            guard let column = request.schema.index(of: c.child.column) else { return nil }
            return (column, c.child, try db.cached(SQLiteStore.insertStatement(c.child.staging, c.stagingInputColumns)))
        }
        try rows { row in
            insert.reset()
            insert.bindInt(Int64(row.line), at: 1)
            for i in 0..<columns.count { try insert.bindText(row.values[i], at: Int32(i + 2)) }
            try insert.runToEnd()
            for c in children {
                for v in c.child.values(row.values[c.column]) {
                    try c.insert.bind(key.map { SQLValue(row.values[$0]) } + [.text(v)])
                    try c.insert.runToEnd()
                }
            }
        }
        if request.schema.deleteScope == .previousSnapshot, request.mode == .snapshot {
            let add = try db.cached("INSERT INTO \(MergeSQL.droppedKeyStaging) (SourceSystemIdentifier, SourceSystem) VALUES (?, ?)")
            for k in request.droppedKeys {
                try add.bind([.text(k.sourceSystemIdentifier), .text(k.sourceSystem)])
                try add.runToEnd()
            }
        }

        return try merge.run(on: SQLiteMergeExecutor(db: db), request, now: now, alreadyApplied: applied)
    }

    /// Records a superseded snapshot in `ProcessedFiles` (`Applied` false) without merging it, unless the
    /// file is already recorded as applied with this checksum.
    public func recordWithoutApplying(_ request: ApplyRequest) throws {
        try withConnection { db in
            try db.transaction(immediate: true) {
                if try SQLiteStore.processedRecord(db, fullPath: request.fullPath).isApplied(checksum: request.checksum) { return }
                try MergeSQL.record(on: SQLiteMergeExecutor(db: db), request, dialect: dialect, now: Timestamp.now(), applied: false)
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
    func execute(_ sql: String, _ parameters: [String]) throws -> Int { try db.run(sql, parameters.map { .text($0) }) }
    func executeAll(_ statements: [String]) throws { for s in statements { try db.run(s) } }
    func integers(_ sql: String, _ parameters: [String]) throws -> [Int] {
        try db.query(sql, parameters.map { .text($0) }).compactMap { $0.first?.integer.map { Int($0) } }
    }
}
