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
    /// Snapshots forwarded as deltas: only their rows that changed since the scope's previous one.
    public var deltaFiles = 0
    /// Rows those deltas did not need to send (unchanged since the previous snapshot).
    public var unchangedRows = 0
    /// LMS-DS transactions that applied snapshots (a batch of many files is one).
    public var batches = 0
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
            t.heldFiles += r.heldFiles; t.deltaFiles += r.deltaFiles; t.unchangedRows += r.unchangedRows; t.batches += r.batches
        }
    }
}

/// How much one LMS-DS transaction of the forwarder may hold.
public struct BatchLimits: Sendable, Equatable {
    /// Files per batch.
    public var files: Int
    /// Rows per batch (counted as the files' rows, before a delta leaves most of them out).
    public var rows: Int
    /// A batch that took longer than this makes the next ones smaller, so that the agent's lock on
    /// the LMS-DS is never held for long and progress stays visible; fast batches grow back.
    public var seconds: Double

    /// 1,000 files, 100,000 rows, 2 seconds.
    public static let standard = BatchLimits(files: 1_000, rows: 100_000, seconds: 2)
    /// One file per transaction, as before batching (`LMS_AGENT_BATCH_FILES=1`).
    public static let oneFileEach = BatchLimits(files: 1, rows: 1, seconds: 2)

    /// Limits of a batch.
    public init(files: Int, rows: Int, seconds: Double) {
        self.files = max(1, files)
        self.rows = max(1, rows)
        self.seconds = seconds
    }
}

