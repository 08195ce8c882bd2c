import Extract
import PostgresDB
import Synchronization

/// How to reach a PostgreSQL LMS-DS. The password is never part of `description`.
public struct PostgresTarget: Sendable, CustomStringConvertible {
    /// The server's host name, address or socket folder (libpq's `host`).
    public var host: String?
    /// The server's port.
    public var port: Int?
    /// The database (libpq's `dbname`).
    public var database: String?
    /// The role to connect as.
    public var user: String?
    /// The role's password; never logged, never in `description` or an error.
    public var password: String?
    /// libpq's `sslmode` (`disable`, `require`, `verify-full`, ...).
    public var sslmode: String?
    /// A `postgresql://` URI or a `key=value` conninfo string; the options above override its parts.
    public var connectionString: String?

    /// A target from the options given; what is nil is left to the connection string and to libpq.
    public init(host: String? = nil, port: Int? = nil, database: String? = nil, user: String? = nil, password: String? = nil,
                sslmode: String? = nil, connectionString: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
        self.sslmode = sslmode
        self.connectionString = connectionString
    }

    /// libpq keywords. Unset ones are left to libpq: `PG*` variables, service files, `~/.pgpass`.
    var parameters: [(String, String)] {
        var p: [(String, String)] = []
        if let connectionString { p.append(("dbname", connectionString)) }
        if let host { p.append(("host", host)) }
        if let port { p.append(("port", String(port))) }
        if let database { p.append(("dbname", database)) }
        if let user { p.append(("user", user)) }
        if let password { p.append(("password", password)) }
        if let sslmode { p.append(("sslmode", sslmode)) }
        p.append(("application_name", "lms-agent"))
        p.append(("connect_timeout", "10"))
        return p
    }

    /// `postgresql://user@host:port/dbname`: the options, else what the connection string names.
    public var description: String {
        var parts: [String: String] = [:]
        if let connectionString {
            if ConnectionString.isExpandedByLibpq(connectionString) {
                guard let p = ConnectionString.publicParts(of: connectionString) else { return "postgresql (a connection string libpq cannot parse)" }
                parts = p
            } else {
                // libpq takes it as a database name; a mistyped URI may still hold a password.
                parts["dbname"] = Redactor(parameters: [("dbname", connectionString)]).redact(connectionString)
            }
        }
        var s = "postgresql://"
        if let u = user ?? parts["user"] { s += u + "@" }
        s += host ?? parts["host"] ?? parts["hostaddr"] ?? "(libpq default host)"
        if let p = port.map(String.init) ?? parts["port"] { s += ":\(p)" }
        s += "/" + (database ?? parts["dbname"] ?? "(default database)")
        return s
    }
}

/// The LMS-DS on PostgreSQL, over libpq: the upstream `lms` schema (lower-case names), COPY into
/// session-local staging tables, the generated merge, one transaction per file under an advisory lock.
///
/// Sendable because everything that changes (the connection, which libpq allows one thread at a
/// time, and what was created on it) lives in `session`, reached only through its lock: two tasks
/// never use the connection at once. The compiler checks the rest.
public final class PostgresStore: LMSDataStore {
    let target: PostgresTarget
    let extraMigrations: String?
    /// The resources whose tables this LMS-DS holds (their DDL: the shipped scripts and `extraMigrations`).
    public let registry: ResourceRegistry
    let dialect = PostgresDialect()

    /// One connection and what this agent made of it.
    struct Session {
        var connection: PostgresConnection?
        var stagingCreated: Set<String> = []
        /// Rows the agent added to each table since it last refreshed the table's planner
        /// statistics, and the table's size then.
        var growth: [String: (added: Int, base: Int)] = [:]
    }
    private let session = Mutex(Session())

    /// Files up to this many rows are merged with index nested loops only.
    static let smallFile = 20_000

    /// The transaction-scoped advisory lock every agent takes on a file's transaction, so that two
    /// agents on one LMS-DS never interleave their merges ('lmsagent' in ASCII).
    static let lockKey: Int64 = 0x6C6D_7361_6765_6E74

    /// `postgresql://user@host:port/dbname` of the open connection (else the target's description);
    /// never a password.
    public var location: String {
        session.withLock { s in
            if let c = s.connection, c.isOK { return "postgresql://\(c.summary)" }
            return target.description
        }
    }

    /// Connects to `target` at once, so that an unreachable server or a refused login fails here
    /// (`StoreError.unavailable`). `extraMigrations` is the operator's `--migrations-dir`.
    public init(target: PostgresTarget, extraMigrations: String? = nil, registry: ResourceRegistry = .standard) throws {
        self.target = target
        self.extraMigrations = extraMigrations
        self.registry = registry
        try withSession { _, _ in }
    }

