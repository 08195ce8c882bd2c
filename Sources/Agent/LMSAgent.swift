import Buffer
import Extract
import Foundation
import Logging
import Stores

/// What a scan-and-stage pass did.
public struct StageReport: Sendable, Codable, Equatable {
    /// LMS-DS files found (those still being written included).
    public var seen = 0
    /// New versions staged.
    public var staged = 0
    /// Their rows.
    public var stagedRows = 0
    /// Files whose version the ledger already had.
    public var unchanged = 0
    /// Files rejected for bad input.
    public var rejected = 0
    /// Files of 4 bytes or less (no data), or gone before they were read.
    public var ignored = 0
    /// Files that kept changing while they were read: left for the next pass.
    public var changing = 0
    /// Files skipped because a process has them open for writing, or they changed within the
    /// settle time: taken on the next run.
    public var stillWriting = 0
    /// The rejected files' errors (`path:line: column 'X': ...`).
    public var errors: [String] = []
    /// Entries of the tree that are never read (symbolic links, FIFOs, ...), with the reason.
    public var skipped: [String] = []
    /// A report of nothing yet.
    public init() {}
}

/// The outcome of `flush` or `resume`, and the exit code it maps to.
public struct RunSummary: Sendable, Codable {
    /// The staging pass (nil for `resume`, which does not read the extract).
    public var stage: StageReport?
    /// The forwarding pass.
    public var forward: ForwardReport
    /// Why the LMS-DS or the buffer was unavailable, when it was (exit 4).
    public var unavailable: String?
    /// A signal stopped the run between two files; what was done is kept.
    public var interrupted: Bool = false
    /// After the run: rejected files still outstanding, rows still waiting, files still pending.
    public var outstandingRejected: Int
    /// Files the mass-delete guard holds (after the run).
    public var heldFiles: Int
    /// Rows still waiting for their parents.
    public var waitingRows: Int
    /// Files still staged or waiting.
    public var pendingFiles: Int
    /// The whole run's duration, in seconds.
    public var seconds: Double
    /// The staging part's.
    public var stageSeconds: Double
    /// The forwarding part's.
    public var forwardSeconds: Double
    /// Peak resident memory of the process so far (VmHWM), in bytes.
    public var peakResidentBytes: Int
    /// The harmonization pass after the forwarding (nil: none ran: nothing changed, `--no-harmonize`,
    /// or the run was stopped or the LMS-DS unavailable).
    public var harmonization: HarmonizationPass? = nil

    /// The exit code this outcome maps to; the first that applies: interrupted, unavailable, held,
    /// rejected, waiting, a failed harmonization, success.
    public var exitCode: ExitStatus {
        if interrupted { return .interrupted }
        if unavailable != nil { return .targetUnavailable }
        if heldFiles > 0 { return .heldFiles }
        if outstandingRejected > 0 { return .rejectedFiles }
        if waitingRows > 0 { return .waitingRows }
        if harmonization?.failed == true { return .harmonizationFailed }
        return .success
    }
}

extension LMSAgent {
    /// VmHWM from /proc/self/status (0 where there is none).
    public static func peakResidentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }
}

/// Process exit codes (documented in the README).
public enum ExitStatus: Int32, Sendable, Codable {
    /// Everything was applied.
    case success = 0
    /// A fault found before any work started (configuration, a target that is not one); nothing changed.
    case fatal = 1
    /// A file is rejected (bad input, or refused by the LMS-DS); the others were applied.
    case rejectedFiles = 2
    /// Rows wait for parents that are not in the LMS-DS yet.
    case waitingRows = 3
    /// The LMS-DS or the buffer is unavailable; everything staged stays for `resume`.
    case targetUnavailable = 4
    /// A snapshot is held by the mass-delete guard: `lms-agent release ID`, or a newer snapshot.
    case heldFiles = 5
    /// SIGTERM or SIGINT stopped the run after the file in hand; `flush` or `resume` goes on.
    case interrupted = 6
    /// Everything loaded, but a harmonization procedure failed (or the pass could not finish):
    /// the log and `status` name it; the next run that harmonizes, or `lms-agent harmonize`, tries again.
    case harmonizationFailed = 7
}

