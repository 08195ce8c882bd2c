import Extract

/// How an engine runs the merge's statements: text bind parameters, row counts back.
protocol MergeExecutor {
    /// Runs one statement; returns the rows it changed.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String]) throws -> Int
    /// Runs parameter-free statements in order (an engine may send them in one round trip).
    func executeAll(_ statements: [String]) throws
    /// Every row of a query, its columns as integers (NULL as 0).
    func integerRows(_ sql: String, _ parameters: [String]) throws -> [[Int]]
    /// Records files in ProcessedFiles (path, resource, row count, upload time, checksum, and whether
    /// they were merged or only recorded as superseded), in as few statements as the engine allows.
    func record(_ requests: [ApplyRequest], now: String, applied: Bool) throws
}

extension MergeExecutor {
    /// The first column of every row of a query.
    func integers(_ sql: String, _ parameters: [String] = []) throws -> [Int] {
        try integerRows(sql, parameters).map { $0.first ?? 0 }
    }
}

extension MergeSQL {
    /// The merge of a batch: its files must be of one resource, in one mode, with the same columns
    /// (else `BatchMustBeSplit`). Nil for an empty batch.
    static func forBatch(_ requests: [ApplyRequest], registry: ResourceRegistry, dialect: any SQLDialect) throws -> MergeSQL? {
        guard let first = requests.first else { return nil }
        guard requests.allSatisfy({ $0.schema.resource == first.schema.resource && $0.mode == first.mode && $0.presentColumns == first.presentColumns }) else {
            throw BatchMustBeSplit("its files differ in resource, mode or columns")
        }
        return MergeSQL(schema: first.schema, registry: registry, dialect: dialect, present: first.presentColumns)
    }

    /// Whether the batch's snapshots are already in ProcessedFiles with their checksums (a crash
    /// came between the LMS-DS's commit and the buffer's), from the records of their paths: all of
    /// them, or none; some is `BatchMustBeSplit`, so that each file is applied or only marked alone.
    static func alreadyApplied(_ requests: [ApplyRequest], records: [String: ProcessedRecord]) throws -> Bool {
        guard requests.first?.mode == .snapshot else { return false }
        let applied = requests.map { records[$0.fullPath]?.isApplied(checksum: $0.checksum) ?? false }
        if applied.allSatisfy({ $0 }) { return true }
        if applied.contains(true) { throw BatchMustBeSplit("some of its files are already in ProcessedFiles") }
        return false
    }

    /// Everything after the batch's rows, scopes and dropped keys are in staging, the same on every
    /// engine: resolve parents and existing rows, find the rows that wait, then (unless the files are
    /// already applied) update, insert, child tables, each snapshot's scoped soft delete, the guard
    /// and the ProcessedFiles records. One result per request, in order.
    func run(on x: some MergeExecutor, _ requests: [ApplyRequest], now: String, alreadyApplied: Bool) throws -> [ApplyResult] {
        var results = [ApplyResult](repeating: ApplyResult(), count: requests.count)
        if requests.count > 1, !(try x.integerRows(sharedKey, [])).isEmpty {
            // Applied one by one, the later file would update the earlier one's row; at once, both
            // would be inserted.
            throw BatchMustBeSplit("two of its files have a row with the same natural key")
        }
        try x.executeAll(resolveParents + (markOrphans.map { [$0] } ?? []))
        for r in try x.integerRows(selectOrphanLines, []) { results[r[0]].waitingRowIds.append(Int64(r[1])) }
        if alreadyApplied {
            // Committed before a crash: change nothing, but say which rows were left waiting.
            for i in results.indices { results[i].alreadyApplied = true }
            return results
        }
        for r in try x.integerRows(countByFile, []) {
            results[r[0]].inserted = r[1]
            results[r[0]].restored = r[2]
            results[r[0]].updated = r[3]
        }
        try x.execute(update, [])
        try x.execute(insert, [])
        let snapshots = requests.first?.mode == .snapshot
        for child in children {
            try x.execute(child.insert, [now])
            try x.execute(child.restore, [])
            if snapshots { try x.execute(child.delete, [now]) }
        }
        guard snapshots else { return results }
        if requests.contains(where: { !$0.deletesByKeys }), let collect = collectScopeDeletions { try x.execute(collect, []) }
        if requests.contains(where: \.deletesByKeys) { try x.execute(collectKeyDeletions, []) }
        var deleted = 0
        for r in try x.integerRows(countDeletionsByFile, []) {
            results[r[0]].softDeleted = r[1]
            deleted += r[1]
        }
        if deleted > 0 { try x.execute(applyDeletions, [now]) }
        for (request, result) in zip(requests, results) { try checkDeleteGuard(on: x, request, result) }
        try x.record(requests, now: now, applied: true)
        return results
    }

    /// The rows of `stg_Scopes` for a batch: (FileNo, SourceSystem, ScopeId, ByKeys) for every
    /// source system each snapshot may soft-delete in; none for a folder scope that has no name.
    func scopeRows(_ requests: [ApplyRequest]) -> [[String?]] {
        guard requests.first?.mode == .snapshot else { return [] }
        var rows: [[String?]] = []
        for (n, request) in requests.enumerated() {
            guard let scope = scopeId(of: request.scope) else { continue }
            for system in request.deleteSourceSystems {
                rows.append([String(n), system, scope.value, request.deletesByKeys ? "1" : "0"])
            }
        }
        return rows
    }

    /// The rows of `stg_DroppedKeys` for a batch: (FileNo, SourceSystemIdentifier, SourceSystem).
    func droppedKeyRows(_ requests: [ApplyRequest]) -> [[String?]] {
        guard requests.first?.mode == .snapshot else { return [] }
        var rows: [[String?]] = []
        for (n, request) in requests.enumerated() where request.deletesByKeys {
            for k in request.droppedKeys { rows.append([String(n), k.sourceSystemIdentifier, k.sourceSystem]) }
        }
        return rows
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

    /// Records one file in ProcessedFiles (path, resource, row count, upload time, checksum, and
    /// whether it was merged or only recorded as superseded).
    static func record(on x: some MergeExecutor, _ request: ApplyRequest, dialect: any SQLDialect, now: String, applied: Bool) throws {
        try x.execute(dialect.upsertProcessedFile,
                      [request.fullPath, request.schema.resource.rawValue, String(request.rowCount), now, request.checksum,
                       applied ? "1" : "0"])
    }
}