    /// What the store was doing when an error came.
    enum Work {
        /// Connecting to `target`.
        case connecting(PostgresTarget)
        /// Applying the schema script `script`: a refusal of the server is a failed migration.
        case migrating(script: String)
        /// Reading or applying files.
        case working
    }

    /// The one place where libpq's and the server's errors become the store's: only a fault of the
    /// data (SQLSTATE classes 22, 23, 54) rejects a file. Everything else (connection, authentication,
    /// disk full, shutdown, permission, a missing table) leaves the file staged to be retried,
    /// except that a schema script the server refuses is a failed migration, named.
    static func classify(_ error: any Error, during work: Work = .working) -> any Error {
        guard let e = error as? PostgresError else { return error }
        let code = e.sqlState.map { EngineCode.sqlState($0) }
        switch (work, e.fault) {
        case (.connecting(let target), _): return StoreError.unavailable("cannot connect to \(target): \(e.message)", engineCode: code)
        case (.migrating(let script), .data), (.migrating(let script), .refused):
            return StoreError.migration("\(script): \(e.description)", engineCode: code)
        case (_, .data): return StoreError.dataRefused(e.description, engineCode: code)
        case (_, .transient), (_, .refused): return StoreError.unavailable(e.description, engineCode: code)
        }
    }

    /// Runs `body` with the open connection, holding the session's lock; reconnects first when the
    /// connection was lost (the server restarted, the network dropped), and forgets one that an
    /// error left broken. Errors are mapped by `classify`. Every use of the connection goes through
    /// here (or `inTransaction`); `body` must not call back into the store's public methods (the
    /// lock is not recursive).
    @discardableResult
    func withSession<T: Sendable>(during work: Work = .working,
                                          _ body: (PostgresConnection, inout Session) throws -> T) throws -> T {
        try session.withLock { s in
            if s.connection.map({ !$0.isOK }) ?? true {
                // Session-local staging tables went with the old connection.
                s.connection = nil
                s.stagingCreated = []
                do {
                    let c = try PostgresConnection(parameters: target.parameters, expandDBName: target.connectionString != nil)
                    try c.execute("SET TIME ZONE 'UTC'")
                    s.connection = c
                } catch {
                    throw PostgresStore.classify(error, during: .connecting(target))
                }
            }
            let c = s.connection!
            do {
                return try body(c, &s)
            } catch {
                if !c.isOK { s.connection = nil }
                throw PostgresStore.classify(error, during: work)
            }
        }
    }

    /// Runs `body` in one transaction holding the agent's advisory lock (and the session's).
    @discardableResult
    func inTransaction<T: Sendable>(during work: Work = .working, _ body: (PostgresConnection) throws -> T) throws -> T {
        try withSession(during: work) { c, _ in try transaction(c) { try body(c) } }
    }

    /// One transaction on `c` under the agent's advisory lock; rolled back when `body` throws.
    private func transaction<T>(_ c: PostgresConnection, _ body: () throws -> T) throws -> T {
        do {
            try c.executeBatch("BEGIN; SELECT pg_advisory_xact_lock(\(PostgresStore.lockKey))")
            let result = try body()
            try c.execute("COMMIT")
            return result
        } catch {
            if c.isOK { _ = try? c.execute("ROLLBACK") }
            throw error
        }
    }

    // MARK: migrations

