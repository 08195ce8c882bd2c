import Extract
import SQLiteDB

/// What staging one file did.
public enum StageOutcome: Sendable, Equatable {
    /// A new version was staged with this ledger id.
    case staged(id: Int64, rows: Int, warnings: [String])
    /// This exact version (path and checksum) is already in the ledger.
    case unchanged(id: Int64)
}

/// Receives a file's validated rows during staging, and stages each against the open versions of
/// the file's scope (`RowVersions`): an unchanged row costs one index lookup, not an insert.
public final class RowSink {
    let fileId: Int64
    let scopeId: Int64
    let width: Int
    let key: (identifier: Int, system: Int)
    let probe: Statement, insert: Statement, close: Statement, replace: Statement, see: Statement, seenAt: Statement
    let db: SQLiteDatabase
    /// Rows appended so far.
    public private(set) var count = 0
    /// The `SourceSystem` values of the rows.
    private(set) var sourceSystems: Set<String> = []
    /// Natural keys that appeared more than once, in order of their second appearance, with the
    /// lines they appeared on.
    private var repeated: [(key: NaturalKeyText, lines: [Int])] = []
    private var repeatedIndex: [NaturalKeyText: Int] = [:]

    struct NaturalKeyText: Hashable { var identifier: String; var system: String }

    init(db: SQLiteDatabase, schema: ResourceSchema, fileId: Int64, scopeId: Int64) throws {
        self.db = db
        self.fileId = fileId
        self.scopeId = scopeId
        width = schema.columns.count
        guard let sid = schema.index(of: "SourceSystemIdentifier"), let ss = schema.index(of: "SourceSystem") else {
            preconditionFailure("\(schema.resource): every resource has the natural key columns")
        }
        key = (sid, ss)
        let t = BufferSchema.rowsTable(schema.resource), open = BufferSchema.open
        let names = schema.columns.map { BufferSchema.quote($0.name) }
        probe = try db.cached("""
            SELECT from_file, line, row_hash FROM \(t) INDEXED BY \(BufferSchema.openIndexName(schema.resource))
            WHERE scope_id = ?1 AND to_file = \(open) AND SourceSystemIdentifier = ?2 AND SourceSystem = ?3
            """)
        let placeholders = (1...(names.count + 4)).map { "?\($0)" }.joined(separator: ", ")
        insert = try db.cached("INSERT INTO \(t) (scope_id, from_file, line, row_hash, \(names.joined(separator: ", "))) VALUES (\(placeholders))")
        close = try db.cached("UPDATE \(t) SET to_file = ?1 WHERE scope_id = ?2 AND from_file = ?3 AND line = ?4")
        let sets = names.enumerated().map { "\($1) = ?\($0 + 6)" }.joined(separator: ", ")
        replace = try db.cached("UPDATE \(t) SET line = ?3, row_hash = ?4, waiting = 0, \(sets) WHERE scope_id = ?1 AND from_file = ?2 AND line = ?5")
        see = try db.cached("INSERT OR IGNORE INTO temp.staged_seen (id, at_line) VALUES (?1, ?2)")
        seenAt = try db.cached("SELECT at_line FROM temp.staged_seen WHERE id = ?1")
    }

    /// Stages one validated row, with its hash, inside the file's transaction. A natural key the
    /// file repeats keeps its last row (upstream aborts the whole run); `finish` tells which.
    public func append(_ row: ResourceRow) throws {
        count += 1
        let identifier = row.values[key.identifier] ?? "", system = row.values[key.system] ?? ""
        sourceSystems.insert(system)
        let hash = RowHash.of(row.values)
        probe.bindInt(scopeId, at: 1)
        try probe.bindText(identifier, at: 2)
        try probe.bindText(system, at: 3)
        guard try probe.step() else {
            probe.reset()
            return try insertVersion(row, hash: hash)
        }
        let from = probe.integer(0), line = Int(probe.integer(1)), previousHash = probe.isNull(2) ? nil : probe.integer(2)
        probe.reset()
        if from == fileId {
            // A key this file already had: the later row replaces the earlier one's version.
            noteRepeat(NaturalKeyText(identifier: identifier, system: system), earlier: line, now: row.line)
            replace.bindInt(scopeId, at: 1)
            replace.bindInt(fileId, at: 2)
            replace.bindInt(Int64(row.line), at: 3)
            replace.bindInt(hash, at: 4)
            replace.bindInt(Int64(line), at: 5)
            for i in 0..<width { try replace.bindText(row.values[i], at: Int32(i + 6)) }
            return try replace.runToEnd()
        }
        // A version of an earlier snapshot: this file has it (unless it changes now).
        let version = StagedRowID.of(file: from, line: line)
        see.bindInt(version, at: 1)
        see.bindInt(Int64(row.line), at: 2)
        try see.runToEnd()
        if db.changes == 0 {
            seenAt.bindInt(version, at: 1)
            let earlier = try seenAt.step() ? Int(seenAt.integer(0)) : line
            seenAt.reset()
            noteRepeat(NaturalKeyText(identifier: identifier, system: system), earlier: earlier, now: row.line)
        }
        guard previousHash != hash else { return }
        close.bindInt(fileId, at: 1)
        close.bindInt(scopeId, at: 2)
        close.bindInt(from, at: 3)
        close.bindInt(Int64(line), at: 4)
        try close.runToEnd()
        try insertVersion(row, hash: hash)
    }