/// Moves staged files from the buffer into the LMS-DS, exactly once, in load order.
///
/// Pending files go by resource (parents first), then snapshot, then path. Consecutive snapshots
/// of one resource are forwarded in batches: one LMS-DS transaction applies many files with one
/// set-based merge and records every one of them in ProcessedFiles; only after it commits does the
/// buffer mark them `forwarded` (or `waiting`). A batch holds at most one snapshot of a scope, so
/// the result is the one of applying its files one by one. A crash between the two commits leaves
/// files that the next pass finds in ProcessedFiles (one query) and only marks.
///
/// - A snapshot older than one already applied to its scope is `superseded`, never applied.
/// - A snapshot whose scope's previous applied snapshot is still in the buffer goes as a delta:
///   only its rows that changed, and the keys it lost (see `Buffer.changedRows`), unless the buffer
///   cannot vouch for the LMS-DS (`deltasTrusted`).
/// - A batch the LMS-DS refuses (a constraint, the mass-delete guard), or that the store will not
///   take at once (`BatchMustBeSplit`), is rolled back whole and its files are applied one by one,
///   so that only the offending file is rejected or held.
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
    /// How much one LMS-DS transaction holds.
    public var limits = BatchLimits.standard
    /// `--full`: merge every snapshot whole, never as a delta.
    public var fullMerge = false

    /// The buffer's `meta` key of `ProcessedFiles`' mark after this buffer's last LMS-DS commit.
    static let processedFilesMarkKey = "processed_files_mark"

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
        try forwardPending(shouldStop: shouldStop, alongside: nil)
    }

    /// `forwardPending`; with `staging`, another connection stages files into the buffer meanwhile (an overlapped
    /// flush): the pass applies each scope once the stager has committed all of it, and goes on
    /// until staging is over. `afterRecovery` runs once the files earlier runs left committed in
    /// the LMS-DS are marked (the stager starts then, so that it never races that recovery).
    func forwardPending(shouldStop: () -> Bool, alongside staging: StagingWatermark?,
                        afterRecovery: () -> Void = {}) throws -> ForwardReport {
        var pass = Pass(forwarder: self)
        pass.staging = staging
        if staging != nil {
            // Beside a stager, the pass holds the buffer's write turn only to record outcomes
            // (a transaction per LMS-DS batch), never while it reads or the LMS-DS merges.
            try pass.run(shouldStop: shouldStop, afterRecovery: afterRecovery)
        } else {
            try buffer.batch { try pass.run(shouldStop: shouldStop, afterRecovery: afterRecovery) }
        }
        logger.debug("forward: pass done")
        return pass.report
    }

    /// A snapshot ready for the LMS-DS: its request, and the earlier snapshot its delta is against.
    struct Prepared {
        var file: LedgerFile
        var request: ApplyRequest
        var deltaBase: LedgerFile?
    }

    /// One forwarding pass: its report, whether deltas are trusted, and the adaptive batch size.
    struct Pass {
        let forwarder: Forwarder
        var report = ForwardReport()
        /// The buffer vouches for the LMS-DS: `ProcessedFiles` is as this buffer's last commit left it.
        var deltasTrusted = false
        /// Snapshots this pass applied (their waiting rows are not retried in the same pass), except
        /// those it only found applied by an earlier one (`recovering`): their rows are retried.
        var appliedNow: Set<Int64> = []
        var recovering = false
        /// Pending files read from the buffer at a time (a batch never spans two pages).
        static let page = 2_000
        /// Rows the next batch may hold, between 1 and `limits.rows`.
        var rowBudget: Int
        var meter: ProgressMeter?

        init(forwarder: Forwarder) {
            self.forwarder = forwarder
            rowBudget = forwarder.limits.rows
        }

        var buffer: Buffer { forwarder.buffer }
        var store: any LMSDataStore { forwarder.store }
        var logger: Logger { forwarder.logger }

        /// The staging that goes on beside this pass, if any.
        var staging: StagingWatermark?

        mutating func run(shouldStop: () -> Bool, afterRecovery: () -> Void = {}) throws {
            logger.debug("forward: pass begins")
            deltasTrusted = try forwarder.deltasTrusted()
            var recovered = try recoverCommitted(after: 0)
            afterRecovery()
            meter = ProgressMeter(forwarder.progress, phase: .forwarding, total: try buffer.pendingCounts().files)
            logger.debug("forward: \(meter?.total ?? 0) pending file(s)\(deltasTrusted ? "" : "; every snapshot is merged whole")")
            // One resource at a time (parents first), new snapshots before waiting rows (a newer
            // snapshot replaces them), a page at a time: what is in memory does not grow with the tree.
            for (rank, schema) in buffer.registry.schemas.enumerated() {
                if let staging {
                    // While the resource is being staged: the scopes the stager has committed whole,
                    // a round after each of its commits.
                    while !shouldStop(), !staging.isStaged(rank: rank) {
                        let mark = staging.mark
                        recovered = try recoverCommitted(after: recovered)
                        try forwardSnapshots(of: schema.resource, shouldStop: shouldStop, readiness: staging.readiness)
                        staging.wait(after: mark)
                    }
                    recovered = try recoverCommitted(after: recovered)
                }
                try forwardSnapshots(of: schema.resource, shouldStop: shouldStop)
                var id: Int64 = 0
                while !shouldStop() {
                    let page = try buffer.waitingFiles(ofResource: schema.resource, after: id, limit: Pass.page)
                    guard let last = page.last else { break }
                    id = last.id
                    // Not those that this pass just applied: their parents were looked for a moment ago.
                    try run(page.filter { !appliedNow.contains($0.id) }, shouldStop: shouldStop)
                }
            }
            // Files of a resource this agent does not have: each is refused, named.
            if !shouldStop() { try run(buffer.pendingFilesOfUnregisteredResources(), shouldStop: shouldStop) }
        }

        /// Forwards the resource's pending snapshots, in load order; during an overlapped flush only
        /// those `readiness` lets through. It was taken before the first page is read, once for
        /// all of them: a scope it calls ready was committed whole before any page was read, and
        /// a scope it does not is skipped whole (judged at two moments, a scope's older snapshot
        /// could be skipped and its newer one applied first).
        mutating func forwardSnapshots(of resource: Resource, shouldStop: () -> Bool,
                                       readiness: StagingWatermark.Readiness? = nil) throws {
            var cursor: LedgerFile? = nil
            while !shouldStop() {
                let page = try buffer.pendingSnapshots(ofResource: resource, after: cursor, limit: Pass.page)
                guard let last = page.last else { break }
                cursor = last
                let files = readiness.map { r in page.filter { r.isReady($0) } } ?? page
                if staging != nil, let meter {
                    // Files staged since the pass began count towards the total.
                    meter.total = max(meter.total, meter.files + (try buffer.pendingCounts().files))
                }
                try run(files, shouldStop: shouldStop)
            }
        }

        /// Forwards a list of one resource's pending files, given in load order: runs of snapshots
        /// in batches, waiting files one by one. `skipSupersedeCheck` for files the LMS-DS already has.
        mutating func run(_ pending: [LedgerFile], shouldStop: () -> Bool, skipSupersedeCheck: Bool = false) throws {
            var i = 0
            while i < pending.count {
                // A shutdown waits for the batch in hand, never for the rest.
                if shouldStop() { break }
                if pending[i].state == .waiting {
                    try retryWaiting(pending[i])
                    i += 1
                    continue
                }
                // The next run of snapshots of one resource, each scope once, within the limits.
                var batch: [Prepared] = []
                var scopes: Set<String> = []
                var rows = 0
                while i < pending.count, batch.count < forwarder.limits.files, batch.isEmpty || rows < rowBudget {
                    let listed = pending[i]
                    guard listed.state != .waiting,
                          batch.first.map({ $0.file.resource == listed.resource && $0.file.presentColumns == listed.presentColumns }) ?? true,
                          !scopes.contains(listed.scope.key) else { break }
                    i += 1
                    guard let prepared = try prepare(listed, skipSupersedeCheck: skipSupersedeCheck) else { continue }
                    batch.append(prepared)
                    scopes.insert(listed.scope.key)
                    rows += listed.rowCount
                }
                try apply(batch)
                try buffer.batchTick()
            }
        }

        /// Gets a pending snapshot ready, or settles it without the LMS-DS's merge (superseded, or
        /// refused for rows missing from the buffer): nil then.
        mutating func prepare(_ listed: LedgerFile, skipSupersedeCheck: Bool = false) throws -> Prepared? {
            // Earlier steps of this pass may have changed it (superseded by a newer version).
            guard let file = try buffer.file(id: listed.id), file.state == .staged, let resource = file.resource else {
                meter?.fileDone(rows: 0, resource: listed.resource?.rawValue)
                return nil
            }
            logger.debug("forward: \(file.path)")
            do {
                let previous = try buffer.latestApplied(like: file)
                if !skipSupersedeCheck, let newer = try forwarder.newerAppliedSnapshot(than: file, latestApplied: previous) {
                    note(try store.recordWithoutApplying(try forwarder.request(for: file, mode: .snapshot)))
                    try buffer.markSuperseded(file, by: newer)
                    logger.info("\(file.path): superseded, the newer snapshot \(newer) was already applied")
                    report.byResource[resource.rawValue, default: ResourceTally()].supersededFiles += 1
                    meter?.fileDone(rows: file.rowCount, resource: resource.rawValue)
                    return nil
                }
                if file.rowCount > 0, try !buffer.hasStagedRows(file) {
                    // A snapshot without its rows would soft-delete its whole scope. Only a bug or a
                    // damaged buffer can get here; refuse rather than delete.
                    throw StoreError.dataRefused("its staged rows are missing from the buffer (\(file.rowCount) expected); it was not applied. Change the file or delete the buffer to stage it again")
                }
                let schema = buffer.registry[resource]
                var base: LedgerFile? = nil
                if deltasTrusted, !skipSupersedeCheck, schema?.deleteScope != .previousSnapshot, let previous,
                   try buffer.canBeDeltaBase(previous, for: file) {
                    base = previous
                }
                var dropped: [NaturalKey] = []
                if let previous, base != nil || schema?.deleteScope == .previousSnapshot {
                    dropped = try buffer.keysDropped(from: previous, to: file).map { NaturalKey($0.0, $0.1) }
                }
                var request = try forwarder.request(for: file, mode: .snapshot, droppedKeys: dropped)
                request.delta = base != nil
                return Prepared(file: file, request: request, deltaBase: base)
            } catch let e as StoreError where e.cause == .dataRefused {
                try reject(file, e)
                meter?.fileDone(rows: file.rowCount, resource: resource.rawValue)
                return nil
            }
        }

        /// Applies a batch in one LMS-DS transaction, then marks its files in the buffer. A batch the
        /// LMS-DS or the store will not take whole is applied file by file instead.
        mutating func apply(_ batch: [Prepared]) throws {
            guard !batch.isEmpty else { return }
            let started = ContinuousClock.now
            let applied: AppliedBatch
            var sent = [Int](repeating: 0, count: batch.count)
            do {
                applied = try store.apply(batch: batch.map(\.request)) { n, body in
                    let p = batch[n]
                    let counted: (ResourceRow) throws -> Void = { row in sent[n] += 1; try body(row) }
                    if let base = p.deltaBase {
                        try buffer.changedRows(of: p.file, since: base, counted)
                    } else {
                        try buffer.rows(of: p.file, counted)
                    }
                }
            } catch let e as BatchMustBeSplit where batch.count > 1 {
                logger.debug("forward: \(e)")
                return try applyOneByOne(batch)
            } catch let e as StoreError where batch.count > 1 && e.cause != .unavailable && e.cause != .migration {
                // Which file the LMS-DS refused is found by applying them one by one: only it is
                // rejected (or held), with the server's message.
                logger.debug("forward: a batch of \(batch.count) file(s) was refused (\(e.message)); applying them one by one")
                return try applyOneByOne(batch)
            } catch let e as StoreError {
                if e.cause == .unavailable { for p in batch.dropFirst() { try? buffer.noteAttemptFailed(p.file, error: e.message) } }
                try settle(batch[0].file, refusedWith: e)
                meter?.fileDone(rows: batch[0].file.rowCount, resource: batch[0].file.resource?.rawValue)
                return
            }
            adaptBudget(rows: batch.reduce(0) { $0 + $1.file.rowCount }, files: batch.count, took: ContinuousClock.now - started)
            // One buffer transaction for the batch's outcomes (within the pass's own batch, when it has one).
            try buffer.batch {
                note(applied.processedFilesMark)
                if let resource = batch[0].file.resource { report.byResource[resource.rawValue, default: ResourceTally()].batches += 1 }
                for (n, (p, result)) in zip(batch, applied.results).enumerated() {
                    try finish(p, result, sent: sent[n])
                    try buffer.batchTick()
                }
            }
        }

        private mutating func applyOneByOne(_ batch: [Prepared]) throws {
            for p in batch {
                // Its state may have moved meanwhile (a held file replaced by this batch's newer one).
                guard let file = try buffer.file(id: p.file.id), file.state == .staged else { continue }
                try apply([p])
            }
        }

        /// A batch that took longer than the limit makes the next ones smaller; a fast one lets them
        /// grow back, up to the limit.
        private mutating func adaptBudget(rows: Int, files: Int, took: Duration) {
            let seconds = took.seconds
            let limit = forwarder.limits
            if seconds > limit.seconds, files > 1 {
                rowBudget = max(1, Int(Double(rows) * limit.seconds / seconds))
                logger.debug("forward: a batch of \(files) file(s), \(rows) row(s) took \(String(format: "%.1f", seconds)) s; the next ones hold up to \(rowBudget) row(s)")
            } else if seconds < limit.seconds / 2 {
                rowBudget = min(limit.rows, max(rowBudget, 1) * 2)
            }
        }

        /// Records `ProcessedFiles`' mark after this buffer's own commit (nil: nothing was recorded).
        private func note(_ mark: String?) {
            guard let mark else { return }
            do { try buffer.setMeta(Forwarder.processedFilesMarkKey, mark) } catch {
                // Without it the next pass merges whole snapshots: slower, never wrong.
                logger.debug("forward: could not record ProcessedFiles' mark: \(error)")
            }
        }

        /// The buffer's record of an applied snapshot, and its log lines (after the LMS-DS's commit,
        /// so that each line stands for a committed merge).
        private mutating func finish(_ p: Prepared, _ result: ApplyResult, sent: Int) throws {
            let file = p.file
            var tally = report.byResource[file.resource!.rawValue] ?? ResourceTally()
            defer {
                report.byResource[file.resource!.rawValue] = tally
                meter?.fileDone(rows: file.rowCount, resource: file.resource?.rawValue)
            }
            try buffer.markForwarded(file, waitingRowIds: result.waitingRowIds)
            if !recovering { appliedNow.insert(file.id) }
            try replaceHeld(olderThan: file, &tally)
            tally.files += 1
            tally.rows += file.rowCount
            if result.alreadyApplied {
                tally.alreadyApplied += 1
                logger.info("\(file.path): already in ProcessedFiles with this checksum; marked forwarded")
                return
            }
            add(result, to: &tally)
            if p.deltaBase != nil {
                tally.deltaFiles += 1
                tally.unchangedRows += max(0, file.rowCount - sent)
            }
            logger.debug("\(file.path): +\(result.inserted) ~\(result.updated) -\(result.softDeleted) waiting \(result.waitingRowIds.count)")
            if !result.waitingRowIds.isEmpty {
                logger.warning("\(file.path): \(result.waitingRowIds.count) row(s) wait for parents not yet in the LMS-DS (first on \(StagedRowID.describe(result.waitingRowIds[0], in: file)))")
            }
        }

        /// A newer snapshot was applied: held files of its scope are replaced, never applied. They are
        /// recorded in ProcessedFiles as not applied, so that no loader applies them later.
        private func replaceHeld(olderThan file: LedgerFile, _ tally: inout ResourceTally) throws {
            for held in try buffer.heldOlder(than: file) {
                note(try store.recordWithoutApplying(try forwarder.request(for: held, mode: .snapshot)))
                try buffer.markSuperseded(held, by: file.path)
                logger.info("\(held.path): the newer snapshot \(file.path) replaced this held file")
                tally.supersededFiles += 1
            }
        }

        /// What a store's error does to the one file it was applying: a data fault rejects it, the
        /// guard holds it; an unavailable LMS-DS or a failed migration ends the pass (rethrown), the
        /// file staying pending.
        private mutating func settle(_ file: LedgerFile, refusedWith e: StoreError) throws {
            switch e.cause {
            case .dataRefused: try reject(file, e)
            case .guarded(let deleting, let live): try hold(file, deleting: deleting, live: live)
            case .unavailable:
                try? buffer.noteAttemptFailed(file, error: e.message)
                throw e
            case .migration: throw e
            }
        }

        private mutating func reject(_ file: LedgerFile, _ e: StoreError) throws {
            let text = "\(file.path): \(e.message)"
            logger.error("rejected by the LMS-DS: \(text)")
            try buffer.markRejected(file, error: e.message)
            report.byResource[file.resource?.rawValue ?? "", default: ResourceTally()].rejectedFiles += 1
            report.errors.append(text)
        }

        private mutating func hold(_ file: LedgerFile, deleting: Int, live: Int) throws {
            let share = Int((forwarder.deleteGuard?.maxShare ?? 0) * 100)
            let reason = "held by the mass-delete guard: it would soft-delete \(deleting) of the \(live) live rows of its scope (more than \(share) %); nothing of it was applied. If the deletions are real, `lms-agent release \(file.id)`; a newer snapshot that passes the guard replaces it"
            logger.error("\(file.path): \(reason)")
            try buffer.markHeld(file, reason: reason)
            report.byResource[file.resource?.rawValue ?? "", default: ResourceTally()].heldFiles += 1
            report.errors.append("\(file.path): \(reason)")
        }

        /// A crash between the LMS-DS commit and the buffer update leaves files `staged` that the LMS-DS
        /// has (so does a rebuilt buffer). They are marked first, so that the supersede checks below see
        /// what the LMS-DS really holds: a file merged there is marked forwarded (its waiting rows found
        /// again), and a file recorded there *without* being merged (a superseded snapshot) is marked
        /// superseded, never taken for an applied one. `ProcessedFiles` is asked once per thousand files.
        ///
        /// Looks at the staged files after ledger id `after` (all of them at the start of a pass;
        /// during an overlapped flush, those staged since the last look) and returns the last id seen.
        private mutating func recoverCommitted(after: Int64) throws -> Int64 {
            recovering = true
            defer { recovering = false }
            // A thousand files at a time, with one query each: the lists stay small.
            var recovered: [LedgerFile] = []
            var last = after
            while true {
                let staged = try buffer.stagedFiles(after: last, limit: 1_000)
                guard let end = staged.last?.id else { break }
                last = end
                let records = try store.processedRecords(fullPaths: staged.map(forwarder.fullPath(of:)))
                for file in staged {
                    switch records[forwarder.fullPath(of: file)] ?? .none {
                    case .upstream:
                        recovered.append(file)
                    case .applied(let checksum) where checksum == file.sha256:
                        recovered.append(file)
                    case .recordedNotApplied(let checksum) where checksum == file.sha256:
                        try buffer.markSuperseded(file, by: "(recorded as superseded in the LMS-DS's ProcessedFiles)")
                        logger.info("\(file.path): the LMS-DS recorded it as superseded before; marked superseded")
                        report.byResource[file.resource!.rawValue, default: ResourceTally()].supersededFiles += 1
                    default:
                        continue
                    }
                }
            }
            // Marked in batches too: the store finds them all applied, changes nothing, and says which
            // rows wait.
            try run(recovered.sorted(by: buffer.loadOrder), shouldStop: { false }, skipSupersedeCheck: true)
            return last
        }

        private mutating func retryWaiting(_ listed: LedgerFile) throws {
            guard let file = try buffer.file(id: listed.id), file.state == .waiting, let resource = file.resource else { return }
            var tally = report.byResource[resource.rawValue] ?? ResourceTally()
            defer {
                report.byResource[resource.rawValue] = tally
                meter?.fileDone(rows: 0, resource: resource.rawValue)
            }
            logger.debug("forward: \(file.path)")
            do {
                let req = try forwarder.request(for: file, mode: .waitingRows)
                let result = try store.apply(req) { body in try buffer.rows(of: file, waitingOnly: true, body) }
                try buffer.markForwarded(file, waitingRowIds: result.waitingRowIds, retryOfWaiting: true)
                add(result, to: &tally)
                let applied = file.waitingRows - result.waitingRowIds.count
                if applied > 0 { logger.info("\(file.path): \(applied) waiting row(s) applied, \(result.waitingRowIds.count) still waiting") }
            } catch let e as StoreError {
                report.byResource[resource.rawValue] = tally
                try settle(file, refusedWith: e)
                tally = report.byResource[resource.rawValue] ?? ResourceTally()
            }
            try buffer.batchTick()
        }

        private func add(_ r: ApplyResult, to t: inout ResourceTally) {
            t.inserted += r.inserted
            t.updated += r.updated
            t.restored += r.restored
            t.softDeleted += r.softDeleted
            t.waitingRows += r.waitingRowIds.count
        }
    }

    /// Whether this buffer can vouch for the LMS-DS, so that snapshots may go as deltas: not
    /// `--full`, and `ProcessedFiles` is as this buffer's last commit left it. A new or rebuilt
    /// buffer has no mark; another loader (or agent) that recorded a file, or a buffer moved to
    /// another LMS-DS, changed it. Then every snapshot of the pass is merged whole.
    func deltasTrusted() throws -> Bool {
        guard !fullMerge, let mine = try buffer.meta(Forwarder.processedFilesMarkKey) else { return false }
        let now = try store.processedFilesMark()
        if now != mine { logger.info("forward: the LMS-DS's ProcessedFiles changed since this buffer's last load (another loader?); snapshots are merged whole this time") }
        return now == mine
    }

    /// A later snapshot of the file's scope (or a later version of the same snapshot) that the
    /// LMS-DS already has, if any, given the scope's latest applied snapshot in the buffer (as
    /// `Buffer.newerApplied` judges it). Never apply an older snapshot over a newer one.
    func newerAppliedSnapshot(than file: LedgerFile, latestApplied applied: LedgerFile?) throws -> String? {
        if let applied, Buffer.isNewer(applied, than: file) { return applied.path }
        let later = try buffer.laterSnapshotPaths(like: file)
        guard !later.isEmpty else { return nil }
        let full = later.map { path in
            fullPath(relative: ExtractFile(relativePath: path, resource: file.resource!, scope: file.scope, snapshot: "").upstreamRelativePath)
        }
        let records = try store.processedRecords(fullPaths: full)
        return zip(later, full).first { records[$0.1] != nil }?.0
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
}