    /// Applies the scripts the journal does not list. On a database the upstream loader created,
    /// its journal already lists 0001-0010 (same names), so only the agent's own scripts run. The
    /// operator's scripts (`--migrations-dir`) run after ours and are journaled with their checksum;
    /// one changed since it was applied stops the migration, named.
    /// The harmonizer's scripts wait until the database has the ODS tables (`MigrationScript.needsODS`).
    public func migrate() throws {
        let scripts = try MigrationScript.load(engine: "postgresql", extraDirectory: extraMigrations)
        let odsMissing = scripts.contains(where: \.needsODS) ? try withSession { c, _ in try PostgresHarmonizer.missingODSTables(c) } : []
        try inTransaction { c in
            try c.executeBatch("""
                \(PostgresStore.createSchemaUnlessPresent);
                CREATE TABLE IF NOT EXISTS lms.MigrationJournal (Script VARCHAR(250) NOT NULL, InstallDate TIMESTAMP NOT NULL DEFAULT now(),
                    CONSTRAINT PK_MigrationJournal PRIMARY KEY (Script))
                """)
            // lms-agent's column on the upstream journal (NULL in rows the upstream loader writes).
            // Looked up first: ALTER needs the table's owner even when the column is there.
            if try c.execute("""
                SELECT 1 FROM information_schema.columns WHERE table_schema = 'lms' AND table_name = 'migrationjournal' AND column_name = 'checksum'
                """).rows.isEmpty {
                try c.execute("ALTER TABLE lms.MigrationJournal ADD COLUMN IF NOT EXISTS Checksum VARCHAR(64) NULL")
            }
            var journal: [String: String?] = [:]
            for row in try c.execute("SELECT Script, Checksum FROM lms.MigrationJournal").rows { if let name = row[0] { journal[name] = row[1] } }
            for script in try MigrationScript.verify(scripts, journal: journal, table: "lms.MigrationJournal") {
                try c.execute("UPDATE lms.MigrationJournal SET Checksum = $1 WHERE Script = $2", [script.checksum, script.name])
            }
        }
        for script in scripts where !(script.needsODS && !odsMissing.isEmpty) {
            // A script the server refuses (not a lost connection) is a migration failure, named.
            try inTransaction(during: .migrating(script: script.name)) { c in
                guard try c.execute("SELECT 1 FROM lms.MigrationJournal WHERE Script = $1", [script.name]).rows.isEmpty else { return }
                try c.executeBatch(script.sql)
                try c.execute("INSERT INTO lms.MigrationJournal (Script, Checksum) VALUES ($1, $2)", [script.name, script.checksum])
            }
        }
    }