/// The agent: the buffer of one extract and one target LMS-DS, and the steps every command uses.
public final class LMSAgent {
    /// The resolved settings the agent was opened with.
    public let settings: Settings
    /// Where the agent logs.
    public let logger: Logger
    /// The extract's buffer.
    public let buffer: Buffer
    /// The extract root (from the settings, or the one recorded in the buffer for `resume`).
    public let root: String
    /// The buffer's lock, held for the agent's life by the commands that write (see `BufferLock`).
    public let bufferLock: BufferLock?
    /// The buffer did not exist (or was corrupt and moved aside) and was created by this agent.
    public let bufferIsNew: Bool
    /// The resources this agent stages and forwards (`ResourceRegistry.standard`, or one with more
    /// resources added; their tables come from `--migrations-dir` scripts).
    public var registry: ResourceRegistry { buffer.registry }

    /// Opens the buffer. With `requireExtract`, the extract directory must be named and exist.
    /// `readOnly` (status, inspect, retry, release) never creates anything: the buffer must exist.
    /// `lock` names the command that will write to the buffer: its lock is taken first (waiting for
    /// another command, refusing beside a watcher). `flush` and `watch` replace a corrupt buffer
    /// with a new one.
    public init(settings: Settings, logger: Logger, requireExtract: Bool, readOnly: Bool = false,
                lock: BufferLock.Command? = nil, registry: ResourceRegistry = .standard) throws {
        self.settings = settings
        self.logger = logger
        if requireExtract {
            guard let csv = settings.csvPath else {
                throw AgentError.usage("name the extract directory with --csvpath (or CSV_PATH)")
            }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: csv, isDirectory: &isDir), isDir.boolValue else {
                throw AgentError.config("the extract directory \(csv) does not exist or is not a directory")
            }
        }
        let path = try settings.resolvedBufferPath()
        if (readOnly || settings.csvPath == nil) && !FileManager.default.fileExists(atPath: path) {
            throw AgentError.config("no buffer at \(path): run flush or watch first")
        }
        // A target that is no LMS-DS is found before the buffer is created: a failed flush leaves nothing.
        if requireExtract { try LMSAgent.checkTargetConfiguration(settings, bufferPath: path) }
        bufferLock = try lock.map { try BufferLock(bufferPath: path, for: $0, logger: logger) }
        (buffer, bufferIsNew) = try LMSAgent.openBuffer(at: path, extractRoot: settings.csvPath, create: !readOnly,
                                                        rebuild: lock == .flush || lock == .watch, registry: registry,
                                                        logger: logger)
        guard let root = settings.csvPath ?? buffer.extractRoot else {
            throw AgentError.config("the buffer \(path) does not record its extract directory; name it with --csvpath")
        }
        self.root = root
        // Phase lines at DEBUG (scan, stage, forward, buffer commits): what a log shows of where a
        // crash came, and what scripts/torture.sh aims its kills by.
        buffer.onBatchCommit = { [logger] units, done in
            logger.debug(done ? "buffer: committed" : "buffer: committing \(units) unit(s)")
        }
    }

    /// Where `flush`, `resume` and watch rounds report how far they are (nil: nowhere).
    public var progress: (any ProgressSink)?

    /// The longest the staging thread of an overlapped flush goes between commits: the forwarder
    /// sees a scope once it is committed (tests make it commit after every file).
    var overlappedCommitSeconds = 0.25

    /// Stores this agent opened; `close` ends them.
    private var openedStores: [any LMSDataStore] = []

    /// The last "harmonization skipped" said, so that a watcher says it once.
    var harmonizeSkipSaid: String?

    /// Checkpoints and closes the buffer and every store this agent opened. Every command calls it
    /// on its way out, so that the embedded databases are whole in their own files.
    public func close() {
        for s in openedStores { s.close() }
        openedStores = []
        buffer.close()
    }

    /// Opens the target LMS-DS named by the settings and applies its schema scripts.
    public func openStore(migrate: Bool = true) throws -> any LMSDataStore {
        logger.debug("forward: opening the LMS-DS (\(settings.engine.rawValue))")
        let store: any LMSDataStore
        switch settings.engine {
        case .sqlite:
            let path = settings.sqliteDatabasePath
            store = try SQLiteStore(path: path, extraMigrations: settings.migrationsDir, create: migrate, registry: registry)
        case .postgresql:
            let pg = try PostgresStore(target: settings.postgresTarget, extraMigrations: settings.migrationsDir, registry: registry)
            if migrate && settings.noMigrate { try pg.verifySchema() }
            store = pg
        case .mssql:
            throw AgentError.config("the mssql engine is not in this build yet; use --engine postgresql or sqlite")
        }
        openedStores.append(store)
        if migrate && !settings.noMigrate { try store.migrate() }
        if migrate { try bindTarget() }
        return store
    }

    /// The forwarder from this agent's buffer into `store`, with the settings' mass-delete guard.
    public func forwarder(store: any LMSDataStore) -> Forwarder {
        var f = Forwarder(buffer: buffer, store: store, root: root, logger: logger, deleteGuard: settings.deleteGuard)
        f.progress = progress
        f.limits = settings.forwardBatch
        f.fullMerge = settings.fullMerge
        return f
    }

    /// Scans the extract tree and stages every new or changed file.
    /// Files a process still writes are skipped ("still being written") and counted: one that is
    /// open for writing (as /proc shows it to this user), or whose mtime is within
    /// `settings.flushSettleSeconds` of now.
    public func scanAndStage(shouldStop: () -> Bool = { false }) throws -> StageReport {
        let found = try scanForFlush()
        var report = try stage(found.candidates, shouldStop: shouldStop).report
        found.complete(&report, logger: logger)
        return report
    }

    /// What a flush found in the extract tree: the files to stage, and those it leaves.
    struct FlushScan {
        /// The files to stage now.
        var candidates: [Candidate]
        /// Files a process still writes (or that changed within the settle time).
        var writing: [String]
        /// Entries that are never read.
        var skipped: [SkippedEntry]

        /// Adds what the scan left to the staging report, and says it in the log.
        func complete(_ report: inout StageReport, logger: Logger) {
            for path in writing { logger.warning("\(path) is still being written; it is taken on the next run") }
            report.stillWriting = writing.count
            report.seen += writing.count
            for entry in skipped { logger.warning("skipped \(entry)") }
            report.skipped = skipped.map(\.description)
        }
    }

    /// Walks the extract tree for a flush, leaving out the files that are still being written.
    func scanForFlush() throws -> FlushScan {
        logger.debug("scan: walking \(root)")
        let found = try Scanner.walk(root: root, registry: registry)
        var candidates = found.files
        let open = OpenFiles.openForWriting()
        let now = Date().timeIntervalSince1970
        var writing: [String] = []
        candidates.removeAll { c in
            guard case .file = c.classification else { return false }
            let busy = open.contains(root + "/" + c.relativePath)
                || (settings.flushSettleSeconds > 0 && now - Double(c.mtimeNs) / 1e9 < settings.flushSettleSeconds)
            if busy { writing.append(c.relativePath) }
            return busy
        }
        logger.debug("scan: \(found.files.count) file(s) found")
        return FlushScan(candidates: candidates, writing: writing, skipped: found.skipped)
    }

    /// Walks the whole extract tree (or only its folder `under`), for the watcher.
    public func scan(under: String = "") throws -> [Candidate] {
        logger.debug("scan: walking \(under.isEmpty ? root : root + "/" + under)")
        let candidates = try Scanner.scan(root: root, under: under, registry: registry)
        logger.debug("scan: \(candidates.count) file(s) found")
        return candidates
    }

    /// Stages the given files, each in its own unit (a savepoint in a batch of commits). Stops early,
    /// between files, when `shouldStop` says so. Returns the files that kept changing while read.
    public func stage(_ candidates: [Candidate], shouldStop: () -> Bool = { false }) throws -> (report: StageReport, changing: [String]) {
        do {
            var candidates = candidates
            return try LMSAgent.stage(&candidates, into: buffer, root: root, logger: logger, progress: progress, shouldStop: shouldStop)
        } catch {
            // A full disk or an I/O error under the buffer: said with the buffer's name and its room.
            throw bufferUnavailable(error).map { BufferUnavailable(message: $0) } ?? error
        }
    }

    /// Stages `candidates` into `buffer` in their order, each file in its own unit, and tells
    /// `watermark` (if any) after every commit how many are in the buffer. With `releasing`, each
    /// candidate is dropped from the list once it is staged. Runs on the staging thread of an
    /// overlapped flush, so it takes only what it needs, not the agent.
    static func stage(_ candidates: inout [Candidate], releasing: Bool = false, into buffer: Buffer, root: String, logger: Logger,
                      progress: (any ProgressSink)?, watermark: StagingWatermark? = nil,
                      shouldStop: () -> Bool) throws -> (report: StageReport, changing: [String]) {
        var report = StageReport()
        var changing: [String] = []
        let stager = Stager(root: root, buffer: buffer, logger: logger)
        let meter = ProgressMeter(progress, phase: .staging, total: candidates.count)
        logger.debug("stage: \(candidates.count) candidate(s)")
        var done = 0
        try buffer.batch {
            for index in candidates.indices {
                if shouldStop() { break }
                let candidate = candidates[index]
                if releasing { candidates[index] = Candidate.released }
                var stagedRows = 0
                defer {
                    if case .file(let f) = candidate.classification { meter.fileDone(rows: stagedRows, resource: f.resource.rawValue) }
                }
                done += 1
                guard case .file = candidate.classification else {
                    if case .ignored(let why) = candidate.classification { logger.debug("ignored \(candidate.relativePath): \(why)") }
                    continue
                }
                report.seen += 1
                switch try stager.stage(candidate) {
                case .staged(_, let rows):
                    report.staged += 1
                    report.stagedRows += rows
                    stagedRows = rows
                case .unchanged: report.unchanged += 1
                case .rejected(_, let error):
                    report.rejected += 1
                    report.errors.append(error.description)
                    logger.error("rejected: \(error.description)")
                case .ignored(let why):
                    report.ignored += 1
                    logger.debug("ignored \(candidate.relativePath): \(why)")
                case .changing:
                    report.changing += 1
                    changing.append(candidate.relativePath)
                    logger.warning("\(candidate.relativePath) kept changing while it was read; it is left for the next pass")
                }
                // The files a commit holds are in the buffer for the forwarder's connection too.
                if try buffer.batchTick() { watermark?.committed(through: done) }
            }
        }
        watermark?.committed(through: done)
        return (report, changing)
    }

    /// Faults found before any work starts: a target that is not one (a directory, the buffer), or
    /// not the one this buffer is bound to. Thrown as configuration errors (exit 1).
    public func prepareToForward() throws {
        try checkTargetConfiguration()
        try checkTargetBinding()
    }

    /// `flush` (`scan`): scan, stage, forward. `resume`: forward what is staged, without reading the
    /// extract. Then a harmonization pass when data changed (or one is owed), unless the settings
    /// turn it off. An unavailable LMS-DS or buffer ends the run with what was done kept
    /// (`unavailable` in the summary); `shouldStop` ends it between two files.
    public func run(scan: Bool, shouldStop: @escaping @Sendable () -> Bool = { false }) throws -> RunSummary {
        try prepareToForward()
        defer { progress?.finish() }
        let start = ContinuousClock.now
        let work = scan && settings.overlapStaging ? try stageWhileForwarding(shouldStop: shouldStop)
                                                   : try stageThenForward(scan: scan, shouldStop: shouldStop)
        let (forward, unavailable) = (work.forward, work.unavailable)
        if bufferIsNew && forward.total.alreadyApplied > 0 {
            logger.warning("""
                the buffer \(buffer.path) is new, but the LMS-DS already had \(forward.total.alreadyApplied) file(s) of this extract \
                in ProcessedFiles (the buffer was deleted, lost or corrupt, or another loader took a turn): the buffer was rebuilt \
                from the extract and ProcessedFiles; those files were not applied again, and their rows that lack parents wait again
                """)
        }
        // After loading, never in its way: a pass only when data changed (or a pass is owed), the
        // LMS-DS is there and no signal asked to stop.
        var harmonization: HarmonizationPass? = nil
        if let store = work.store, unavailable == nil, settings.harmonize, !shouldStop(), harmonizationDue {
            // The embedded LMS-DS never has an ODS: the summary's `harmonize: skipped` line says so,
            // no log line (a PostgreSQL database without one is worth a notice: it may be a mistake).
            harmonization = harmonize(store: store, trigger: .changedData, quietSkip: settings.engine == .sqlite)
        }
        let pending = try buffer.pendingCounts()
        var summary = RunSummary(stage: work.stage, forward: forward, unavailable: unavailable, interrupted: shouldStop(),
                          outstandingRejected: try buffer.outstandingRejected().count,
                          heldFiles: try buffer.heldFiles().count,
                          waitingRows: pending.waitingRows,
                          pendingFiles: pending.files, seconds: (ContinuousClock.now - start).seconds,
                          stageSeconds: work.stageSeconds, forwardSeconds: work.forwardSeconds,
                          peakResidentBytes: LMSAgent.peakResidentBytes())
        summary.harmonization = harmonization
        return summary
    }

    /// Stages the whole extract (`scan`), then forwards everything pending.
    private func stageThenForward(scan: Bool, shouldStop: () -> Bool) throws -> LoadWork {
        var work = LoadWork()
        let start = ContinuousClock.now
        do {
            work.stage = scan ? try scanAndStage(shouldStop: shouldStop) : nil
        } catch {
            try noteStagingFault(error, in: &work)
        }
        let staged = ContinuousClock.now
        work.stageSeconds = (staged - start).seconds
        guard work.unavailable == nil else { return work }
        do {
            let store = try openStore()
            work.store = store
            work.forward = try shouldStop() ? ForwardReport() : forwarder(store: store).forwardPending(shouldStop: shouldStop)
            if work.forward.changedData { try noteDataChanged() }
        } catch {
            try noteForwardingFault(error, in: &work)
        }
        work.forwardSeconds = (ContinuousClock.now - staged).seconds
        return work
    }

    /// What a fault of staging does to a run: the buffer's disk is full or failing, so what was
    /// staged so far is kept (each file is atomic) and the rest is read again next time; anything
    /// else is rethrown.
    func noteStagingFault(_ error: any Error, in work: inout LoadWork) throws {
        guard let fault = bufferUnavailable(error) else { throw error }
        work.unavailable = work.unavailable ?? fault
        logger.error("\(fault); staging stopped, run flush again once it is fixed")
    }

    /// What a fault of forwarding does to a run: an unavailable LMS-DS, or a buffer that could not
    /// record what the LMS-DS committed (the next pass finds those files in ProcessedFiles and only
    /// marks them), ends it with everything staged kept for `resume`; anything else is rethrown.
    func noteForwardingFault(_ error: any Error, in work: inout LoadWork) throws {
        if let e = error as? StoreError, e.cause == .unavailable {
            work.unavailable = work.unavailable ?? e.message
            logger.error("the LMS-DS is unavailable; everything staged stays in the buffer for resume: \(e.message)")
            return
        }
        guard let fault = bufferUnavailable(error) else { throw error }
        work.unavailable = work.unavailable ?? fault
        logger.error("\(fault); everything staged stays in the buffer for resume")
    }
}
