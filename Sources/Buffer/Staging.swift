import Extract
import SQLiteDB

/// What staging one file did.
public enum StageOutcome: Sendable, Equatable {
    /// A new version was staged with this ledger id.
    case staged(id: Int64, rows: Int, warnings: [String])
    /// This exact version (path and checksum) is already in the ledger.
    case unchanged(id: Int64)
}

/// Receives a file's validated rows during staging.
public final class RowSink {
    let statement: Statement
    let fileId: Int64
    let width: Int
    /// Rows appended so far.
    public private(set) var count = 0

    init(statement: Statement, fileId: Int64, width: Int) {
        self.statement = statement
        self.fileId = fileId
        self.width = width
    }

    /// Stages one validated row, with its hash, inside the file's transaction.
    public func append(_ row: ResourceRow) throws {
        statement.reset()
        statement.bindInt(fileId, at: 1)
        statement.bindInt(Int64(row.line), at: 2)
        statement.bindInt(RowHash.of(row.values), at: 3)
        for i in 0..<width { try statement.bindText(row.values[i], at: Int32(i + 4)) }
        try statement.runToEnd()
        count += 1
    }
}

/// What the header and body of a staged file told the stager.
public struct StagedContent: Sendable {
    /// The SHA-256 of exactly the bytes read.
    public var sha256: String
    /// For each schema column, whether the file's header had it.
    public var present: [Bool]
    /// Rows read.
    public var rowCount: Int
    /// What a read of the file found.
    public init(sha256: String, present: [Bool], rowCount: Int) {
        self.sha256 = sha256
        self.present = present
        self.rowCount = rowCount
    }
}

