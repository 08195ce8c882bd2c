import Extract

/// How an engine runs the merge's statements: text bind parameters, row counts back.
protocol MergeExecutor {
    /// Runs one statement; returns the rows it changed.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String]) throws -> Int
    /// Runs parameter-free statements in order (an engine may send them in one round trip).
    func executeAll(_ statements: [String]) throws
    /// The first column of every row of a query, as integers.
    func integers(_ sql: String, _ parameters: [String]) throws -> [Int]
}

extension MergeExecutor {
    func integers(_ sql: String) throws -> [Int] { try integers(sql, []) }
}

extension MergeSQL {
    /// Everything after the rows are in staging, the same on every engine: resolve parents and
    /// existing rows, find the rows that wait, then (unless the file is already applied) update,
    /// insert, child tables, the scoped soft delete and the ProcessedFiles record.
    func run(on x: some MergeExecutor, _ request: ApplyRequest, now: String, alreadyApplied: Bool) throws -> ApplyResult {
        var result = ApplyResult()
        try x.executeAll(resolveParents + (markOrphans.map { [$0] } ?? []))
        result.waitingLines = try x.integers(selectOrphanLines)
        if alreadyApplied {
            // Committed before a crash: change nothing, but say which rows were left waiting.
            result.alreadyApplied = true
            return result
        }
        result.restored = try x.integers(countRestored).first ?? 0
        result.updated = try x.execute(update, [])
        result.inserted = try x.execute(insert, [])
        for child in children {
            try x.execute(child.insert, [now])
            try x.execute(child.restore, [])
            if request.mode == .snapshot { try x.execute(child.delete, [now]) }
        }
        if request.mode == .snapshot {
            for system in request.deleteSourceSystems {
                if let d = softDelete(scope: request.scope, sourceSystem: system, now: now) {
                    result.softDeleted += try x.execute(d.sql, d.parameters)
                }
            }
            try checkDeleteGuard(on: x, request, result)
            try MergeSQL.record(on: x, request, dialect: dialect, now: now, applied: true)
        }
        return result
    }

    /// Throws `StoreError.guarded` when the file soft-deleted too much of its scope; the caller's
    /// transaction then rolls everything back. The scope is counted only when the deletions could
    /// trip the guard at all, so an ordinary file pays nothing.
    private func checkDeleteGuard(on x: some MergeExecutor, _ request: ApplyRequest, _ result: ApplyResult) throws {
        guard let g = request.deleteGuard, result.softDeleted >= g.leastRefused, schema.deleteScope != .previousSnapshot else { return }
        var liveNow = 0
        for system in request.deleteSourceSystems {
            if let q = liveInScope(scope: request.scope, sourceSystem: system) {
                liveNow += try x.integers(q.sql, q.parameters).first ?? 0
            }
        }
        // Live before the file: what is live now, plus what it deleted, less what it added back.
        let liveBefore = liveNow + result.softDeleted - result.inserted - result.restored
        if g.refuses(deleting: result.softDeleted, ofLive: liveBefore) {
            throw StoreError.guarded(deleting: result.softDeleted, live: liveBefore)
        }
    }

    /// Records a file in ProcessedFiles (path, resource, row count, upload time, checksum, and whether
    /// it was merged or only recorded as superseded).
    static func record(on x: some MergeExecutor, _ request: ApplyRequest, dialect: any SQLDialect, now: String, applied: Bool) throws {
        try x.execute(dialect.upsertProcessedFile,
                      [request.fullPath, request.schema.resource.rawValue, String(request.rowCount), now, request.checksum,
                       applied ? "1" : "0"])
    }
}