    /// `CREATE SCHEMA IF NOT EXISTS` needs CREATE on the database even when the schema exists; this
    /// does not, so that an account owning a schema `lms` an administrator made may migrate without it.
    static let createSchemaUnlessPresent =
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'lms') THEN CREATE SCHEMA lms; END IF; END $$"

    /// For `--no-migrate`: the schema must already have the agent's additions.
    public func verifySchema() throws {
        let rows = try withSession { c, _ in
            try c.execute("""
                SELECT count(*) FROM information_schema.columns WHERE table_schema = 'lms' AND table_name = 'processedfiles'
                AND column_name IN ('checksum', 'applied')
                """).rows
        }
        guard rows.first?.first == "2" else {
            throw StoreError.migration("the lms schema is missing or lacks lms-agent's scripts; run once with an account that may run DDL (without --no-migrate)")
        }
    }

    // MARK: files

    /// What `lms.ProcessedFiles` records for each path, in one query (a `text[]` parameter).
    public func processedRecords(fullPaths: [String]) throws -> [String: ProcessedRecord] {
        try withSession { c, _ in try PostgresStore.processedRecords(c, fullPaths: fullPaths) }
    }

    private static func processedRecords(_ c: PostgresConnection, fullPaths: [String]) throws -> [String: ProcessedRecord] {
        guard !fullPaths.isEmpty else { return [:] }
        var records: [String: ProcessedRecord] = [:]
        for row in try c.execute("SELECT FullPath, Checksum, Applied FROM lms.ProcessedFiles WHERE FullPath = ANY (CAST($1 AS TEXT[]))",
                                 [PostgresArray.literal(fullPaths)]).rows {
            if let path = row[0] { records[path] = ProcessedRecord(checksum: row[1], applied: row[2]) }
        }
        return records
    }

    /// `lms.ProcessedFiles`' row count and latest upload time.
    public func processedFilesMark() throws -> String {
        try withSession { c, _ in try PostgresStore.processedFilesMark(c) }
    }

    private static func processedFilesMark(_ c: PostgresConnection) throws -> String {
        let row = try c.execute("SELECT count(*), max(UploadDateTime) FROM lms.ProcessedFiles").rows.first ?? []
        return "\(row.first.flatMap { $0 } ?? "0") \(row.last.flatMap { $0 } ?? "-")"
    }

    /// Applies a batch: every file's rows COPYed into session-local staging tables with its number,
    /// then the set-based merge, in one transaction under the agent's advisory lock (see `LMSDataStore`).
    public func apply(batch requests: [ApplyRequest], rows: BatchRows) throws -> AppliedBatch {
        guard let merge = try MergeSQL.forBatch(requests, registry: registry, dialect: dialect) else {
            return AppliedBatch(results: [], processedFilesMark: nil)
        }
        return try withSession { c, s in
            try createStagingIfNeeded(c, &s, merge)
            let result = try transaction(c) { try applyInTransaction(c, merge, requests, rows: rows) }
            try refreshStatisticsIfGrown(c, &s, merge.schema.table, by: result.results.reduce(0) { $0 + $1.inserted })
            return result
        }
    }

    /// A table that grew by half since its statistics were taken gets fresh ones. Without this, a
    /// first load plans every merge against "an empty table" (autovacuum lags behind) and each
    /// file's merge scans the whole table: quadratic time.
    private func refreshStatisticsIfGrown(_ c: PostgresConnection, _ s: inout Session, _ table: String, by inserted: Int) throws {
        guard inserted > 0 else { return }
        var g = s.growth[table] ?? (0, -1)
        do {
            if g.base < 0 {
                let tuples = try c.execute("SELECT reltuples FROM pg_class WHERE oid = CAST($1 AS regclass)", ["lms.\(table)"]).rows.first?.first ?? nil
                g.base = max(0, Int(Double(tuples ?? "0") ?? 0))
            }
            g.added += inserted
            if g.added >= max(1_000, g.base / 2) {
                try c.execute("ANALYZE lms.\(table)")
                g = (0, g.base + g.added)
            }
            s.growth[table] = g
        } catch let e as PostgresError where e.fault != .transient {
            // Statistics are an optimisation: an account that may not ANALYZE still loads.
            s.growth[table] = (0, Int.max / 2)
        }
    }

    /// The session's staging tables are created in a transaction of their own, before the file's:
    /// created inside it, a rejected file's rollback would drop them while `stagingCreated` still
    /// listed them, and every later file of the resource would fail ("relation does not exist").
    private func createStagingIfNeeded(_ c: PostgresConnection, _ s: inout Session, _ merge: MergeSQL) throws {
        guard !s.stagingCreated.contains(merge.staging) else { return }
        try c.executeBatch(merge.createStaging.joined(separator: ";\n"))
        s.stagingCreated.insert(merge.staging)
    }

    private func applyInTransaction(_ c: PostgresConnection, _ merge: MergeSQL, _ requests: [ApplyRequest], rows: BatchRows) throws -> AppliedBatch {
        let snapshots = requests[0].mode == .snapshot
        let applied = try MergeSQL.alreadyApplied(requests, records: snapshots ? try PostgresStore.processedRecords(c, fullPaths: requests.map(\.fullPath)) : [:])
        let now = Timestamp.now()
        try c.executeBatch(merge.clearStaging.joined(separator: ";\n"))

        // COPY the rows into staging; each child table's values (assignments' submission types),
        // the scopes and the dropped keys follow in COPYs of their own.
        let schema = merge.schema
        let columns = schema.columns
        let key = ResourceSchema.naturalKey.compactMap(schema.index(of:))
        let children = merge.children.compactMap { m in schema.index(of: m.child.column).map { (column: $0, merge: m) } }
        var childRows = [[[String?]]](repeating: [], count: children.count)
        var staged = 0
        try c.copyIn("COPY \(merge.staging) (\(merge.stagingInputColumns.joined(separator: ", "))) FROM STDIN") { copy in
            var values = [String?](repeating: nil, count: columns.count + 2)
            for n in requests.indices {
                values[1] = String(n)
                try rows(n) { row in
                    values[0] = String(row.id)
                    for i in 0..<columns.count { values[i + 2] = row.values[i] }
                    try copy.row(values)
                    staged += 1
                    for (m, child) in children.enumerated() {
                        for v in child.merge.child.values(row.values[child.column]) { childRows[m].append(key.map { row.values[$0] } + [v]) }
                    }
                }
            }
        }
        for (m, child) in children.enumerated() where !childRows[m].isEmpty {
            try copy(c, into: child.merge.child.staging, columns: child.merge.stagingInputColumns, childRows[m])
        }
        let scopes = merge.scopeRows(requests), dropped = merge.droppedKeyRows(requests)
        try copy(c, into: MergeSQL.scopeStaging, columns: ["FileNo", "SourceSystem", "ScopeId", "ByKeys"], scopes)
        try copy(c, into: MergeSQL.droppedKeyStaging, columns: ["FileNo"] + ResourceSchema.naturalKey, dropped)
        if staged <= PostgresStore.smallFile {
            // A small batch's merge joins a few staged rows to large tables by key. The statistics of
            // a table being loaded lag behind, and a stale plan hashes the whole table for every
            // batch (measured: quadratic time on a first load); index nested loops are right here.
            try c.executeBatch("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
        } else {
            // A large batch: let the planner choose, with statistics of what was just loaded.
            try c.execute("ANALYZE \(merge.staging)")
            if scopes.count + dropped.count > 1_000 { try c.execute("ANALYZE \(MergeSQL.scopeStaging), \(MergeSQL.droppedKeyStaging)") }
        }
        let x = PostgresMergeExecutor(connection: c)
        let results = try merge.run(on: x, requests, now: now, alreadyApplied: applied)
        return AppliedBatch(results: results, processedFilesMark: snapshots ? try PostgresStore.processedFilesMark(c) : nil)
    }

    private func copy(_ c: PostgresConnection, into table: String, columns: [String], _ rows: [[String?]]) throws {
        guard !rows.isEmpty else { return }
        try c.copyIn("COPY \(table) (\(columns.joined(separator: ", "))) FROM STDIN") { copy in
            for r in rows { try copy.row(r) }
        }
    }

    /// Records a superseded snapshot in `lms.ProcessedFiles` (`Applied` false) without merging it,
    /// unless the file is already recorded as applied with this checksum.
    @discardableResult
    public func recordWithoutApplying(_ request: ApplyRequest) throws -> String {
        try inTransaction { c in
            if !(try PostgresStore.processedRecords(c, fullPaths: [request.fullPath])[request.fullPath] ?? .none).isApplied(checksum: request.checksum) {
                try MergeSQL.record(on: PostgresMergeExecutor(connection: c), request, dialect: dialect, now: Timestamp.now(), applied: false)
            }
            return try PostgresStore.processedFilesMark(c)
        }
    }

    /// Live and soft-deleted rows of every table the registry fills.
    public func tableCounts() throws -> [(table: String, live: Int, deleted: Int)] {
        let tables = registry.tables
        return try withSession { c, _ in
            try tables.map { t in
                let r = try c.execute("SELECT count(*) - count(DeletedAt), count(DeletedAt) FROM lms.\(t)").rows.first ?? []
                return (t, Int(r.first.flatMap { $0 } ?? "0") ?? 0, Int(r.last.flatMap { $0 } ?? "0") ?? 0)
            }
        }
    }

    /// Drops the connection; a later call connects again.
    public func close() {
        session.withLock { s in
            s.connection = nil
            s.stagingCreated = []
        }
    }

    /// Runs a query (tests and tools). Every value goes through bind parameters.
    func query(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        try withSession { c, _ in try c.execute(sql, parameters).rows }
    }
}