/// Staging: a file's rows into the buffer and its version into the ledger, in one transaction.
extension Buffer {
    /// Stages a file in one transaction. `read` streams the file's rows into the sink and returns
    /// what it read; if it throws, nothing of the file stays in the buffer.
    ///
    /// A version already in the ledger (same path and checksum) is left as it is. A new version of a
    /// path makes its earlier versions that were never forwarded `superseded`.
    public func stage(_ file: ExtractFile, size: Int64, mtimeNs: Int64,
                      read: (RowSink) throws -> StagedContent) throws -> StageOutcome {
        let schema = try schema(of: file.resource)
        let table = BufferSchema.rowsTable(file.resource)
        let now = Timestamp.now()
        // An unchanged version is found only after its rows were read (the checksum is computed on
        // the way): the transaction then rolls back what it wrote and reports the known version.
        return try db.commitOrRollback {
            // A provisional ledger row gives the rows their file id; its checksum is set at the end.
            try db.run("""
                INSERT INTO files (path, sha256, resource, scope, section_id, assignment_id, snapshot_date, snapshot,
                                   size, mtime_ns, state, first_seen_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(file.relativePath), .text("pending:\(now)"), .text(file.resource.rawValue), .text(file.scope.key),
                      SQLValue(file.scope.sectionId), SQLValue(file.scope.assignmentId), SQLValue(file.scope.date),
                      .text(file.snapshot), .integer(size), .integer(mtimeNs), .text(FileState.staged.rawValue), .text(now), .text(now)])
            let id = db.lastInsertRowID
            let placeholders = Array(repeating: "?", count: schema.columns.count + 3).joined(separator: ", ")
            let insert = try db.cached("INSERT INTO \(table) (file_id, line, row_hash, \(schema.columns.map { BufferSchema.quote($0.name) }.joined(separator: ", "))) VALUES (\(placeholders))")
            let sink = RowSink(statement: insert, fileId: id, width: schema.columns.count)
            let content = try read(sink)

            if let existing = try db.scalar("SELECT id FROM files WHERE path = ? AND sha256 = ?", [.text(file.relativePath), .text(content.sha256)])?.integer {
                let latest = try db.scalar("SELECT max(id) FROM files WHERE path = ? AND id <> ?", [.text(file.relativePath), .integer(id)])?.integer
                guard latest != existing else { return .rollback(.unchanged(id: existing)) }
                // The file went back to an earlier content: that is a change. The old ledger row of
                // that content makes way for this version (the key is path and checksum).
                try forget(existing)
            }
            let warnings = try dropDuplicateKeys(table: table, fileId: id, path: file.relativePath)
            let systems = try db.query("SELECT DISTINCT SourceSystem FROM \(table) WHERE file_id = ? ORDER BY 1", [.integer(id)]).compactMap { $0.first?.text }
            let present = zip(schema.columns, content.present).filter { $0.1 }.map { $0.0.name }
            try db.run("""
                UPDATE files SET sha256 = ?, row_count = ?, source_systems = ?, present_columns = ?, warnings = ?, staged_at = ?
                WHERE id = ?
                """, [.text(content.sha256), .integer(Int64(content.rowCount)), .text(systems.joined(separator: "\u{1F}")),
                      .text(present.joined(separator: ",")), SQLValue(warnings.isEmpty ? nil : warnings.joined(separator: "\n")),
                      .text(now), .integer(id)])
            // Older versions of this path that never reached the LMS-DS are stale now.
            try supersedeOtherVersions(of: file.relativePath, keeping: id, reason: "a newer version of this file was staged")
            return .commit(.staged(id: id, rows: content.rowCount, warnings: warnings))
        }
    }

    /// Duplicate natural keys in one file: the last row wins (upstream aborts the whole run).
    private func dropDuplicateKeys(table: String, fileId: Int64, path: String) throws -> [String] {
        let dups = try db.namedRows("""
            SELECT SourceSystemIdentifier, SourceSystem, group_concat(line, ', ') AS lines, max(line) AS kept
            FROM (SELECT SourceSystemIdentifier, SourceSystem, line FROM \(table) WHERE file_id = ? ORDER BY line)
            GROUP BY SourceSystemIdentifier, SourceSystem HAVING count(*) > 1
            """, [.integer(fileId)])
        var warnings: [String] = []
        for d in dups {
            let sid = d["SourceSystemIdentifier"].text ?? "", ss = d["SourceSystem"].text ?? ""
            warnings.append("\(path): key (\(sid), \(ss)) appears on lines \(d["lines"].text ?? ""); the last one (line \(d["kept"].text ?? "")) is used")
            try db.run("DELETE FROM \(table) WHERE file_id = ? AND SourceSystemIdentifier = ? AND SourceSystem = ? AND line <> ?",
                       [.integer(fileId), .text(sid), .text(ss), d["kept"]])
        }
        return warnings
    }

    /// Records a file that cannot be loaded as it is: bad input (`rejected`) or no data (`ignored`).
    /// Recording the same version twice keeps one ledger row.
    @discardableResult
    public func record(_ path: String, file: ExtractFile?, sha256: String, size: Int64, mtimeNs: Int64,
                       state: FileState, error: ExtractError?, reason: String? = nil) throws -> Int64 {
        let now = Timestamp.now()
        return try db.transaction {
            if let id = try db.scalar("SELECT id FROM files WHERE path = ? AND sha256 = ?", [.text(path), .text(sha256)])?.integer {
                let latest = try db.scalar("SELECT max(id) FROM files WHERE path = ?", [.text(path)])?.integer
                if latest == id { return id }
                try forget(id)  // an earlier content came back: a new version
            }
            let message = error?.description ?? reason
            try db.run("""
                INSERT INTO files (path, sha256, resource, scope, section_id, assignment_id, snapshot_date, snapshot, size, mtime_ns,
                                   state, last_error, error_line, error_column, first_seen_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(path), .text(sha256), SQLValue(file?.resource.rawValue), .text(file?.scope.key ?? ""),
                      SQLValue(file?.scope.sectionId), SQLValue(file?.scope.assignmentId), SQLValue(file?.scope.date),
                      .text(file?.snapshot ?? String(path.split(separator: "/").last ?? "")), .integer(size), .integer(mtimeNs),
                      .text(state.rawValue), SQLValue(message), SQLValue(error?.line), SQLValue(error?.column), .text(now), .text(now)])
            let id = db.lastInsertRowID
            if state == .rejected, let message {
                try logError(fileId: id, phase: "stage", message: message)
            }
            try supersedeOtherVersions(of: path, keeping: id, reason: "a newer version of this file was seen")
            return id
        }
    }

    /// Removes a version from the ledger, with its staged rows; its errors stay, unlinked.
    func forget(_ id: Int64) throws {
        if let resource = try file(id: id)?.resource {
            try db.run("DELETE FROM \(BufferSchema.rowsTable(resource)) WHERE file_id = ?", [.integer(id)])
        }
        try db.run("UPDATE errors SET file_id = NULL WHERE file_id = ?", [.integer(id)])
        try db.run("DELETE FROM files WHERE id = ?", [.integer(id)])
    }

    func logError(fileId: Int64?, phase: String, message: String) throws {
        try db.run("INSERT INTO errors (file_id, at, phase, message) VALUES (?, ?, ?, ?)",
                   [SQLValue(fileId.map { Int($0) }), .text(Timestamp.now()), .text(phase), .text(message)])
    }

    /// Every other version of `path` that still waits for the forwarder (or the guard) becomes
    /// superseded: the file on disk has another content now.
    private func supersedeOtherVersions(of path: String, keeping id: Int64, reason: String) throws {
        let from = Buffer.states(from: .superseded)
        try db.run("""
            UPDATE files SET state = ?, waiting_rows = 0, updated_at = ?, last_error = ?
            WHERE path = ? AND id <> ? AND state IN \(from.sql)
            """, [.text(FileState.superseded.rawValue), .text(Timestamp.now()), .text("\(reason) (file \(id))"), .text(path), .integer(id)] + from.values)
    }
}
