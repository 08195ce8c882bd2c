import Extract
import SQLiteDB

/// Reading the ledger (`files`) by named queries, and moving a row's state by the state machine.
///
/// Whole ledger rows (`LedgerFile`) are read only by the named queries here; a new question gets a
/// new named query, not a condition written by its caller. No SQL anywhere spells a state: states
/// are bound from `FileState` values (`Buffer.inStates`, `Buffer.states(from:)`).
extension Buffer {
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
        inStates(FileState.sources(of: event))
    }

    /// `(?, ?, ...)` text and the bound values for a list of states, as in `state IN \(sql)`.
    static func inStates(_ states: [FileState]) -> (sql: String, values: [SQLValue]) {
        ("(" + states.map { _ in "?" }.joined(separator: ", ") + ")", states.map { .text($0.rawValue) })
    }

    // MARK: named queries

    /// The version with this ledger id, nil when there is none.
    public func file(id: Int64) throws -> LedgerFile? {
        try select("id = ?", [.integer(id)]).first
    }

    /// Every version of every file, oldest first.
    public func files() throws -> [LedgerFile] {
        try select("1", [])
    }

    /// Every version of `resource`'s files, oldest first.
    public func files(ofResource resource: Resource) throws -> [LedgerFile] {
        try select("resource = ?", [.text(resource.rawValue)])
    }

    /// Every file version in `state`, oldest first.
    public func files(inState state: FileState) throws -> [LedgerFile] {
        try select("state = ?", [.text(state.rawValue)])
    }

    /// Every version of the file at `path` (relative to the extract), oldest first.
    public func versions(of path: String) throws -> [LedgerFile] {
        try select("path = ?", [.text(path)])
    }

    /// The newest version of `path` in the ledger.
    public func latestVersion(of path: String) throws -> LedgerFile? {
        try select("path = ?", [.text(path)], order: "id DESC", limit: 1).first
    }

    /// The newest version of `file`'s path, if it is newer than `file`.
    func newerVersion(than file: LedgerFile) throws -> LedgerFile? {
        try select("path = ? AND id > ?", [.text(file.path), .integer(file.id)], order: "id DESC", limit: 1).first
    }

    /// How many files have work for the forwarder, and how many of their rows wait for parents.
    public func pendingCounts() throws -> (files: Int, waitingRows: Int) {
        let pending = Buffer.inStates(FileState.pending)
        let row = try db.query("SELECT count(*), coalesce(sum(waiting_rows), 0) FROM files WHERE state IN \(pending.sql)", pending.values).first ?? []
        return (Int(row.first?.integer ?? 0), Int(row.last?.integer ?? 0))
    }

    /// Up to `limit` of `resource`'s pending files other than waiting ones, in load order (snapshot,
    /// path, id) after `cursor`: the forwarder's work a page at a time, whatever the tree's size.
    public func pendingSnapshots(ofResource resource: Resource, after cursor: LedgerFile?, limit: Int) throws -> [LedgerFile] {
        let states = Buffer.inStates(FileState.pending.filter { $0 != .waiting })
        var condition = "resource = ? AND state IN \(states.sql)"
        var arguments: [SQLValue] = [.text(resource.rawValue)] + states.values
        if let cursor {
            condition += " AND (snapshot, path, id) > (?, ?, ?)"
            arguments += [.text(cursor.snapshot), .text(cursor.path), .integer(cursor.id)]
        }
        return try select(condition, arguments, order: "snapshot, path, id", limit: limit)
    }

    /// Up to `limit` of `resource`'s waiting files after ledger id `id`, by id.
    public func waitingFiles(ofResource resource: Resource, after id: Int64, limit: Int) throws -> [LedgerFile] {
        try select("resource = ? AND state = ? AND id > ?", [.text(resource.rawValue), .text(FileState.waiting.rawValue), .integer(id)], limit: limit)
    }

    /// Files with work for the forwarder whose resource this agent's registry does not hold
    /// (staged by an agent that had it registered).
    public func pendingFilesOfUnregisteredResources() throws -> [LedgerFile] {
        let pending = Buffer.inStates(FileState.pending)
        let known = registry.schemas.map { SQLValue.text($0.resource.rawValue) }
        let list = "(" + known.map { _ in "?" }.joined(separator: ", ") + ")"
        return try select("state IN \(pending.sql) AND (resource IS NULL OR resource NOT IN \(list))", pending.values + known)
    }

    /// Files with work for the forwarder, in load order: resource, then snapshot, then path.
    public func pendingFiles() throws -> [LedgerFile] {
        let pending = Buffer.inStates(FileState.pending)
        return try select("state IN \(pending.sql)", pending.values).sorted(by: loadOrder)
    }

    /// Up to `limit` of the staged files (never applied, nor refused, nor held) whose id is above
    /// `id`, oldest first: a page at a time, whatever the ledger's size.
    public func stagedFiles(after id: Int64, limit: Int) throws -> [LedgerFile] {
        try select("state = ? AND resource IS NOT NULL AND id > ?", [.text(FileState.staged.rawValue), .integer(id)], limit: limit)
    }

    /// Files the mass-delete guard holds.
    public func heldFiles() throws -> [LedgerFile] {
        try files(inState: .held)
    }

    /// Files applied but for rows that wait for their parents, oldest first.
    public func waitingFiles() throws -> [LedgerFile] {
        try files(inState: .waiting)
    }

    /// The pending file seen first.
    public func oldestPending() throws -> LedgerFile? {
        let pending = Buffer.inStates(FileState.pending)
        return try select("state IN \(pending.sql)", pending.values, order: "first_seen_at, id", limit: 1).first
    }

    /// Rejected files whose newest version is still the rejected one (a fixed file clears it).
    public func outstandingRejected() throws -> [LedgerFile] {
        try select("state = ? AND id = (SELECT max(f2.id) FROM files f2 WHERE f2.path = files.path)", [.text(FileState.rejected.rawValue)])
    }

    /// The newest snapshot of the same resource and scope that reached the LMS-DS, if any.
    public func latestApplied(like file: LedgerFile) throws -> LedgerFile? {
        let applied = Buffer.inStates(FileState.applied)
        return try select("resource = ? AND scope = ? AND state IN \(applied.sql) AND id <> ?",
                          [SQLValue(file.resource?.rawValue), .text(file.scope.key)] + applied.values + [.integer(file.id)],
                          order: "snapshot DESC, id DESC", limit: 1).first
    }

    /// Other versions of `file`'s scope in `states` whose snapshot is not newer than `file`'s.
    func olderSnapshots(than file: LedgerFile, in states: [FileState]) throws -> [LedgerFile] {
        let among = Buffer.inStates(states)
        return try select("resource = ? AND scope = ? AND id <> ? AND state IN \(among.sql) AND snapshot <= ?",
                          [SQLValue(file.resource?.rawValue), .text(file.scope.key), .integer(file.id)] + among.values + [.text(file.snapshot)])
    }

    /// Held files of `file`'s scope that are older than it: a newer snapshot was applied, so they
    /// will never be (a newer snapshot that passes the guard replaces a held one).
    public func heldOlder(than file: LedgerFile) throws -> [LedgerFile] {
        try olderSnapshots(than: file, in: [.held])
    }

    /// Paths of later snapshots of the same scope that the buffer has not seen applied (staged,
    /// superseded, rejected, ...). The LMS-DS may have them all the same: a crash can separate its
    /// commit from the buffer's record, and another loader may have applied them.
    public func laterSnapshotPaths(like file: LedgerFile) throws -> [String] {
        let applied = Buffer.inStates(FileState.applied)
        return try db.query("""
            SELECT DISTINCT path FROM files WHERE resource = ? AND scope = ? AND snapshot > ? AND state NOT IN \(applied.sql)
            ORDER BY path DESC
            """, [SQLValue(file.resource?.rawValue), .text(file.scope.key), .text(file.snapshot)] + applied.values).compactMap { $0[0].text }
    }

    /// Source systems of the newest staged file of a whole-source-system resource (users, sections):
    /// the source system of this extract, used to scope the deletes of a header-only section file.
    public func extractSourceSystems() throws -> [String] {
        let resources = registry.schemas.filter { $0.deleteScope == .sourceSystem }.map(\.resource)
        guard !resources.isEmpty else { return [] }
        let states = Buffer.inStates([.staged, .forwarded, .waiting])
        let f = try select("resource IN (\(resources.map { _ in "?" }.joined(separator: ", "))) AND source_systems <> '' AND state IN \(states.sql)",
                           resources.map { .text($0.rawValue) } + states.values, order: "snapshot DESC, id DESC", limit: 1).first
        return f?.sourceSystems ?? []
    }

    // MARK: decoding

    /// The ledger rows that match `condition`; only the named queries above write conditions.
    private func select(_ condition: String, _ arguments: [SQLValue], order: String = "id", limit: Int? = nil) throws -> [LedgerFile] {
        // Decoded row by row: 37,500 rows of 27 columns held as values first took 75 MB at once.
        var files: [LedgerFile] = []
        try db.forEachNamedRow("SELECT * FROM files WHERE \(condition) ORDER BY \(order)\(limit.map { " LIMIT \($0)" } ?? "")", arguments) {
            files.append(LedgerFile(row: $0))
        }
        return files
    }
}

