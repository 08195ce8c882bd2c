import Buffer
import Extract
import Logging
import Stores

/// Counts of one forwarding pass, per resource.
public struct ResourceTally: Sendable, Codable, Equatable {
    /// Snapshot files applied (those already in `ProcessedFiles` included).
    public var files = 0
    /// Their rows.
    public var rows = 0
    /// Rows new to the LMS-DS.
    public var inserted = 0
    /// Rows changed, restored ones included.
    public var updated = 0
    /// Soft-deleted rows a file brought back.
    public var restored = 0
    /// Rows a snapshot's scope no longer had, soft-deleted.
    public var softDeleted = 0
    /// Rows left waiting for their parents.
    public var waitingRows = 0
    /// Files the LMS-DS refused (rejected; the others went on).
    public var rejectedFiles = 0
    /// Files not applied because a newer snapshot of their scope was (or is now) applied.
    public var supersededFiles = 0
    /// Files `ProcessedFiles` already had with this checksum: only marked in the buffer.
    public var alreadyApplied = 0
    /// Files the mass-delete guard held back.
    public var heldFiles = 0
    /// A tally of nothing yet.
    public init() {}
}

/// What one forwarding pass did: counts per resource and the files it rejected or held.
public struct ForwardReport: Sendable, Codable, Equatable {
    /// Counts by resource name.
    public var byResource: [String: ResourceTally] = [:]
    /// `path: reason` of each file the LMS-DS refused or the mass-delete guard held.
    public var errors: [String] = []
    /// A report of nothing yet.
    public init() {}

    /// The counts of every resource added up.
    public var total: ResourceTally {
        byResource.values.reduce(into: ResourceTally()) { t, r in
            t.files += r.files; t.rows += r.rows; t.inserted += r.inserted; t.updated += r.updated
            t.restored += r.restored; t.softDeleted += r.softDeleted; t.waitingRows += r.waitingRows
            t.rejectedFiles += r.rejectedFiles; t.supersededFiles += r.supersededFiles; t.alreadyApplied += r.alreadyApplied
            t.heldFiles += r.heldFiles
        }
    }
}

/// Moves staged files from the buffer into the LMS-DS, exactly once, in load order.
///
/// For each pending file, by resource (parents first), then snapshot, then path:
/// - a snapshot older than one already applied to its scope is `superseded`;
/// - otherwise the store applies it in one transaction (which checks and writes ProcessedFiles),
///   and only then the buffer marks it `forwarded` (or `waiting` when some rows lack parents).
/// A crash between the two leaves a file that the next pass finds in ProcessedFiles and only marks.
public struct Forwarder {
    /// The buffer the files come from and whose ledger records their outcome.
    public let buffer: Buffer
    /// The LMS-DS they go to.
    public let store: any LMSDataStore
    /// The absolute extract root, for `ProcessedFiles.FullPath`.
    public let root: String
    /// Where each file's outcome is logged.
    public let logger: Logger
    /// The mass-delete guard every snapshot passes, unless an operator released it (nil: none).
    public let deleteGuard: DeleteGuard?
    /// Where to report how far forwarding is.
    public var progress: (any ProgressSink)?

    /// A forwarder from `buffer` into `store`; `LMSAgent.forwarder(store:)` makes one with the settings' guard.
    public init(buffer: Buffer, store: any LMSDataStore, root: String, logger: Logger, deleteGuard: DeleteGuard? = .standard) {
        self.buffer = buffer
        self.store = store
        self.root = root
        self.logger = logger
        self.deleteGuard = deleteGuard
    }

    /// Forwards everything pending. Throws a `StoreError` of cause `.unavailable` when the LMS-DS
    /// cannot be reached; what was not forwarded stays pending.
    public func forwardPending(shouldStop: () -> Bool = { false }) throws -> ForwardReport {
        let report = try buffer.batch { try forwardPendingInBatch(shouldStop: shouldStop) }
        logger.debug("forward: pass done")
        return report
    }