/// The merge's statements on a libpq connection; parameter-free ones go in one round trip.
struct PostgresMergeExecutor: MergeExecutor {
    let connection: PostgresConnection
    func execute(_ sql: String, _ parameters: [String]) throws -> Int { try connection.execute(sql, parameters).affected }
    func executeAll(_ statements: [String]) throws {
        if !statements.isEmpty { try connection.executeBatch(statements.joined(separator: ";\n")) }
    }
    func integerRows(_ sql: String, _ parameters: [String]) throws -> [[Int]] {
        try connection.execute(sql, parameters).rows.map { $0.map { $0.flatMap { Int($0) } ?? 0 } }
    }
    /// Every file in one statement: the values travel as `text[]` parameters, unnested.
    func record(_ requests: [ApplyRequest], now: String, applied: Bool) throws {
        guard !requests.isEmpty else { return }
        try connection.execute("""
            INSERT INTO lms.ProcessedFiles (FullPath, ResourceName, NumberOfRows, UploadDateTime, Checksum, Applied)
            SELECT f.p, f.r, f.n, CAST($4 AS TIMESTAMP), f.c, CAST($6 AS BOOLEAN)
            FROM unnest(CAST($1 AS TEXT[]), CAST($2 AS TEXT[]), CAST($3 AS INT[]), CAST($5 AS TEXT[])) AS f (p, r, n, c)
            ON CONFLICT (FullPath) DO UPDATE SET ResourceName = excluded.ResourceName, NumberOfRows = excluded.NumberOfRows,
                UploadDateTime = excluded.UploadDateTime, Checksum = excluded.Checksum, Applied = excluded.Applied
            """, [PostgresArray.literal(requests.map(\.fullPath)), PostgresArray.literal(requests.map(\.schema.resource.rawValue)),
                  PostgresArray.literal(requests.map { String($0.rowCount) }), now, PostgresArray.literal(requests.map(\.checksum)),
                  applied ? "1" : "0"])
    }
}

/// PostgreSQL's text form of a one-dimensional array, for a `text[]` bind parameter: every element
/// double-quoted, with its backslashes and quotes escaped (so commas, braces and spaces are data).
enum PostgresArray {
    static func literal(_ values: [String]) -> String {
        "{" + values.map { v in
            "\"" + v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ",") + "}"
    }
}