    private func insertVersion(_ row: ResourceRow, hash: Int64) throws {
        insert.bindInt(scopeId, at: 1)
        insert.bindInt(fileId, at: 2)
        insert.bindInt(Int64(row.line), at: 3)
        insert.bindInt(hash, at: 4)
        for i in 0..<width { try insert.bindText(row.values[i], at: Int32(i + 5)) }
        try insert.runToEnd()
    }

    private func noteRepeat(_ key: NaturalKeyText, earlier: Int, now: Int) {
        if let i = repeatedIndex[key] {
            repeated[i].lines.append(now)
        } else {
            repeatedIndex[key] = repeated.count
            repeated.append((key, [earlier, now]))
        }
    }

    /// After the last row: the versions of the scope's previous snapshot that this file lacks end
    /// here. Returns a warning per repeated natural key.
    func finish(table: String, path: String) throws -> [String] {
        try db.run("""
            UPDATE \(table) AS v SET to_file = ?1 WHERE v.scope_id = ?2 AND v.to_file = \(BufferSchema.open) AND v.from_file < ?1
            AND NOT EXISTS (SELECT 1 FROM temp.staged_seen s WHERE s.id = (v.from_file << 32 | v.line))
            """, [.integer(fileId), .integer(scopeId)])
        return repeated.map { r in
            "\(path): key (\(r.key.identifier), \(r.key.system)) appears on lines \(r.lines.map(String.init).joined(separator: ", ")); the last one (line \(r.lines.last ?? 0)) is used"
        }
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
            // Ids only grow (a high-water mark in meta): a snapshot's rows are the versions valid at
            // its id, so an id must never be used twice, even after its ledger row is gone.
            let id = max(try db.scalar("SELECT max(id) FROM files")?.integer ?? 0,
                         Int64(try meta("last_file_id") ?? "") ?? 0) + 1
            try db.run("""
                INSERT INTO files (id, path, sha256, resource, scope, section_id, assignment_id, snapshot_date, snapshot,
                                   size, mtime_ns, state, first_seen_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.integer(id), .text(file.relativePath), .text("pending:\(now)"), .text(file.resource.rawValue), .text(file.scope.key),
                      SQLValue(file.scope.sectionId), SQLValue(file.scope.assignmentId), SQLValue(file.scope.date),
                      .text(file.snapshot), .integer(size), .integer(mtimeNs), .text(FileState.staged.rawValue), .text(now), .text(now)])
            try db.run("INSERT INTO meta (key, value) VALUES ('last_file_id', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [.text(String(id))])
            guard let scope = try scopeId(of: file.resource, file.scope.key, create: true) else { preconditionFailure("a scope is numbered when created") }
            // The versions of the scope this file has (by `StagedRowID`), and the line that had each.
            // A rowid table: measured faster than a two-column key.
            try db.execute("CREATE TEMP TABLE IF NOT EXISTS staged_seen (id INTEGER PRIMARY KEY, at_line INTEGER NOT NULL)")
            try db.run("DELETE FROM temp.staged_seen")
            let sink = try RowSink(db: db, schema: schema, fileId: id, scopeId: scope)
            let content = try read(sink)

            if let existing = try db.scalar("SELECT id FROM files WHERE path = ? AND sha256 = ?", [.text(file.relativePath), .text(content.sha256)])?.integer {
                let latest = try db.scalar("SELECT max(id) FROM files WHERE path = ? AND id <> ?", [.text(file.relativePath), .integer(id)])?.integer
                guard latest != existing else { return .rollback(.unchanged(id: existing)) }
                // The file went back to an earlier content: that is a change. The old ledger row of
                // that content makes way for this version (the key is path and checksum).
                try forget(existing)
            }
            let warnings = try sink.finish(table: table, path: file.relativePath)
            try db.run("DELETE FROM temp.staged_seen")
            let systems = sink.sourceSystems.sorted()
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

    /// Removes a version from the ledger; its errors stay, unlinked. Its row versions stay too (later
    /// snapshots of the scope may share them) until a prune of the scope finds them unneeded.
    func forget(_ id: Int64) throws {
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
