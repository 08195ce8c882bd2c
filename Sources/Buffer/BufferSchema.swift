import Extract
import Foundation

/// The buffer's own schema, versioned with `PRAGMA user_version`, and one staged-rows table per
/// registered resource, created from its schema (a registered resource gets its table when the
/// buffer is opened, whatever the version).
enum BufferSchema {
    static let version = 2

    /// Steps from one version to the next; `statements` creates the newest schema directly.
    static let upgrades: [Int: [String]] = [
        // 2: a held file that an operator released is applied whatever it deletes.
        1: ["ALTER TABLE files ADD COLUMN guard_released INTEGER NOT NULL DEFAULT 0"],
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

    /// Creates the staged-rows table of a resource: every CSV column as text, plus file id and line.
    static func createRowsTable(_ schema: ResourceSchema) -> String {
        let cols = schema.columns.map { "\(quote($0.name)) TEXT" }.joined(separator: ", ")
        return """
            CREATE TABLE IF NOT EXISTS \(rowsTable(schema.resource)) (
                file_id INTEGER NOT NULL, line INTEGER NOT NULL, waiting INTEGER NOT NULL DEFAULT 0, \(cols),
                PRIMARY KEY (file_id, line)) WITHOUT ROWID
            """
    }
}
