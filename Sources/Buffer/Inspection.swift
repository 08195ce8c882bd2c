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
        try db.query("""
            SELECT state, coalesce(resource, '(other)'), count(*), coalesce(sum(row_count), 0), coalesce(sum(waiting_rows), 0)
            FROM files GROUP BY state, resource ORDER BY state, resource
            """).map {
            StateCount(state: $0[0].text ?? "", resource: $0[1].text ?? "", files: Int($0[2].integer ?? 0),
                       rows: Int($0[3].integer ?? 0), waitingRows: Int($0[4].integer ?? 0))
        }
    }

    /// Rejected files whose newest version is still the rejected one (a fixed file clears it).
    public func outstandingRejected() throws -> [LedgerFile] {
        try files(where: "state = 'rejected' AND id = (SELECT max(f2.id) FROM files f2 WHERE f2.path = files.path)")
    }

    /// Files the mass-delete guard holds.
    public func heldFiles() throws -> [LedgerFile] {
        try files(where: "state = ?", [.text(FileState.held.rawValue)], order: "id")
    }

    public func waitingFiles() throws -> [LedgerFile] {
        try files(where: "state = 'waiting'", order: "id")
    }

    public func oldestPending() throws -> LedgerFile? {
        try files(where: "state IN ('staged', 'waiting')", order: "first_seen_at, id", limit: 1).first
    }

    public func lastErrors(limit: Int = 10) throws -> [ErrorEntry] {
        try db.query("""
            SELECT e.id, e.file_id, f.path, e.at, e.phase, e.message FROM errors e LEFT JOIN files f ON f.id = e.file_id
            ORDER BY e.id DESC LIMIT ?
            """, [.integer(Int64(limit))]).map {
            ErrorEntry(id: $0[0].integer ?? 0, fileId: $0[1].integer, path: $0[2].text, at: $0[3].text ?? "",
                       phase: $0[4].text ?? "", message: $0[5].text ?? "")
        }
    }

    /// Staged rows of a file, in line order.
    public func stagedRows(of file: LedgerFile, waitingOnly: Bool = false, limit: Int = 100) throws -> [StagedRow] {
        guard let resource = file.resource else { return [] }
        let names = resource.schema.columns.map(\.name)
        let rows = try db.query("""
            SELECT line, waiting, \(names.map(BufferSchema.quote).joined(separator: ", ")) FROM \(BufferSchema.rowsTable(resource))
            WHERE file_id = ?\(waitingOnly ? " AND waiting = 1" : "") ORDER BY line LIMIT ?
            """, [.integer(file.id), .integer(Int64(limit))])
        return rows.map { r in
            var values: [String: String?] = [:]
            for (i, n) in names.enumerated() { values[n] = r[i + 2].text }
            return StagedRow(fileId: file.id, line: Int(r[0].integer ?? 0), waiting: r[1].integer == 1, values: values)
        }
    }
}
