import Extract
import Glibc
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
    public private(set) var count = 0

    init(statement: Statement, fileId: Int64, width: Int) {
        self.statement = statement
        self.fileId = fileId
        self.width = width
    }

    public func append(_ row: ResourceRow) throws {
        statement.reset()
        statement.bindInt(fileId, at: 1)
        statement.bindInt(Int64(row.line), at: 2)
        for i in 0..<width { try statement.bindText(row.values[i], at: Int32(i + 3)) }
        try statement.runToEnd()
        count += 1
    }
}

/// What the header and body of a staged file told the stager.
public struct StagedContent: Sendable {
    public var sha256: String
    public var present: [Bool]
    public var rowCount: Int
    public init(sha256: String, present: [Bool], rowCount: Int) {
        self.sha256 = sha256
        self.present = present
        self.rowCount = rowCount
    }
}

/// The local SQLite buffer: the file ledger and the staged rows. Only this type touches the file.
///
/// One buffer belongs to one extract directory. It is opened in WAL mode with mode 0600, and every
/// change of state is one transaction, so a crash at any point leaves a ledger that a restart reads
/// correctly.
public final class Buffer: @unchecked Sendable {
    public let path: String
    let db: SQLiteDatabase

    /// Opens or creates the buffer at `path`. `extractRoot` is recorded on first use, and a buffer
    /// made for another extract directory is refused (its ledger would not describe this tree).
    /// With `create` false (the read-only commands), a missing buffer is an error, not a new file.
    public init(path: String, extractRoot: String?, create: Bool = true) throws {
        self.path = path
        if !create && access(path, F_OK) != 0 {
            throw BufferError.io("no buffer at \(path): run flush or watch first")
        }
        // Created 0600 in folders made 0700, never wider; an older buffer's wider mode is taken back.
        db = try SQLiteDatabase(path: path, fileMode: 0o600, restrictExisting: true, create: create)
        try db.execute("PRAGMA journal_mode = WAL")
        // FULL: a committed stage survives power loss, so the extract may be deleted after staging.
        try db.execute("PRAGMA synchronous = FULL")
        try migrate()
        if let extractRoot {
            if let recorded = try meta("extract_root") {
                guard recorded == extractRoot else {
                    throw BufferError.otherExtract(buffer: path, recorded: recorded, requested: extractRoot)
                }
            } else if create {
                try setMeta("extract_root", extractRoot)
            }
        }
    }

    /// Checkpoints and closes the buffer file (see `SQLiteDatabase.close`).
    public func close() { db.close() }

    private func migrate() throws {
        let version = Int(try db.scalar("PRAGMA user_version")?.integer ?? 0)
        guard version < BufferSchema.version else { return }
        try db.transaction {
            if version == 0 {
                for s in BufferSchema.statements { try db.execute(s) }
            } else {
                for v in version..<BufferSchema.version {
                    for s in BufferSchema.upgrades[v] ?? [] { try db.execute(s) }
                }
            }
            try db.execute("PRAGMA user_version = \(BufferSchema.version)")
        }
    }

    // MARK: the state machine

    /// Moves one file version by `event`, as `FileState.after` allows, and sets `columns` with it.
    /// Refuses a move the state machine does not list (the update names the state it read, so a
    /// ledger changed meanwhile cannot slip through).
    @discardableResult
    func transition(_ id: Int64, _ event: LedgerEvent, set columns: [(String, SQLValue)] = []) throws -> FileState {
        let current = try db.scalar("SELECT state FROM files WHERE id = ?", [.integer(id)])?.text.flatMap(FileState.init(rawValue:))
        guard let current, let next = current.after(event) else {
            throw IllegalTransition(fileId: id, state: current, event: event)
        }
        let assignments = (["state = ?", "updated_at = ?"] + columns.map { "\($0.0) = ?" }).joined(separator: ", ")
        let changed = try db.run("UPDATE files SET \(assignments) WHERE id = ? AND state = ?",
                                 [.text(next.rawValue), .text(Timestamp.now())] + columns.map(\.1) + [.integer(id), .text(current.rawValue)])
        guard changed == 1 else { throw IllegalTransition(fileId: id, state: current, event: event) }
        return next
    }