    private func forwardPendingInBatch(shouldStop: () -> Bool) throws -> ForwardReport {
        var report = ForwardReport()
        logger.debug("forward: pass begins")
        try recoverCommitted(into: &report)
        // New snapshots before waiting rows of the same resource: a newer snapshot replaces them.
        let pending = try buffer.pendingFiles().sorted { a, b in
            let ra = buffer.registry.forwardRank(of: a.resource), rb = buffer.registry.forwardRank(of: b.resource)
            if ra != rb { return ra < rb }
            if (a.state == .waiting) != (b.state == .waiting) { return a.state != .waiting }
            return buffer.loadOrder(a, b)
        }
        let meter = ProgressMeter(progress, phase: .forwarding, total: pending.count)
        logger.debug("forward: \(pending.count) pending file(s)")
        for listed in pending {
            // A shutdown waits for the file in hand, never for the rest.
            if shouldStop() { break }
            defer { meter.fileDone(rows: listed.state == .waiting ? 0 : listed.rowCount, resource: listed.resource?.rawValue) }
            // Earlier steps of this pass may have changed it (superseded by a newer version).
            guard let file = try buffer.file(id: listed.id), file.state.isPending, let resource = file.resource else { continue }
            var tally = report.byResource[resource.rawValue] ?? ResourceTally()
            defer { report.byResource[resource.rawValue] = tally }
            logger.debug("forward: \(file.path)")
            do {
                if file.state == .waiting {
                    try retryWaiting(file, &tally)
                } else {
                    try forwardSnapshot(file, &tally)
                }
            } catch let e as StoreError {
                switch e.cause {
                case .dataRefused:
                    let text = "\(file.path): \(e.message)"
                    logger.error("rejected by the LMS-DS: \(text)")
                    try buffer.markRejected(file, error: e.message)
                    tally.rejectedFiles += 1
                    report.errors.append(text)
                case .guarded(let deleting, let live):
                    let reason = "held by the mass-delete guard: it would soft-delete \(deleting) of the \(live) live rows of its scope (more than \(Int((deleteGuard?.maxShare ?? 0) * 100)) %); nothing of it was applied. If the deletions are real, `lms-agent release \(file.id)`; a newer snapshot that passes the guard replaces it"
                    logger.error("\(file.path): \(reason)")
                    try buffer.markHeld(file, reason: reason)
                    tally.heldFiles += 1
                    report.errors.append("\(file.path): \(reason)")
                case .unavailable:
                    try? buffer.noteAttemptFailed(file, error: e.message)
                    throw e
                case .migration:
                    throw e
                }
            }
            try buffer.batchTick()
        }
        return report
    }

    /// A crash between the LMS-DS commit and the buffer update leaves files `staged` that the LMS-DS
    /// has (so does a rebuilt buffer). They are marked first, so that the supersede checks below see
    /// what the LMS-DS really holds: a file merged there is marked forwarded (its waiting rows found
    /// again), and a file recorded there *without* being merged (a superseded snapshot) is marked
    /// superseded, never taken for an applied one.
    private func recoverCommitted(into report: inout ForwardReport) throws {
        for file in try buffer.stagedFiles() {
            var tally = report.byResource[file.resource!.rawValue] ?? ResourceTally()
            defer { report.byResource[file.resource!.rawValue] = tally }
            switch try store.processedRecord(fullPath: fullPath(of: file)) {
            case .upstream:
                try forwardSnapshot(file, &tally, skipSupersedeCheck: true)
            case .applied(let checksum) where checksum == file.sha256:
                try forwardSnapshot(file, &tally, skipSupersedeCheck: true)
            case .recordedNotApplied(let checksum) where checksum == file.sha256:
                try buffer.markSuperseded(file, by: "(recorded as superseded in the LMS-DS's ProcessedFiles)")
                logger.info("\(file.path): the LMS-DS recorded it as superseded before; marked superseded")
                tally.supersededFiles += 1
            default:
                continue
            }
        }
    }

    /// A later snapshot of the file's scope (or a later version of the same snapshot) that the
    /// LMS-DS already has, if any. Never apply an older snapshot over a newer one.
    private func newerAppliedSnapshot(than file: LedgerFile) throws -> String? {
        if let newer = try buffer.newerApplied(than: file) { return newer.path }
        for path in try buffer.laterSnapshotPaths(like: file) {
            let rel = ExtractFile(relativePath: path, resource: file.resource!, scope: file.scope, snapshot: "").upstreamRelativePath
            if try store.processedRecord(fullPath: fullPath(relative: rel)) != .none { return path }
        }
        return nil
    }

    /// The store's request for a ledger file: its schema from the buffer's registry, the source systems
    /// its snapshot may soft-delete in, its full path as upstream spells it, and the guard unless an
    /// operator released it. Throws `StoreError` (data refused) for a resource this agent does not hold.
    public func request(for file: LedgerFile, mode: ApplyRequest.Mode, droppedKeys: [NaturalKey] = []) throws -> ApplyRequest {
        guard let resource = file.resource, let schema = buffer.registry[resource] else {
            throw StoreError.dataRefused("its resource \(file.resource?.rawValue ?? "(none)") is not registered in this agent")
        }
        var deleteSystems = file.sourceSystems
        if deleteSystems.isEmpty {
            // A header-only file: a section or assignment folder still names its scope (fix of
            // upstream D6); a top-level file names none, so it deletes nothing.
            if schema.deleteScope.folderKey != nil {
                deleteSystems = try buffer.extractSourceSystems()
            } else if mode == .snapshot {
                logger.warning("\(file.path) has no rows: nothing is deleted for it (a whole-source-system file with no rows is more likely an extractor failure than an empty LMS)")
            }
        }
        return ApplyRequest(schema: schema, mode: mode, fullPath: fullPath(of: file), checksum: file.sha256, rowCount: file.rowCount,
                            scope: file.scope, presentColumns: Set(file.presentColumns), deleteSourceSystems: deleteSystems,
                            droppedKeys: droppedKeys, deleteGuard: file.guardReleased ? nil : deleteGuard)
    }

