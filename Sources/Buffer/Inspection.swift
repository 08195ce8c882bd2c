import Extract
import SQLiteDB

/// Files and rows per state and resource.
public struct StateCount: Sendable, Codable, Equatable {
    public var state: String
    public var resource: String
    public var files: Int
    public var rows: Int
    public var waitingRows: Int
}

public struct ErrorEntry: Sendable, Codable, Equatable {
    public var id: Int64
    public var fileId: Int64?
    public var path: String?
    public var at: String
    public var phase: String
    public var message: String
}

/// A staged row, for `inspect rows` and `inspect waiting`.
public struct StagedRow: Sendable, Codable, Equatable {
    public var fileId: Int64
    public var line: Int
    public var waiting: Bool
    public var values: [String: String?]
}

/// The read-only queries behind `status` and `inspect`.
extension Buffer {
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

    public func lastErrors(limit: Int = 10) throws -> [ErrorEntry] {
        try db.namedRows("""
            SELECT e.id, e.file_id, f.path, e.at, e.phase, e.message FROM errors e LEFT JOIN files f ON f.id = e.file_id
            ORDER BY e.id DESC LIMIT ?
            """, [.integer(Int64(limit))]).map {
            ErrorEntry(id: $0["id"].integer ?? 0, fileId: $0["file_id"].integer, path: $0["path"].text, at: $0["at"].text ?? "",
                       phase: $0["phase"].text ?? "", message: $0["message"].text ?? "")
        }
    }

    /// Staged rows of a file, in line order.
    public func stagedRows(of file: LedgerFile, waitingOnly: Bool = false, limit: Int = 100) throws -> [StagedRow] {
        guard let resource = file.resource else { return [] }
        let names = try schema(of: resource).columns.map(\.name)
        let rows = try db.namedRows("""
            SELECT line, waiting, \(names.map(BufferSchema.quote).joined(separator: ", ")) FROM \(BufferSchema.rowsTable(resource))
            WHERE file_id = ?\(waitingOnly ? " AND waiting = 1" : "") ORDER BY line LIMIT ?
            """, [.integer(file.id), .integer(Int64(limit))])
        return rows.map { r in
            var values: [String: String?] = [:]
            for n in names { values[n] = r[n].text }
            return StagedRow(fileId: file.id, line: Int(r["line"].integer ?? 0), waiting: r["waiting"].integer == 1, values: values)
        }
    }
}
