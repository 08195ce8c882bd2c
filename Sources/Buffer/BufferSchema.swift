import Extract
import Foundation

/// The buffer's own schema, versioned with `PRAGMA user_version`, and one staged-rows table per
/// registered resource, created from its schema (a registered resource gets its table when the
/// buffer is opened, whatever the version). How the staged-rows tables hold snapshots is told in
/// `RowVersions.swift`.
enum BufferSchema {
    static let version = 4

    /// Steps from one version to the next; `statements` creates the newest schema directly.
    static let upgrades: [Int: [String]] = [
        // 2: a held file that an operator released is applied whatever it deletes.
        1: ["ALTER TABLE files ADD COLUMN guard_released INTEGER NOT NULL DEFAULT 0"],
        // 3: rows get a hash (`RowHash`) for delta snapshots; the staged-rows tables are upgraded
        // by `Buffer.migrate` (their names come from the registry). Rows staged before have none,
        // and a snapshot compared with them is forwarded in full.
        2: [],
        // 4: staged rows become row versions shared by the snapshots of a scope (`RowVersions`);
        // `Buffer.migrate` rebuilds the staged-rows tables.
        3: [scopesTable],
    ]

    /// The staged-rows table of a resource: every CSV column as text, plus file id and line.
    static func rowsTable(_ resource: Resource) -> String {
        // Not Foundation's replacingOccurrences: these run for every file staged or read, and cost
        // 5 % of a day-2 flush that way (measured with perf).
        "rows_" + String(resource.rawValue.map { $0 == "-" ? "_" : $0 })
    }

    static func quote(_ name: String) -> String {
        "\"" + (name.contains("\"") ? String(name.flatMap { $0 == "\"" ? ["\"", "\""] : [$0] }) : name) + "\""
    }

    /// The scopes (resource and scope key) whose snapshots the buffer has staged: a staged row names
    /// its scope by this number, not by the key's text.
    static let scopesTable = """
        CREATE TABLE IF NOT EXISTS scopes (id INTEGER PRIMARY KEY, resource TEXT NOT NULL, key TEXT NOT NULL, UNIQUE (resource, key))
        """