    /// `ProcessedFiles.FullPath`: the absolute path, with `assignment=` in lower case as upstream writes it.
    func fullPath(of file: LedgerFile) -> String {
        fullPath(relative: file.extractFile?.upstreamRelativePath ?? file.path)
    }

    func fullPath(relative rel: String) -> String {
        root.hasSuffix("/") ? root + rel : root + "/" + rel
    }

    private func forwardSnapshot(_ file: LedgerFile, _ tally: inout ResourceTally, skipSupersedeCheck: Bool = false) throws {
        let previous = try buffer.latestApplied(like: file)
        if !skipSupersedeCheck, let newer = try newerAppliedSnapshot(than: file) {
            try store.recordWithoutApplying(try request(for: file, mode: .snapshot))
            try buffer.markSuperseded(file, by: newer)
            logger.info("\(file.path): superseded, the newer snapshot \(newer) was already applied")
            tally.supersededFiles += 1
            return
        }
        if file.rowCount > 0, try !buffer.hasStagedRows(file) {
            // A snapshot without its rows would soft-delete its whole scope. Only a bug or a damaged
            // buffer can get here; refuse rather than delete.
            throw StoreError.dataRefused("its staged rows are missing from the buffer (\(file.rowCount) expected); it was not applied. Change the file or delete the buffer to stage it again")
        }
        var dropped: [NaturalKey] = []
        if file.resource.flatMap({ buffer.registry[$0] })?.deleteScope == .previousSnapshot, let previous {
            dropped = try buffer.keysDropped(from: previous, to: file).map { NaturalKey($0.0, $0.1) }
        }
        let req = try request(for: file, mode: .snapshot, droppedKeys: dropped)
        let result = try store.apply(req) { body in try buffer.rows(of: file, body) }
        try buffer.markForwarded(file, waitingLines: result.waitingLines)
        try replaceHeld(olderThan: file, &tally)
        tally.files += 1
        tally.rows += file.rowCount
        if result.alreadyApplied {
            tally.alreadyApplied += 1
            logger.info("\(file.path): already in ProcessedFiles with this checksum; marked forwarded")
            return
        }
        add(result, to: &tally)
        logger.debug("\(file.path): +\(result.inserted) ~\(result.updated) -\(result.softDeleted) waiting \(result.waitingLines.count)")
        if !result.waitingLines.isEmpty {
            logger.warning("\(file.path): \(result.waitingLines.count) row(s) wait for parents not yet in the LMS-DS (first on line \(result.waitingLines[0]))")
        }
    }

    /// A newer snapshot was applied: held files of its scope are replaced, never applied. They are
    /// recorded in ProcessedFiles as not applied, so that no loader applies them later.
    private func replaceHeld(olderThan file: LedgerFile, _ tally: inout ResourceTally) throws {
        for held in try buffer.heldOlder(than: file) {
            try store.recordWithoutApplying(try request(for: held, mode: .snapshot))
            try buffer.markSuperseded(held, by: file.path)
            logger.info("\(held.path): the newer snapshot \(file.path) replaced this held file")
            tally.supersededFiles += 1
        }
    }

    private func retryWaiting(_ file: LedgerFile, _ tally: inout ResourceTally) throws {
        let req = try request(for: file, mode: .waitingRows)
        let result = try store.apply(req) { body in try buffer.rows(of: file, waitingOnly: true, body) }
        try buffer.markForwarded(file, waitingLines: result.waitingLines, retryOfWaiting: true)
        add(result, to: &tally)
        let applied = file.waitingRows - result.waitingLines.count
        if applied > 0 { logger.info("\(file.path): \(applied) waiting row(s) applied, \(result.waitingLines.count) still waiting") }
    }

    private func add(_ r: ApplyResult, to t: inout ResourceTally) {
        t.inserted += r.inserted
        t.updated += r.updated
        t.restored += r.restored
        t.softDeleted += r.softDeleted
        t.waitingRows += r.waitingLines.count
    }
}