    /// `IN (...)` text and values for the states from which `event` is legal.
    static func states(from event: LedgerEvent) -> (sql: String, values: [SQLValue]) {
        let states = FileState.sources(of: event)
        return ("(" + states.map { _ in "?" }.joined(separator: ", ") + ")", states.map { .text($0.rawValue) })
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

    // MARK: batches

    private var batchStarted: Double? = nil
    private var batchUnits = 0
    /// Told before (`done` false) and after (`done` true) each commit of a batch, with the units it
    /// holds. The agent logs these at DEBUG; the crash torture (scripts/torture.sh) aims kills by them.
    public var onBatchCommit: (@Sendable (_ units: Int, _ done: Bool) -> Void)?

    /// Groups many per-file units of work into fewer commits (fsyncs). Each unit stays atomic (a
    /// savepoint); what a crash takes back from an open batch is safe to lose: unstaged files are
    /// read again from the extract, and files applied to the LMS-DS but not yet marked are found in
    /// its ProcessedFiles by the next pass. `body` may call `batchTick()` after each unit.
    public func batch<T>(_ body: () throws -> T) throws -> T {
        guard batchStarted == nil else { return try body() }
        try db.run("BEGIN IMMEDIATE")
        batchStarted = Buffer.monotonicSeconds()
        batchUnits = 0
        defer { batchStarted = nil }
        do {
            let result = try body()
            onBatchCommit?(batchUnits, false)
            try db.run("COMMIT")
            onBatchCommit?(batchUnits, true)
            return result
        } catch {
            // Units already done are kept: commit them, then report the error.
            if db.inTransaction { _ = try? db.run("COMMIT") }
            throw error
        }
    }

    /// Commits the open batch when it holds many units or is more than a second old.
    public func batchTick() throws {
        guard let started = batchStarted else { return }
        batchUnits += 1
        let now = Buffer.monotonicSeconds()
        if batchUnits >= 200 || now - started > 1.0 {
            onBatchCommit?(batchUnits, false)
            try db.run("COMMIT")
            onBatchCommit?(batchUnits, true)
            try db.run("BEGIN IMMEDIATE")
            batchStarted = now
            batchUnits = 0
        }
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// When `error` is a fault of the buffer's environment (disk full, I/O, permission, locked),
    /// the reason; nil for anything else.
    public static func environmentFault(_ error: any Error) -> String? {
        if let e = error as? SQLiteError { return e.isDataFault ? nil : e.message }
        if case BufferError.read(_, let why) = error { return why }
        return nil
    }

    // MARK: meta

    public func meta(_ key: String) throws -> String? {
        try db.scalar("SELECT value FROM meta WHERE key = ?", [.text(key)])?.text
    }

    public func setMeta(_ key: String, _ value: String) throws {
        try db.run("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [.text(key), .text(value)])
    }

    /// The extract directory this buffer belongs to.
    public var extractRoot: String? { (try? meta("extract_root")) ?? nil }

    // MARK: staging

    /// The newest version of `path` in the ledger.
    public func latestVersion(of path: String) throws -> LedgerFile? {
        try files(where: "path = ?", [.text(path)], order: "id DESC", limit: 1).first
    }

    /// Stages a file in one transaction. `read` streams the file's rows into the sink and returns
    /// what it read; if it throws, nothing of the file stays in the buffer.
    ///
    /// A version already in the ledger (same path and checksum) is left as it is. A new version of a
    /// path makes its earlier versions that were never forwarded `superseded`.
    public func stage(_ file: ExtractFile, size: Int64, mtimeNs: Int64,
                      read: (RowSink) throws -> StagedContent) throws -> StageOutcome {
        let schema = file.resource.schema
        let table = BufferSchema.rowsTable(file.resource)
        let now = Timestamp.now()
        return try db.transaction {
            // A provisional ledger row gives the rows their file id; its checksum is set at the end.
            try db.run("""
                INSERT INTO files (path, sha256, resource, scope, section_id, assignment_id, snapshot_date, snapshot,
                                   size, mtime_ns, state, first_seen_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'staged', ?, ?)
                """, [.text(file.relativePath), .text("pending:\(now)"), .text(file.resource.rawValue), .text(file.scope.key),
                      SQLValue(file.scope.sectionId), SQLValue(file.scope.assignmentId), SQLValue(file.scope.date),
                      .text(file.snapshot), .integer(size), .integer(mtimeNs), .text(now), .text(now)])
            let id = db.lastInsertRowID
            let placeholders = Array(repeating: "?", count: schema.columns.count + 2).joined(separator: ", ")
            let insert = try db.cached("INSERT INTO \(table) (file_id, line, \(schema.columns.map { BufferSchema.quote($0.name) }.joined(separator: ", "))) VALUES (\(placeholders))")
            let sink = RowSink(statement: insert, fileId: id, width: schema.columns.count)
            let content = try read(sink)

            if let existing = try db.scalar("SELECT id FROM files WHERE path = ? AND sha256 = ?", [.text(file.relativePath), .text(content.sha256)])?.integer {
                let latest = try db.scalar("SELECT max(id) FROM files WHERE path = ? AND id <> ?", [.text(file.relativePath), .integer(id)])?.integer
                guard latest != existing else { throw Unchanged(id: existing) }
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
            return .staged(id: id, rows: content.rowCount, warnings: warnings)
        } catchUnchanged: { $0 }
    }

    /// Duplicate natural keys in one file: the last row wins (upstream aborts the whole run).
    private func dropDuplicateKeys(table: String, fileId: Int64, path: String) throws -> [String] {
        let dups = try db.query("""
            SELECT SourceSystemIdentifier, SourceSystem, group_concat(line, ', '), max(line)
            FROM (SELECT SourceSystemIdentifier, SourceSystem, line FROM \(table) WHERE file_id = ? ORDER BY line)
            GROUP BY SourceSystemIdentifier, SourceSystem HAVING count(*) > 1
            """, [.integer(fileId)])
        var warnings: [String] = []
        for d in dups {
            let sid = d[0].text ?? "", ss = d[1].text ?? ""
            warnings.append("\(path): key (\(sid), \(ss)) appears on lines \(d[2].text ?? ""); the last one (line \(d[3].text ?? "")) is used")
            try db.run("DELETE FROM \(table) WHERE file_id = ? AND SourceSystemIdentifier = ? AND SourceSystem = ? AND line <> ?",
                       [.integer(fileId), .text(sid), .text(ss), d[3]])
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

    // MARK: forwarding

    /// Files with work for the forwarder, in load order: resource, then snapshot, then path.
    public func pendingFiles() throws -> [LedgerFile] {
        try files(where: "state IN ('staged', 'waiting')", []).sorted(by: Buffer.loadOrder)
    }

    public static func loadOrder(_ a: LedgerFile, _ b: LedgerFile) -> Bool {
        let ra = a.resource?.loadOrder ?? 99, rb = b.resource?.loadOrder ?? 99
        if ra != rb { return ra < rb }
        if a.snapshot != b.snapshot { return a.snapshot < b.snapshot }
        if a.path != b.path { return a.path < b.path }
        return a.id < b.id
    }

    /// The newest snapshot of the same resource and scope that reached the LMS-DS, if any.
    public func latestApplied(like file: LedgerFile) throws -> LedgerFile? {
        try files(where: "resource = ? AND scope = ? AND state IN ('forwarded', 'waiting') AND id <> ?",
                  [SQLValue(file.resource?.rawValue), .text(file.scope.key), .integer(file.id)],
                  order: "snapshot DESC, id DESC", limit: 1).first
    }

    /// The snapshot already applied to `file`'s scope that is newer than `file` (a later snapshot
    /// name, or the same name and a later version of it), if any. Applying `file` after it would
    /// roll the scope back to older content.
    public func newerApplied(than file: LedgerFile) throws -> LedgerFile? {
        guard let applied = try latestApplied(like: file) else { return nil }
        if applied.snapshot > file.snapshot || (applied.snapshot == file.snapshot && applied.id > file.id) { return applied }
        return nil
    }

    /// Paths of later snapshots of the same scope that the buffer has not seen applied (staged,
    /// superseded, rejected, ...). The LMS-DS may have them all the same: a crash can separate its
    /// commit from the buffer's record, and another loader may have applied them.
    public func laterSnapshotPaths(like file: LedgerFile) throws -> [String] {
        try db.query("""
            SELECT DISTINCT path FROM files WHERE resource = ? AND scope = ? AND snapshot > ? AND state NOT IN ('forwarded', 'waiting')
            ORDER BY path DESC
            """, [SQLValue(file.resource?.rawValue), .text(file.scope.key), .text(file.snapshot)]).compactMap { $0[0].text }
    }

    /// Whether the file has any staged row. A snapshot with rows whose staged rows are gone must never
    /// be applied: it would soft-delete its whole scope.
    public func hasStagedRows(_ file: LedgerFile) throws -> Bool {
        guard let resource = file.resource else { return false }
        return try db.scalar("SELECT EXISTS (SELECT 1 FROM \(BufferSchema.rowsTable(resource)) WHERE file_id = ?)", [.integer(file.id)])?.integer == 1
    }

    /// Streams a file's staged rows (only the waiting ones when `waitingOnly`) in line order.
    /// The buffer's own read errors come as `BufferError.read`, so that a store never mistakes
    /// them for its own; the errors `body` throws pass through unchanged.
    public func rows(of file: LedgerFile, waitingOnly: Bool = false, _ body: (ResourceRow) throws -> Void) throws {
        guard let resource = file.resource else { return }
        let schema = resource.schema
        let st: Statement
        do {
            st = try db.cached("SELECT line, \(schema.columns.map { BufferSchema.quote($0.name) }.joined(separator: ", ")) FROM \(BufferSchema.rowsTable(resource)) WHERE file_id = ?\(waitingOnly ? " AND waiting = 1" : "") ORDER BY line")
            try st.bind([.integer(file.id)])
        } catch {
            throw BufferError.read(path: path, "\(error)")
        }
        defer { st.reset() }
        var row = ResourceRow(line: 0, values: Array(repeating: nil, count: schema.columns.count))
        while true {
            do {
                guard try st.step() else { break }
            } catch {
                throw BufferError.read(path: path, "\(error)")
            }
            row.line = Int(st.text(0).flatMap { Int($0) } ?? 0)
            for i in 0..<schema.columns.count { row.values[i] = st.text(i + 1) }
            try body(row)
        }
    }

    /// Natural keys that `previous` delivered and `current` does not (for `previousSnapshot` scopes).
    public func keysDropped(from previous: LedgerFile, to current: LedgerFile) throws -> [(String, String)] {
        guard let resource = current.resource else { return [] }
        let t = BufferSchema.rowsTable(resource)
        return try db.query("""
            SELECT SourceSystemIdentifier, SourceSystem FROM \(t) WHERE file_id = ?
            EXCEPT SELECT SourceSystemIdentifier, SourceSystem FROM \(t) WHERE file_id = ?
            """, [.integer(previous.id), .integer(current.id)]).map { ($0[0].text ?? "", $0[1].text ?? "") }
    }

    /// The file reached the LMS-DS (a snapshot) or its waiting rows were retried (`retryOfWaiting`).
    /// `waitingLines` are the rows whose parents are not there yet. Rows of older applied snapshots
    /// of the same scope are no longer needed and are removed.
    public func markForwarded(_ file: LedgerFile, waitingLines: [Int], retryOfWaiting: Bool = false) throws {
        guard let resource = file.resource else { return }
        let t = BufferSchema.rowsTable(resource)
        let now = Timestamp.now()
        try db.transaction {
            try db.run("UPDATE \(t) SET waiting = 0 WHERE file_id = ? AND waiting = 1", [.integer(file.id)])
            let mark = try db.cached("UPDATE \(t) SET waiting = 1 WHERE file_id = ? AND line = ?")
            for line in waitingLines {
                try mark.bind([.integer(file.id), .integer(Int64(line))])
                try mark.runToEnd()
            }
            let event: LedgerEvent = retryOfWaiting ? .waitingRowsApplied(remaining: !waitingLines.isEmpty) : .applied(waiting: !waitingLines.isEmpty)
            var columns: [(String, SQLValue)] = [("waiting_rows", .integer(Int64(waitingLines.count))),
                                                 ("attempts", .integer(Int64(file.attempts + 1)))]
            if !retryOfWaiting { columns.append(("forwarded_at", .text(now))) }
            if waitingLines.isEmpty || !retryOfWaiting { columns.append(("last_error", .null)) }
            try transition(file.id, event, set: columns)
            if !retryOfWaiting {
                try supersedeOlder(than: file, table: t, now: now)
            }
        }
    }

    /// Older snapshots of the scope: their waiting rows are replaced by this snapshot, and their
    /// staged rows are no longer needed.
    private func supersedeOlder(than file: LedgerFile, table t: String, now: String) throws {
        let older = try files(where: "resource = ? AND scope = ? AND id <> ? AND state IN ('forwarded', 'waiting', 'superseded') AND snapshot <= ?",
                              [SQLValue(file.resource?.rawValue), .text(file.scope.key), .integer(file.id), .text(file.snapshot)])
        for o in older {
            if o.state == .waiting {
                try transition(o.id, .superseded, set: [("waiting_rows", .integer(0)),
                    ("last_error", .text("its waiting rows were replaced by the newer snapshot \(file.path) (file \(file.id))"))])
            }
            try db.run("DELETE FROM \(t) WHERE file_id = ?", [.integer(o.id)])
        }
    }

    /// Held files of `file`'s scope that are older than it: a newer snapshot was applied, so they
    /// will never be (a newer snapshot that passes the guard replaces a held one).
    public func heldOlder(than file: LedgerFile) throws -> [LedgerFile] {
        try files(where: "resource = ? AND scope = ? AND id <> ? AND state = ? AND snapshot <= ?",
                  [SQLValue(file.resource?.rawValue), .text(file.scope.key), .integer(file.id), .text(FileState.held.rawValue), .text(file.snapshot)])
    }

    /// A newer snapshot of the scope was applied before this one: it is not applied.
    public func markSuperseded(_ file: LedgerFile, by newerPath: String) throws {
        let t = file.resource.map(BufferSchema.rowsTable)
        try db.transaction {
            try transition(file.id, .superseded, set: [("waiting_rows", .integer(0)),
                                                        ("last_error", .text("the newer snapshot \(newerPath) was already applied"))])
            if let t { try db.run("DELETE FROM \(t) WHERE file_id = ?", [.integer(file.id)]) }
        }
    }

    /// The LMS-DS refused the file; its rows stay staged for `retry`.
    public func markRejected(_ file: LedgerFile, error: String) throws {
        try db.transaction {
            try transition(file.id, .refused, set: [("attempts", .integer(Int64(file.attempts + 1))), ("last_error", .text(error)),
                                                     ("error_line", .null), ("error_column", .null)])
            try logError(fileId: file.id, phase: "forward", message: error)
        }
    }

    /// The mass-delete guard stopped the file: its rows stay staged until it is released or replaced.
    public func markHeld(_ file: LedgerFile, reason: String) throws {
        try db.transaction {
            try transition(file.id, .held, set: [("last_error", .text(reason))])
            try logError(fileId: file.id, phase: "guard", message: reason)
        }
    }

    /// An operator releases a held file: the next pass applies it, whatever it deletes.
    public func release(id: Int64) throws -> LedgerFile {
        guard let f = try file(id: id) else { throw BufferError.noSuchFile(id) }
        guard f.state == .held else {
            throw BufferError.notReleasable(id, "its state is \(f.state.rawValue); only a held file can be released")
        }
        if let newer = try newerApplied(than: f) {
            throw BufferError.notReleasable(id, "the newer snapshot \(newer.path) (file \(newer.id)) of its scope is already applied; applying this one would roll the scope back")
        }
        try db.transaction {
            _ = try transition(id, .released, set: [("guard_released", .integer(1)), ("last_error", .null)])
        }
        return try file(id: id) ?? f
    }

    /// Notes a failed attempt that leaves the file pending (the LMS-DS was unreachable).
    public func noteAttemptFailed(_ file: LedgerFile, error: String) throws {
        try db.transaction {
            try db.run("UPDATE files SET attempts = attempts + 1, updated_at = ?, last_error = ? WHERE id = ?",
                       [.text(Timestamp.now()), .text(error), .integer(file.id)])
            try logError(fileId: file.id, phase: "forward", message: error)
        }
    }

    public enum RetryResult: Sendable, Equatable {
        /// Rows are staged: the next `resume` or `flush` forwards the file.
        case pending
        /// The file never staged (bad input): it must be read again from the extract.
        case needsRestage(LedgerFile)
    }

    /// Puts a rejected file back in line.
    ///
    /// Refused for a superseded file (its rows were dropped when a newer snapshot won; applying it
    /// would roll its scope back, or, with no rows, soft-delete the whole scope) and for a rejected
    /// version that is no longer the newest: of its path, or of its scope in the LMS-DS.
    public func retry(id: Int64) throws -> RetryResult {
        guard let f = try file(id: id) else { throw BufferError.noSuchFile(id) }
        guard f.resource != nil else { throw BufferError.notRetryable(id, "it is not an LMS-DS file") }
        switch f.state {
        case .rejected:
            if let newer = try files(where: "path = ? AND id > ?", [.text(f.path), .integer(id)], order: "id DESC", limit: 1).first {
                throw BufferError.notRetryable(id, "\(f.path) has a newer version in the buffer (file \(newer.id), \(newer.state.rawValue)); the file on disk is that one")
            }
            if let newer = try newerApplied(than: f) {
                throw BufferError.notRetryable(id, "the newer snapshot \(newer.path) (file \(newer.id)) of its scope is already applied; applying this one would roll the scope back")
            }
            if f.stagedAt == nil || f.isUnreadable {
                // Bad input: forget this version so that the next scan reads the file again.
                try db.transaction { try forget(id) }
                return .needsRestage(f)
            }
            if try f.rowCount > 0 && !hasStagedRows(f) {
                throw BufferError.notRetryable(id, "its staged rows are gone; change the file (a new version is staged) or run flush")
            }
            try db.transaction { _ = try transition(id, .retried, set: [("last_error", .null)]) }
            return .pending
        case .superseded:
            throw BufferError.notRetryable(id, "it was superseded (\(f.lastError ?? "a newer snapshot of its scope won")); a superseded snapshot is never applied over a newer one. If the newer data is wrong, correct the extract: a changed file is staged as a new version")
        case .held:
            throw BufferError.notRetryable(id, "it is held by the mass-delete guard; `lms-agent release \(id)` applies it")
        default:
            throw BufferError.notRetryable(id, "its state is \(f.state.rawValue); only a rejected file can be retried")
        }
    }

    // MARK: reading the ledger

    public func file(id: Int64) throws -> LedgerFile? {
        try files(where: "id = ?", [.integer(id)]).first
    }

    public func files(where condition: String = "1", _ arguments: [SQLValue] = [], order: String = "id", limit: Int? = nil) throws -> [LedgerFile] {
        let sql = """
            SELECT id, path, sha256, resource, scope, section_id, assignment_id, snapshot_date, snapshot, size, mtime_ns, row_count,
                   waiting_rows, source_systems, present_columns, state, attempts, last_error, error_line, error_column, warnings,
                   first_seen_at, staged_at, forwarded_at, updated_at, guard_released
            FROM files WHERE \(condition) ORDER BY \(order)\(limit.map { " LIMIT \($0)" } ?? "")
            """
        return try db.query(sql, arguments).map { r in
            LedgerFile(
                id: r[0].integer ?? 0, path: r[1].text ?? "", sha256: r[2].text ?? "",
                resource: r[3].text.flatMap(Resource.init(rawValue:)),
                scope: Scope(sectionId: r[5].text, assignmentId: r[6].text, date: r[7].text),
                snapshot: r[8].text ?? "", size: r[9].integer ?? 0, mtimeNs: r[10].integer ?? 0,
                rowCount: Int(r[11].integer ?? 0), waitingRows: Int(r[12].integer ?? 0),
                sourceSystems: (r[13].text ?? "").split(separator: "\u{1F}").map(String.init),
                presentColumns: (r[14].text ?? "").split(separator: ",").map(String.init),
                state: FileState(rawValue: r[15].text ?? "") ?? .rejected, attempts: Int(r[16].integer ?? 0),
                lastError: r[17].text, errorLine: r[18].integer.map { Int($0) }, errorColumn: r[19].text, warnings: r[20].text,
                firstSeenAt: r[21].text ?? "", stagedAt: r[22].text, forwardedAt: r[23].text, updatedAt: r[24].text ?? "",
                guardReleased: r[25].integer == 1)
        }
    }

    /// Source systems of the newest staged users or sections file: the source system of this extract,
    /// used to scope the deletes of a header-only section file.
    public func extractSourceSystems() throws -> [String] {
        let f = try files(where: "resource IN ('sections', 'users') AND source_systems <> '' AND state IN ('staged', 'forwarded', 'waiting')",
                          [], order: "snapshot DESC, id DESC", limit: 1).first
        return f?.sourceSystems ?? []
    }

}

/// Thrown inside the staging transaction to roll it back when the version is already known.
struct Unchanged: Error { let id: Int64 }

extension SQLiteDatabase {
    func transaction(_ body: () throws -> StageOutcome, catchUnchanged: (Int64) -> Int64) throws -> StageOutcome {
        do {
            return try transaction(immediate: true, body)
        } catch let u as Unchanged {
            return .unchanged(id: catchUnchanged(u.id))
        }
    }
}

public enum BufferError: Error, CustomStringConvertible {
    case otherExtract(buffer: String, recorded: String, requested: String)
    case noSuchFile(Int64)
    case notRetryable(Int64, String)
    case notReleasable(Int64, String)
    /// The buffer could not be read while rows were streamed to the LMS-DS.
    case read(path: String, String)
    case io(String)

    public var description: String {
        switch self {
        case .otherExtract(let b, let rec, let req):
            return "the buffer \(b) belongs to the extract \(rec), not \(req); name another one with --buffer"
        case .noSuchFile(let id): return "no file with id \(id) in the buffer"
        case .notRetryable(let id, let why): return "file \(id) cannot be retried: \(why)"
        case .notReleasable(let id, let why): return "file \(id) cannot be released: \(why)"
        case .read(let path, let why): return "cannot read the buffer \(path): \(why)"
        case .io(let m): return m
        }
    }
}
