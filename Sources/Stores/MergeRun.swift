import Extract

/// How an engine runs the merge's statements: text bind parameters, row counts back.
public protocol MergeExecutor {
    /// Runs one statement; returns the rows it changed.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String]) throws -> Int
    /// Runs parameter-free statements in order (an engine may send them in one round trip).
    func executeAll(_ statements: [String]) throws
    /// The first column of every row of a query, as integers.
    func integers(_ sql: String) throws -> [Int]
}

extension MergeSQL {
    /// Everything after the rows are in staging, the same on every engine: resolve parents and
    /// existing rows, find the rows that wait, then (unless the file is already applied) update,
    /// insert, submission types, the scoped soft delete and the ProcessedFiles record.
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
        if schema.resource == .assignments {
            try x.execute(insertSubmissionTypes, [now])
            try x.execute(restoreSubmissionTypes, [])
            if request.mode == .snapshot { try x.execute(deleteSubmissionTypes, [now]) }
        }
        if request.mode == .snapshot {
            for system in request.deleteSourceSystems {
                if let d = softDelete(scope: request.scope, sourceSystem: system, now: now) {
                    result.softDeleted += try x.execute(d.sql, d.parameters)
                }
            }
            try MergeSQL.record(on: x, request, dialect: dialect, now: now, applied: true)
        }
        return result
    }

    /// Records a file in ProcessedFiles (path, resource, row count, upload time, checksum, and whether
    /// it was merged or only recorded as superseded).
    static func record(on x: some MergeExecutor, _ request: ApplyRequest, dialect: any SQLDialect, now: String, applied: Bool) throws {
        try x.execute(dialect.upsertProcessedFile,
                      [request.fullPath, request.schema.resource.rawValue, String(request.rowCount), now, request.checksum,
                       applied ? "1" : "0"])
    }
}
