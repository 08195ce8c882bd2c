import Extract
import Foundation

/// The buffer's own schema, versioned with `PRAGMA user_version`, and one staged-rows table per
/// registered resource, created from its schema (a registered resource gets its table when the
/// buffer is opened, whatever the version).
enum BufferSchema {
    static let version = 3

    /// Steps from one version to the next; `statements` creates the newest schema directly.
    static let upgrades: [Int: [String]] = [
        // 2: a held file that an operator released is applied whatever it deletes.
        1: ["ALTER TABLE files ADD COLUMN guard_released INTEGER NOT NULL DEFAULT 0"],
        // 3: rows get a hash (`RowHash`) for delta snapshots; the staged-rows tables are upgraded
        // by `Buffer.migrate` (their names come from the registry). Rows staged before have none,
        // and a snapshot compared with them is forwarded in full.
        2: [],
    ]

    /// The staged-rows table of a resource: every CSV column as text, plus file id and line.
    static func rowsTable(_ resource: Resource) -> String {
        "rows_" + resource.rawValue.replacingOccurrences(of: "-", with: "_")
    }

    static func quote(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    static var statements: [String] {
        [
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

    /// Creates the staged-rows table of a resource: every CSV column as text, plus file id, line and
    /// the row's hash; and the index by which a snapshot finds the previous one's row of each key.
    static func createRowsTable(_ schema: ResourceSchema) -> [String] {
        let cols = schema.columns.map { "\(quote($0.name)) TEXT" }.joined(separator: ", ")
        return ["""
            CREATE TABLE IF NOT EXISTS \(rowsTable(schema.resource)) (
                file_id INTEGER NOT NULL, line INTEGER NOT NULL, waiting INTEGER NOT NULL DEFAULT 0, row_hash INTEGER, \(cols),
                PRIMARY KEY (file_id, line)) WITHOUT ROWID
            """, keyIndex(schema.resource)]
    }

    /// (file, natural key, hash, waiting): a delta looks up each row's previous version by it,
    /// without reading the row itself.
    static func keyIndex(_ resource: Resource) -> String {
        let t = rowsTable(resource)
        return "CREATE INDEX IF NOT EXISTS \(keyIndexName(resource)) ON \(t) (file_id, SourceSystemIdentifier, SourceSystem, row_hash, waiting)"
    }

    static func keyIndexName(_ resource: Resource) -> String { rowsTable(resource) + "_key" }

    /// Upgrades an existing staged-rows table to version 3: the hash column and the key index.
    static func addRowHash(_ resource: Resource) -> [String] {
        ["ALTER TABLE \(rowsTable(resource)) ADD COLUMN row_hash INTEGER", keyIndex(resource)]
    }
}
