import Extract
import SQLiteDB

/// Files and rows per state and resource.
public struct StateCount: Sendable, Codable, Equatable {
    /// The state's name (`staged`, `forwarded`, ...).
    public var state: String
    /// The resource's name, or `(other)` for ledger rows of no resource.
    public var resource: String
    /// File versions in this state and resource.
    public var files: Int
    /// Their rows.
    public var rows: Int
    /// Of those rows, the ones waiting for their parents.
    public var waitingRows: Int
}

/// One entry of the buffer's error log: a staging or forwarding failure, or a hold of the mass-delete
/// guard, kept for `inspect errors` and `status`.
public struct ErrorEntry: Sendable, Codable, Equatable {
    /// The entry's id; newer entries have larger ids.
    public var id: Int64
    /// The ledger row it is about, if any.
    public var fileId: Int64?
    /// That file's path.
    public var path: String?
    /// When it happened (UTC, canonical form).
    public var at: String
    /// The step that failed: `stage`, `forward` or `guard`.
    public var phase: String
    /// The error, as the operator sees it.
    public var message: String
}

/// A staged row, for `inspect rows` and `inspect waiting`.
public struct StagedRow: Sendable, Codable, Equatable {
    /// The ledger row the row was staged from: the first snapshot of its scope that had these values
    /// (later snapshots that have them unchanged share the staged row).
    public var fileId: Int64
    /// Its physical line in that file.
    public var line: Int
    /// It waits for a parent that is not in the LMS-DS yet.
    public var waiting: Bool
    /// Its values by column name, as staged (nil is NULL).
    public var values: [String: String?]
}

/// The read-only queries behind `status` and `inspect`.
extension Buffer {
    /// Files and rows per state and resource, for `status`.
    public func stateCounts() throws -> [StateCount] {
        try db.namedRows("""
            SELECT state, coalesce(resource, '(other)') AS resource_name, count(*) AS files, coalesce(sum(row_count), 0) AS rows,
                   coalesce(sum(waiting_rows), 0) AS waiting_rows
            FROM files GROUP BY state, resource ORDER BY state, resource
            """).map {
            StateCount(state: $0["state"].text ?? "", resource: $0["resource_name"].text ?? "", files: Int($0["files"].integer ?? 0),
                       rows: Int($0["rows"].integer ?? 0), waitingRows: Int($0["waiting_rows"].integer ?? 0))
        }
    }

    /// The newest `limit` entries of the error log, newest first.
    public func lastErrors(limit: Int = 10) throws -> [ErrorEntry] {
        try db.namedRows("""
            SELECT e.id, e.file_id, f.path, e.at, e.phase, e.message FROM errors e LEFT JOIN files f ON f.id = e.file_id
            ORDER BY e.id DESC LIMIT ?
            """, [.integer(Int64(limit))]).map {
            ErrorEntry(id: $0["id"].integer ?? 0, fileId: $0["file_id"].integer, path: $0["path"].text, at: $0["at"].text ?? "",
                       phase: $0["phase"].text ?? "", message: $0["message"].text ?? "")
        }
    }

    /// Staged rows of a file, in the order of the snapshots that first had them, then of their lines
    /// there (an unchanged row is stored once, from the snapshot that first had it).
    public func stagedRows(of file: LedgerFile, waitingOnly: Bool = false, limit: Int = 100) throws -> [StagedRow] {
        guard let resource = file.resource, let scope = try scopeId(of: file) else { return [] }
        let names = try schema(of: resource).columns.map(\.name)
        let rows = try db.namedRows("""
            SELECT v.from_file, v.line, v.waiting, \(names.map { "v." + BufferSchema.quote($0) }.joined(separator: ", ")) FROM \(BufferSchema.rowsTable(resource)) v
            WHERE v.scope_id = ?1 AND \(RowVersions.valid(at: "?2"))\(waitingOnly ? " AND v.waiting = 1" : "") ORDER BY v.from_file, v.line LIMIT ?3
            """, [.integer(scope), .integer(file.id), .integer(Int64(limit))])
        return rows.map { r in
            var values: [String: String?] = [:]
            for n in names { values[n] = r[n].text }
            return StagedRow(fileId: r["from_file"].integer ?? file.id, line: Int(r["line"].integer ?? 0), waiting: r["waiting"].integer == 1, values: values)
        }
    }
}
