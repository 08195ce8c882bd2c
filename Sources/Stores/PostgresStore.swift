import Extract
import PostgresDB

/// How to reach a PostgreSQL LMS-DS. The password is never part of `description`.
public struct PostgresTarget: Sendable, CustomStringConvertible {
    public var host: String?
    public var port: Int?
    public var database: String?
    public var user: String?
    public var password: String?
    public var sslmode: String?
    /// A `postgresql://` URI or a `key=value` conninfo string; the options above override its parts.
    public var connectionString: String?

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
public final class PostgresStore: LMSDataStore, @unchecked Sendable {
    public let target: PostgresTarget
    let extraMigrations: String?
    /// The resources whose tables this LMS-DS holds (their DDL: the shipped scripts and `extraMigrations`).
    public let registry: ResourceRegistry
    let dialect = PostgresDialect()
    private var connection: PostgresConnection?
    private var stagingCreated: Set<String> = []
    /// Rows the agent added to each table since it last refreshed the table's planner statistics,
    /// and the table's size then.
    private var growth: [String: (added: Int, base: Int)] = [:]

    /// Files up to this many rows are merged with index nested loops only.
    static let smallFile = 20_000

    /// The transaction-scoped advisory lock every agent takes on a file's transaction, so that two
    /// agents on one LMS-DS never interleave their merges ('lmsagent' in ASCII).
    public static let lockKey: Int64 = 0x6C6D_7361_6765_6E74

    public var location: String {
        if let c = connection, c.isOK { return "postgresql://\(c.summary)" }
        return target.description
    }

    public init(target: PostgresTarget, extraMigrations: String? = nil, registry: ResourceRegistry = .standard) throws {
        self.target = target
        self.extraMigrations = extraMigrations
        self.registry = registry
        _ = try connect()
    }

    /// The open connection, reconnecting when it was lost (the server restarted, the network dropped).
    private func connect() throws -> PostgresConnection {
        if let c = connection, c.isOK { return c }
        connection = nil
        stagingCreated = []
        do {
            let c = try PostgresConnection(parameters: target.parameters, expandDBName: target.connectionString != nil)
            try c.execute("SET TIME ZONE 'UTC'")
            connection = c
            return c
        } catch let e as PostgresError {
            throw StoreError.unavailable("cannot connect to \(target): \(e.message)")
        }
    }

    /// The one place where libpq's and the server's errors become the store's: only a fault of the
    /// data (SQLSTATE classes 22, 23, 54) rejects a file. Everything else (connection, authentication,
    /// disk full, shutdown, permission, a missing table) leaves the file staged to be retried.
    func classify(_ error: any Error) -> any Error {
        guard let e = error as? PostgresError else { return error }
        if let c = connection, !c.isOK { connection = nil }
        if e.isDataFault { return StoreError.rejected(e.description) }
        return StoreError.unavailable(e.description)
    }