    static var statements: [String] {
        [
            scopesTable,
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS files (
                id INTEGER PRIMARY KEY,
                path TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                resource TEXT,
                scope TEXT NOT NULL DEFAULT '',
                section_id TEXT,
                assignment_id TEXT,
                snapshot_date TEXT,
                snapshot TEXT NOT NULL,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                row_count INTEGER NOT NULL DEFAULT 0,
                waiting_rows INTEGER NOT NULL DEFAULT 0,
                source_systems TEXT NOT NULL DEFAULT '',
                present_columns TEXT NOT NULL DEFAULT '',
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                error_line INTEGER,
                error_column TEXT,
                warnings TEXT,
                first_seen_at TEXT NOT NULL,
                staged_at TEXT,
                forwarded_at TEXT,
                updated_at TEXT NOT NULL,
                guard_released INTEGER NOT NULL DEFAULT 0,
                UNIQUE (path, sha256)
            )
            """,
            "CREATE INDEX IF NOT EXISTS files_state ON files (state, resource)",
            "CREATE INDEX IF NOT EXISTS files_scope ON files (resource, scope, snapshot)",
            """
            CREATE TABLE IF NOT EXISTS errors (
                id INTEGER PRIMARY KEY,
                file_id INTEGER REFERENCES files (id),
                at TEXT NOT NULL,
                phase TEXT NOT NULL,
                message TEXT NOT NULL
            )
            """,
        ]
    }

    /// The `to_file` of a row version still in the newest staged snapshot of its scope. A number, not
    /// NULL, so that "valid at file F" is one range (`to_file > F`) of an index.
    static let open = "9223372036854775807"

    /// Creates the staged-rows table of a resource: the row versions of its scopes (`RowVersions`),
    /// each with every CSV column as text, its hash, and whether it waits for a parent; clustered by
    /// scope and first file, so that a snapshot's rows and a delta's are ranges of the table.
    static func createRowsTable(_ schema: ResourceSchema, named name: String? = nil) -> [String] {
        let t = name ?? rowsTable(schema.resource)
        let cols = schema.columns.map { "\(quote($0.name)) TEXT" }.joined(separator: ", ")
        var statements = ["""
            CREATE TABLE IF NOT EXISTS \(t) (
                scope_id INTEGER NOT NULL, from_file INTEGER NOT NULL, line INTEGER NOT NULL,
                to_file INTEGER NOT NULL DEFAULT \(open), waiting INTEGER NOT NULL DEFAULT 0, row_hash INTEGER, \(cols),
                PRIMARY KEY (scope_id, from_file, line)) WITHOUT ROWID
            """]
        if name == nil { statements += indexes(schema.resource) }
        return statements
    }

    /// The indexes of a staged-rows table, each partial so that it costs only the rows it serves:
    /// the open versions by natural key (staging finds a row's previous version, and a scope holds
    /// one open version of a key), the closed ones by where they end (pruning, dropped keys), and
    /// the waiting ones.
    static func indexes(_ resource: Resource) -> [String] {
        let t = rowsTable(resource)
        return [
            "CREATE UNIQUE INDEX IF NOT EXISTS \(openIndexName(resource)) ON \(t) (scope_id, SourceSystemIdentifier, SourceSystem) WHERE to_file = \(open)",
            "CREATE INDEX IF NOT EXISTS \(t)_closed ON \(t) (scope_id, to_file) WHERE to_file < \(open)",
            "CREATE INDEX IF NOT EXISTS \(t)_waiting ON \(t) (scope_id) WHERE waiting = 1",
        ]
    }

    static func openIndexName(_ resource: Resource) -> String { rowsTable(resource) + "_open" }

    /// Upgrades an existing staged-rows table to version 3: the hash column and the key index.
    static func addRowHash(_ resource: Resource) -> [String] {
        ["ALTER TABLE \(rowsTable(resource)) ADD COLUMN row_hash INTEGER",
         "CREATE INDEX IF NOT EXISTS \(rowsTable(resource))_key ON \(rowsTable(resource)) (file_id, SourceSystemIdentifier, SourceSystem, row_hash, waiting)"]
    }

    /// Rebuilds a version-3 staged-rows table (one copy of the rows per file) as row versions: each
    /// file's rows become versions of its scope, valid from that file to the next staged file of the
    /// scope (open for the last one; a staged file without rows, header-only, reads back empty). No version is shared, so the first delta after the
    /// upgrade forwards its snapshot in full; every snapshot reads back exactly as it was staged.
    static func rebuildAsVersions(_ schema: ResourceSchema) -> [String] {
        let t = rowsTable(schema.resource), old = t + "_v3"
        // Every file that staged (rows or not): each is a snapshot whose rows end the previous one's.
        let staged = "f.resource = '\(schema.resource.rawValue)' AND f.staged_at IS NOT NULL AND f.sha256 <> '\(LedgerFile.unreadableChecksum)'"
        let cols = schema.columns.map { quote($0.name) }.joined(separator: ", ")
        return ["DROP INDEX IF EXISTS \(t)_key", "ALTER TABLE \(t) RENAME TO \(old)"]
            + createRowsTable(schema)
            + ["""
            INSERT OR IGNORE INTO scopes (resource, key)
            SELECT DISTINCT f.resource, f.scope FROM files f WHERE \(staged)
            """, """
            WITH chain AS (
                SELECT f.id, s.id AS scope_id, lead(f.id) OVER (PARTITION BY f.resource, f.scope ORDER BY f.id) AS next
                FROM files f JOIN scopes s ON s.resource = f.resource AND s.key = f.scope
                WHERE \(staged))
            INSERT INTO \(t) (scope_id, from_file, line, to_file, waiting, row_hash, \(cols))
            SELECT c.scope_id, o.file_id, o.line, coalesce(c.next, \(open)), o.waiting, o.row_hash, \(schema.columns.map { "o." + quote($0.name) }.joined(separator: ", "))
            FROM \(old) o JOIN chain c ON c.id = o.file_id
            """, "DROP TABLE \(old)"]
    }
}
