import Extract
import SQLiteDB

/// What the forwarder reads from the buffer and what it records there: a file's rows, and the
/// outcome of applying it (forwarded, waiting, superseded, refused, held).
extension Buffer {
    /// The order the forwarder applies files in: resource (parents first), then snapshot, then path.
    public func loadOrder(_ a: LedgerFile, _ b: LedgerFile) -> Bool {
        let ra = registry.forwardRank(of: a.resource), rb = registry.forwardRank(of: b.resource)
        if ra != rb { return ra < rb }
        if a.snapshot != b.snapshot { return a.snapshot < b.snapshot }
        if a.path != b.path { return a.path < b.path }
        return a.id < b.id
    }

    /// The snapshot already applied to `file`'s scope that is newer than `file` (a later snapshot
    /// name, or the same name and a later version of it), if any. Applying `file` after it would
    /// roll the scope back to older content.
    public func newerApplied(than file: LedgerFile) throws -> LedgerFile? {
        guard let applied = try latestApplied(like: file), Buffer.isNewer(applied, than: file) else { return nil }
        return applied
    }

    /// Whether snapshot `a` of a scope is newer than `b`: a later snapshot name, or the same name
    /// and a later version of it.
    public static func isNewer(_ a: LedgerFile, than b: LedgerFile) -> Bool {
        a.snapshot > b.snapshot || (a.snapshot == b.snapshot && a.id > b.id)
    }

    /// Whether the file has any staged row. A snapshot with rows whose staged rows are gone must never
    /// be applied: it would soft-delete its whole scope.
    public func hasStagedRows(_ file: LedgerFile) throws -> Bool {
        guard let resource = file.resource, let scope = try scopeId(of: file) else { return false }
        return try db.scalar("SELECT EXISTS (SELECT 1 FROM \(BufferSchema.rowsTable(resource)) v WHERE v.scope_id = ? AND \(RowVersions.valid(at: "?2")))",
                             [.integer(scope), .integer(file.id)])?.integer == 1
    }

    /// Streams a file's staged rows (only the waiting ones when `waitingOnly`). Each row's `id` names
    /// its version (`StagedRowID`) for `markForwarded`. The buffer's own read errors come as
    /// `BufferError.read`, so that a store never mistakes them for its own; the errors `body` throws
    /// pass through unchanged.
    public func rows(of file: LedgerFile, waitingOnly: Bool = false, _ body: (ResourceRow) throws -> Void) throws {
        try streamRows(of: file, condition: RowVersions.valid(at: "?2") + (waitingOnly ? " AND v.waiting = 1" : ""), [], body)
    }

    /// Streams the rows of snapshot `file` that differ from `base` (an earlier applied snapshot of
    /// its scope): versions `base` does not have, and those that waited for a parent in `base` (they
    /// were never applied). The rows a delta forwards.
    public func changedRows(of file: LedgerFile, since base: LedgerFile, _ body: (ResourceRow) throws -> Void) throws {
        if base.id < file.id {
            // Versions that began after the base: a range of the clustered key. Then the waiting ones.
            try streamRows(of: file, condition: "v.from_file > ?3 AND v.from_file <= ?2 AND v.to_file > ?2", [.integer(base.id)], body)
            try streamRows(of: file, condition: "v.waiting = 1 AND v.from_file <= ?3 AND \(RowVersions.valid(at: "?2"))", [.integer(base.id)], body)
        } else {
            try streamRows(of: file, condition: "\(RowVersions.valid(at: "?2")) AND (v.waiting = 1 OR NOT (\(RowVersions.valid(at: "?3"))))",
                           [.integer(base.id)], body)
        }
    }

    /// Whether `base` can be the base of a delta for `file`: applied, the same columns and source
    /// systems, and every staged row of `base` hashed (rows staged by an older agent have none).
    public func canBeDeltaBase(_ base: LedgerFile, for file: LedgerFile) throws -> Bool {
        // The same source systems, and some: a snapshot deletes only in the source systems it names,
        // so a base that named others (or none: a header-only file deletes nothing) left rows live
        // that a whole merge of `file` would delete.
        guard let resource = file.resource, base.resource == resource, base.presentColumns == file.presentColumns,
              FileState.applied.contains(base.state), !file.sourceSystems.isEmpty, base.sourceSystems == file.sourceSystems,
              let scope = try scopeId(of: base) else { return false }
        // The LMS-DS holds the newest snapshot it took, even one superseded since (a waiting file
        // whose path got a new version): only that one can vouch for it.
        let newerTaken = try db.scalar("""
            SELECT EXISTS (SELECT 1 FROM files WHERE resource = ?1 AND scope = ?2 AND forwarded_at IS NOT NULL AND id NOT IN (?3, ?4)
                           AND (snapshot > ?5 OR (snapshot = ?5 AND id > ?3)))
            """, [.text(resource.rawValue), .text(base.scope.key), .integer(base.id), .integer(file.id), .text(base.snapshot)])?.integer == 1
        guard !newerTaken else { return false }
        let row = try db.query("""
            SELECT count(*), count(row_hash) FROM \(BufferSchema.rowsTable(resource)) v WHERE v.scope_id = ? AND \(RowVersions.valid(at: "?2"))
            """, [.integer(scope), .integer(base.id)]).first ?? []
        let staged = row.first?.integer ?? 0, hashed = row.last?.integer ?? 0
        // Rows gone from a file that had some (a damaged buffer) cannot vouch for anything.
        return staged == hashed && (staged > 0 || base.rowCount == 0)
    }