extension LedgerFile {
    /// A `files` row, read by column name.
    /// A list column's items. By bytes: Character-wise splitting cost 2 % of a day-2 flush, which
    /// reads many ledger rows.
    static func fields(_ text: String?, _ separator: UInt8) -> [String] {
        (text ?? "").utf8.split(separator: separator).map { String(decoding: $0, as: UTF8.self) }
    }

    init(row r: NamedRow) {
        self.init(
            id: r["id"].integer ?? 0, path: r["path"].text ?? "", sha256: r["sha256"].text ?? "",
            resource: r["resource"].text.flatMap(Resource.init(rawValue:)),
            scope: Scope(sectionId: r["section_id"].text, assignmentId: r["assignment_id"].text, date: r["snapshot_date"].text),
            snapshot: r["snapshot"].text ?? "", size: r["size"].integer ?? 0, mtimeNs: r["mtime_ns"].integer ?? 0,
            rowCount: Int(r["row_count"].integer ?? 0), waitingRows: Int(r["waiting_rows"].integer ?? 0),
            sourceSystems: LedgerFile.fields(r["source_systems"].text, 0x1F),
            presentColumns: LedgerFile.fields(r["present_columns"].text, UInt8(ascii: ",")),
            state: FileState(rawValue: r["state"].text ?? "") ?? .rejected, attempts: Int(r["attempts"].integer ?? 0),
            lastError: r["last_error"].text, errorLine: r["error_line"].integer.map { Int($0) }, errorColumn: r["error_column"].text,
            warnings: r["warnings"].text,
            firstSeenAt: r["first_seen_at"].text ?? "", stagedAt: r["staged_at"].text, forwardedAt: r["forwarded_at"].text,
            updatedAt: r["updated_at"].text ?? "", guardReleased: r["guard_released"].integer == 1)
    }
}