    /// Runs `body`, mapping errors with `classify`.
    @discardableResult
    private func classified<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw classify(error) }
    }

    /// Runs `body` in one transaction holding the agent's lock; maps errors to StoreError.
    @discardableResult
    private func inTransaction<T>(mapError: ((PostgresError) -> StoreError?)? = nil, _ body: (PostgresConnection) throws -> T) throws -> T {
        let c = try connect()
        do {
            try c.executeBatch("BEGIN; SELECT pg_advisory_xact_lock(\(PostgresStore.lockKey))")
            let result = try body(c)
            try c.execute("COMMIT")
            return result
        } catch {
            if c.isOK { _ = try? c.execute("ROLLBACK") }
            if let e = error as? PostgresError, let mapped = mapError?(e) { throw mapped }
            throw classify(error)
        }
    }

    // MARK: migrations

    /// Applies the scripts the journal does not list. On a database the upstream loader created,
    /// its journal already lists 0001-0010 (same names), so only the agent's own scripts run. The
    /// operator's scripts (`--migrations-dir`) run after ours and are journaled with their checksum;
    /// one changed since it was applied stops the migration, named.
    public func migrate() throws {
        let scripts = try MigrationScript.load(engine: "postgresql", extraDirectory: extraMigrations)
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
        for script in scripts {
            // A script the server refuses (not a lost connection) is a migration failure, named.
            try inTransaction(mapError: { $0.isTransient ? nil : StoreError.migration("\(script.name): \($0.description)") }) { c in
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
        let c = try connect()
        let rows = try c.execute("""
            SELECT count(*) FROM information_schema.columns WHERE table_schema = 'lms' AND table_name = 'processedfiles'
            AND column_name IN ('checksum', 'applied')
            """).rows
        guard rows.first?.first == "2" else {
            throw StoreError.migration("the lms schema is missing or lacks lms-agent's scripts; run once with an account that may run DDL (without --no-migrate)")
        }
    }

    // MARK: files

    public func processedRecord(fullPath: String) throws -> ProcessedRecord {
        let c = try connect()
        return try classified {
            guard let row = try c.execute("SELECT Checksum, Applied FROM lms.ProcessedFiles WHERE FullPath = $1", [fullPath]).rows.first else { return .none }
            return ProcessedRecord(checksum: row[0], applied: row[1])
        }
    }

    public func apply(_ request: ApplyRequest, rows: RowStream) throws -> ApplyResult {
        try createStagingIfNeeded(MergeSQL(schema: request.schema, registry: registry, dialect: dialect, present: request.presentColumns))
        let result = try inTransaction { c in try applyInTransaction(c, request, rows: rows) }
        try refreshStatisticsIfGrown(request.schema.table, by: result.inserted)
        return result
    }

    /// A table that grew by half since its statistics were taken gets fresh ones. Without this, a
    /// first load plans every merge against "an empty table" (autovacuum lags behind) and each
    /// file's merge scans the whole table: quadratic time.
    private func refreshStatisticsIfGrown(_ table: String, by inserted: Int) throws {
        guard inserted > 0 else { return }
        var g = growth[table] ?? (0, -1)
        let c = try connect()
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
            growth[table] = g
        } catch let e as PostgresError {
            // Statistics are an optimisation: an account that may not ANALYZE still loads.
            if e.isTransient { throw classify(e) }
            growth[table] = (0, Int.max / 2)
        }
    }

    /// The session's staging tables are created in a transaction of their own, before the file's:
    /// created inside it, a rejected file's rollback would drop them while `stagingCreated` still
    /// listed them, and every later file of the resource would fail ("relation does not exist").
    private func createStagingIfNeeded(_ merge: MergeSQL) throws {
        guard !stagingCreated.contains(merge.staging) else { return }
        let c = try connect()
        try classified { try c.executeBatch(merge.createStaging.joined(separator: ";\n")) }
        stagingCreated.insert(merge.staging)
    }

    private func applyInTransaction(_ c: PostgresConnection, _ request: ApplyRequest, rows: RowStream) throws -> ApplyResult {
        let applied = request.mode == .snapshot
            ? try isApplied(fullPath: request.fullPath, checksum: request.checksum) : false
        let now = Timestamp.now()
        let merge = MergeSQL(schema: request.schema, registry: registry, dialect: dialect, present: request.presentColumns)
        if !merge.clearStaging.isEmpty { try c.executeBatch(merge.clearStaging.joined(separator: ";\n")) }

        // COPY the rows into staging; each child table's values (assignments' submission types)
        // follow in a COPY of their own.
        let columns = request.schema.columns
        let key = ResourceSchema.naturalKey.compactMap(request.schema.index(of:))
        let children = merge.children.compactMap { m in request.schema.index(of: m.child.column).map { (column: $0, merge: m) } }
        var childRows = [[[String?]]](repeating: [], count: children.count)
        try c.copyIn("COPY \(merge.staging) (\(merge.stagingInputColumns.joined(separator: ", "))) FROM STDIN") { copy in
            var values = [String?](repeating: nil, count: columns.count + 1)
            try rows { row in
                values[0] = String(row.line)
                for i in 0..<columns.count { values[i + 1] = row.values[i] }
                try copy.row(values)
                for (n, child) in children.enumerated() {
                    for v in child.merge.child.values(row.values[child.column]) { childRows[n].append(key.map { row.values[$0] } + [v]) }
                }
            }
        }
        for (n, child) in children.enumerated() where !childRows[n].isEmpty {
            try c.copyIn("COPY \(child.merge.child.staging) (\(child.merge.stagingInputColumns.joined(separator: ", "))) FROM STDIN") { copy in
                for r in childRows[n] { try copy.row(r) }
            }
        }
        if request.schema.deleteScope == .previousSnapshot, request.mode == .snapshot, !request.droppedKeys.isEmpty {
            try c.copyIn("COPY \(MergeSQL.droppedKeyStaging) (SourceSystemIdentifier, SourceSystem) FROM STDIN") { copy in
                for k in request.droppedKeys { try copy.row([k.sourceSystemIdentifier, k.sourceSystem]) }
            }
        }
        if request.rowCount <= PostgresStore.smallFile {
            // A small file's merge joins a few staged rows to large tables by key. The statistics of
            // a table being loaded lag behind, and a stale plan hashes the whole table for every
            // file (measured: quadratic time on a first load); index nested loops are right here.
            try c.executeBatch("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
        } else {
            // A large file: let the planner choose, with statistics of what was just loaded.
            try c.execute("ANALYZE \(merge.staging)")
        }
        return try merge.run(on: PostgresMergeExecutor(connection: c), request, now: now, alreadyApplied: applied)
    }

    public func recordWithoutApplying(_ request: ApplyRequest) throws {
        try inTransaction { c in
            if try isApplied(fullPath: request.fullPath, checksum: request.checksum) { return }
            try MergeSQL.record(on: PostgresMergeExecutor(connection: c), request, dialect: dialect, now: Timestamp.now(), applied: false)
        }
    }

    public func tableCounts() throws -> [(table: String, live: Int, deleted: Int)] {
        let c = try connect()
        let tables = registry.tables
        return try classified {
            try tables.map { t in
                let r = try c.execute("SELECT count(*) - count(DeletedAt), count(DeletedAt) FROM lms.\(t)").rows.first ?? []
                return (t, Int(r.first.flatMap { $0 } ?? "0") ?? 0, Int(r.last.flatMap { $0 } ?? "0") ?? 0)
            }
        }
    }

    public func close() {
        connection = nil
        stagingCreated = []
    }

    /// Runs a query (tests and tools). Every value goes through bind parameters.
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        try connect().execute(sql, parameters).rows
    }
}

/// The merge's statements on a libpq connection; parameter-free ones go in one round trip.
struct PostgresMergeExecutor: MergeExecutor {
    let connection: PostgresConnection
    func execute(_ sql: String, _ parameters: [String]) throws -> Int { try connection.execute(sql, parameters).affected }
    func executeAll(_ statements: [String]) throws {
        if !statements.isEmpty { try connection.executeBatch(statements.joined(separator: ";\n")) }
    }
    func integers(_ sql: String, _ parameters: [String]) throws -> [Int] {
        try connection.execute(sql, parameters).rows.compactMap { $0.first.flatMap { $0 }.flatMap { Int($0) } }
    }
}
