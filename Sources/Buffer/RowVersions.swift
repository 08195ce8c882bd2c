import Extract
import SQLiteDB

/// How the staged-rows tables hold snapshots: as row versions shared by the snapshots of a scope.
///
/// A daily extract is mostly yesterday's again. Copying every row of every snapshot would make
/// staging an unchanged row cost an insert; instead, a row's values are stored once per change.
/// Each row of a staged-rows table is a *version* of one natural key in one scope (a resource and
/// scope key, numbered in the `scopes` table), valid from the ledger file that first had it
/// (`from_file`, with its `line` there) up to, not including, the file that changed or dropped it
/// (`to_file`; `BufferSchema.open` while the newest staged snapshot of the scope still has it).
///
/// Ledger ids grow in staging order, and each snapshot is staged against the open versions of its
/// scope: a row with the same hash leaves its version as it is, a changed one closes the old version
/// and opens a new one, and the versions the snapshot lacks are closed. So a snapshot's rows are
/// exactly the versions valid at its id, `from_file <= F AND to_file > F`, whatever was staged or
/// applied after it; and a delta against an earlier snapshot B is the versions valid at F and not
/// at B: a range of the clustered key when B < F.
///
/// Versions no kept snapshot needs are pruned (`prune(scope:)`): a snapshot is kept while it has
/// work for the forwarder or an operator (staged, waiting, held, rejected), and the newest applied
/// one of its scope is kept as the base of the next delta. Open versions are never pruned: the next
/// snapshot of the scope is staged against them.
enum RowVersions {
    /// SQL: the version (table alias `v`) belongs to the snapshot with the id of parameter `file`.
    static func valid(at file: String, _ v: String = "v") -> String { "\(v).from_file <= \(file) AND \(v).to_file > \(file)" }
}

/// The id of a staged row version as a store sees it (`ResourceRow.id`): its first file and its
/// line there, in one 64-bit number.
public enum StagedRowID {
    /// The id of the version first read on `line` of ledger file `file`.
    public static func of(file: Int64, line: Int) -> Int64 { file << 32 | Int64(UInt32(truncatingIfNeeded: line)) }
    /// The ledger file whose staging first had the version.
    public static func file(of id: Int64) -> Int64 { id >> 32 }
    /// The version's line in that file.
    public static func line(of id: Int64) -> Int { Int(id & 0xFFFF_FFFF) }

    /// "line L" when the version was read from `file` itself, else "line L of file N" (an unchanged
    /// row is read once, from the snapshot that first had it).
    public static func describe(_ id: Int64, in file: LedgerFile) -> String {
        let from = self.file(of: id)
        return from == file.id ? "line \(line(of: id))" : "line \(line(of: id)) of file \(from)"
    }
}

extension Buffer {
    /// The number of a file's scope in the `scopes` table; with `create`, a new scope is numbered.
    func scopeId(of resource: Resource, _ key: String, create: Bool) throws -> Int64? {
        if let id = try db.cached("SELECT id FROM scopes WHERE resource = ? AND key = ?").scalarInteger([.text(resource.rawValue), .text(key)]) {
            return id
        }
        guard create else { return nil }
        try db.run("INSERT INTO scopes (resource, key) VALUES (?, ?)", [.text(resource.rawValue), .text(key)])
        return db.lastInsertRowID
    }

    /// The scope number of a ledger file's staged snapshot; nil when the file has none (it never
    /// staged: bad input, unreadable), whose id would otherwise fall among its scope's versions.
    func scopeId(of file: LedgerFile) throws -> Int64? {
        guard let resource = file.resource, file.stagedAt != nil, !file.isUnreadable else { return nil }
        return try scopeId(of: resource, file.scope.key, create: false)
    }

    /// Removes the versions of `file`'s scope that no kept snapshot needs (see `RowVersions`).
    func prune(scopeOf file: LedgerFile) throws {
        guard let resource = file.resource, let scope = try scopeId(of: resource, file.scope.key, create: false) else { return }
        // Numbered parameters throughout: a bare `?` after `?7` in the text would take number 8 only
        // if it came after it.
        let goneStates: [FileState] = [.superseded, .ignored]
        let gone = "(" + goneStates.indices.map { "?\($0 + 8)" }.joined(separator: ", ") + ")"
        let applied = "(" + FileState.applied.indices.map { "?\($0 + 8 + goneStates.count)" }.joined(separator: ", ") + ")"
        // Kept: every file of the scope that staged rows and is neither applied nor settled, and the
        // newest snapshot the LMS-DS took (the base of the next delta, if it is still applied: see
        // `canBeDeltaBase`). Not a rejected or held file older than a forwarded snapshot: `retry`
        // and `release` refuse it, and the forwarder supersedes it (forwarded is final, so that
        // stays true). One statement whatever the ids (the connection caches statements by text).
        try db.run("""
            DELETE FROM \(BufferSchema.rowsTable(resource)) AS v WHERE v.scope_id = ?1 AND v.to_file < \(BufferSchema.open) AND NOT EXISTS (
                SELECT 1 FROM files k WHERE k.resource = ?2 AND k.scope = ?3 AND k.id >= v.from_file AND k.id < v.to_file
                AND k.staged_at IS NOT NULL AND k.sha256 <> ?4
                AND k.state NOT IN \(gone) AND (k.state NOT IN \(applied) OR k.id = (
                    SELECT id FROM files WHERE resource = ?2 AND scope = ?3 AND forwarded_at IS NOT NULL ORDER BY snapshot DESC, id DESC LIMIT 1))
                AND NOT (k.state IN (?5, ?6) AND EXISTS (SELECT 1 FROM files a WHERE a.resource = ?2 AND a.scope = ?3 AND a.state = ?7
                                                       AND (a.snapshot > k.snapshot OR (a.snapshot = k.snapshot AND a.id > k.id)))))
            """, [.integer(scope), .text(resource.rawValue), .text(file.scope.key), .text(LedgerFile.unreadableChecksum),
                  .text(FileState.rejected.rawValue), .text(FileState.held.rawValue), .text(FileState.forwarded.rawValue)] + (goneStates + FileState.applied).map { .text($0.rawValue) })
    }
}

extension Statement {
    /// Binds `values`, steps once and returns the first column of the first row as an integer (nil
    /// for no row or NULL); the statement is reset.
    func scalarInteger(_ values: [SQLValue]) throws -> Int64? {
        try bind(values)
        defer { reset() }
        return try step() ? integer(0) : nil
    }
}