    /// Runs `SELECT ... FROM <rows> v WHERE v.scope_id = ?1 AND <condition>` with `?2` the file's id
    /// and `arguments` from `?3` on, and hands each row to `body`.
    private func streamRows(of file: LedgerFile, condition: String, _ arguments: [SQLValue], _ body: (ResourceRow) throws -> Void) throws {
        guard let resource = file.resource else { return }
        let schema = try self.schema(of: resource)
        let st: Statement
        do {
            guard let scope = try scopeId(of: file) else { return }
            st = try db.cached("SELECT v.from_file, v.line, \(schema.columns.map { "v." + BufferSchema.quote($0.name) }.joined(separator: ", ")) FROM \(BufferSchema.rowsTable(resource)) v WHERE v.scope_id = ?1 AND \(condition)")
            try st.bind([.integer(scope), .integer(file.id)] + arguments)
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
            row.line = Int(st.integer(1))
            row.id = StagedRowID.of(file: st.integer(0), line: row.line)
            for i in 0..<schema.columns.count { row.values[i] = st.text(i + 2) }
            try body(row)
        }
    }

    /// Natural keys that `previous` delivered and `current` does not (for `previousSnapshot` scopes).
    public func keysDropped(from previous: LedgerFile, to current: LedgerFile) throws -> [(String, String)] {
        guard let resource = current.resource, let scope = try scopeId(of: current) else { return [] }
        let t = BufferSchema.rowsTable(resource)
        // The versions of one and not the other, by key: a key whose version changed is in both.
        let onlyPrevious = previous.id < current.id
            ? "v.to_file > ?2 AND v.to_file <= ?3 AND v.to_file < \(BufferSchema.open) AND v.from_file <= ?2"
            : "\(RowVersions.valid(at: "?2")) AND NOT (\(RowVersions.valid(at: "?3")))"
        return try db.namedRows("""
            SELECT SourceSystemIdentifier, SourceSystem FROM \(t) v WHERE v.scope_id = ?1 AND \(onlyPrevious)
            EXCEPT SELECT SourceSystemIdentifier, SourceSystem FROM \(t) v WHERE v.scope_id = ?1 AND \(RowVersions.valid(at: "?3")) AND NOT (\(RowVersions.valid(at: "?2")))
            """, [.integer(scope), .integer(previous.id), .integer(current.id)]).map { ($0["SourceSystemIdentifier"].text ?? "", $0["SourceSystem"].text ?? "") }
    }

    /// The file reached the LMS-DS (a snapshot) or its waiting rows were retried (`retryOfWaiting`).
    /// `waitingRowIds` are the rows (`ResourceRow.id`) whose parents are not there yet. Rows no kept
    /// snapshot of the scope needs any more are removed.
    public func markForwarded(_ file: LedgerFile, waitingRowIds: [Int64], retryOfWaiting: Bool = false) throws {
        guard let resource = file.resource else { return }
        let t = BufferSchema.rowsTable(resource)
        try db.transaction {
            if let scope = try scopeId(of: file) {
                // The flag belongs to the newest applied snapshot's view of a version: older ones are
                // superseded below, and a newer pending one is forwarded against it.
                try db.run("UPDATE \(t) AS v SET waiting = 0 WHERE v.scope_id = ?1 AND v.waiting = 1 AND \(RowVersions.valid(at: "?2"))",
                           [.integer(scope), .integer(file.id)])
                let mark = try db.cached("UPDATE \(t) SET waiting = 1 WHERE scope_id = ? AND from_file = ? AND line = ?")
                for id in waitingRowIds {
                    try mark.bind([.integer(scope), .integer(StagedRowID.file(of: id)), .integer(Int64(StagedRowID.line(of: id)))])
                    try mark.runToEnd()
                }
            }
            let event: LedgerEvent = retryOfWaiting ? .waitingRowsApplied(remaining: !waitingRowIds.isEmpty) : .applied(waiting: !waitingRowIds.isEmpty)
            var columns: [(String, SQLValue)] = [("waiting_rows", .integer(Int64(waitingRowIds.count))),
                                                 ("attempts", .integer(Int64(file.attempts + 1)))]
            if !retryOfWaiting { columns.append(("forwarded_at", .text(Timestamp.now()))) }
            if waitingRowIds.isEmpty || !retryOfWaiting { columns.append(("last_error", .null)) }
            try transition(file.id, event, set: columns)
            if !retryOfWaiting {
                try supersedeOlder(than: file)
                try prune(scopeOf: file)
            }
        }
    }

    /// Older snapshots of the scope that waited: their waiting rows are replaced by this snapshot.
    private func supersedeOlder(than file: LedgerFile) throws {
        for o in try olderSnapshots(than: file, in: [.waiting]) {
            try transition(o.id, .superseded, set: [("waiting_rows", .integer(0)),
                ("last_error", .text("its waiting rows were replaced by the newer snapshot \(file.path) (file \(file.id))"))])
        }
    }

    /// A newer snapshot of the scope was applied before this one: it is not applied.
    public func markSuperseded(_ file: LedgerFile, by newerPath: String) throws {
        try db.transaction {
            try transition(file.id, .superseded, set: [("waiting_rows", .integer(0)),
                                                        ("last_error", .text("the newer snapshot \(newerPath) was already applied"))])
            try prune(scopeOf: file)
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

    /// Notes a failed attempt that leaves the file pending (the LMS-DS was unreachable).
    public func noteAttemptFailed(_ file: LedgerFile, error: String) throws {
        try db.transaction {
            try db.run("UPDATE files SET attempts = attempts + 1, updated_at = ?, last_error = ? WHERE id = ?",
                       [.text(Timestamp.now()), .text(error), .integer(file.id)])
            try logError(fileId: file.id, phase: "forward", message: error)
        }
    }
}
