import Buffer
import Extract
import Foundation
import Glibc
import Logging
import ServiceLifecycle
import Stores

/// Settings of `lms-agent watch`.
public struct WatchOptions: Sendable {
    /// A file must be unchanged this long before it is staged; a round waits for the tree to be this quiet.
    public var settleSeconds: Double = 5
    /// A busy tree cannot postpone a round longer than this.
    public var maxWaitSeconds: Double = 300
    /// A full scan this often, for file systems that lose events (network mounts).
    public var rescanIntervalSeconds: Double = 600
    /// Prometheus text-format metrics for node_exporter's textfile collector.
    public var metricsFile: String?
    /// The longest wait between two attempts to reach an unavailable LMS-DS.
    public var maxBackoffSeconds: Double = 300
    /// A harmonization pass this often even when no LMS file changed: the ODS changes on its own
    /// (a student enrolled today links the LMS user loaded yesterday). A round's pass postpones it.
    public var harmonizeIntervalSeconds: Double = 3600
    /// The defaults: 5 s settle, 300 s longest wait, a rescan every 600 s, no metrics file, 300 s
    /// longest backoff, a harmonization pass every hour.
    public init() {}
}

/// `lms-agent watch` as a ServiceLifecycle service: `run()` carries out the watch loop on a thread of
/// its own (its work is blocking: inotify, SQLite, libpq, and must not hold one of the few threads of
/// Swift's cooperative pool) and returns when that loop ends. The service group's graceful shutdown
/// (SIGTERM, SIGINT) and task cancellation both become a stop request: the loop wakes at once, the
/// file in hand is finished or rolled back, and `run()` returns.
public struct WatchService: Service {
    private let loop: LoopHandoff
    private let stop: StopRequest

    /// A service watching `agent`'s extract; `environment` gives systemd's `NOTIFY_SOCKET` and
    /// `WATCHDOG_USEC`.
    public init(agent: LMSAgent, options: WatchOptions, environment: [String: String] = ProcessInfo.processInfo.environment) {
        let stop = StopRequest()
        self.stop = stop
        loop = LoopHandoff(loop: WatchLoop(agent: agent, options: options, stop: stop, environment: environment))
    }

    /// Runs the watch loop until a graceful shutdown or cancellation stops it, or it fails.
    public func run() async throws {
        let stop = self.stop
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await runLoopOnItsThread()
            } onCancel: {
                stop.request()
            }
        } onGracefulShutdown: {
            stop.request()
        }
    }

    private func runLoopOnItsThread() async throws {
        let handoff = loop
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                do {
                    try handoff.loop.run()
                    done.resume()
                } catch {
                    done.resume(throwing: error)
                }
            }
            thread.name = "lms-agent watch"
            thread.start()
        }
    }

    /// Runs `service` in a service group that shuts it down gracefully on SIGTERM and SIGINT; returns
    /// when it has stopped (the buffer is then no longer used by it), throws what made it fail.
    public static func runUntilStopped(_ service: WatchService, logger: Logger) async throws {
        // The group's own lines are debug lines: kept out of `--log-level DEBUG`, whose lines the
        // crash torture reads, so that the agent's log says the same as before.
        var groupLogger = logger
        groupLogger.logLevel = max(logger.logLevel, .info)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                             failureTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: groupLogger))
        try await group.run()
    }
}

/// The loop, handed from the thread that made it to the one thread that runs it: it is never used by
/// two threads at once (its maker awaits the end of `run()` before it touches the agent again).
private struct LoopHandoff: @unchecked Sendable {
    let loop: WatchLoop
}

/// The watch loop: reconcile on start, then watch the tree with inotify and forward each extractor
/// run as one ordered round once the tree is quiet. The decisions are `WatchStateMachine`'s; this class
/// is the adapter that turns inotify, `stat`, scans, the clock and the stores into its events, and
/// carries out its decisions. One thread, one poll loop: inotify events, timers and the stop request
/// all arrive there, so there is no shared state to guard.
final class WatchLoop {
    typealias Machine = WatchStateMachine
    let agent: LMSAgent
    let options: WatchOptions
    let logger: Logger
    let notifier: SystemdNotifier
    private let stop: StopRequest
    private var machine: Machine
    private var inotify: Inotify?
    private var store: (any LMSDataStore)?
    private let metrics: MetricsFile?
    /// The round being carried out: what its staging did and when it began (for its log line).
    private var round: (stage: StageReport, started: Double)?
    /// The message of the first failed attempt of an outage, for the log.
    private var lastUnavailable = ""
    /// Every time the loop reads is seconds on this clock since the loop was made: one monotonic clock
    /// for the machine's deadlines, the periodic work and the durations in the log.
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant
    private var periodic: [Periodic] = []

    /// Work done every `interval` seconds besides the machine's own timers. Its due time is one of the
    /// poll's wake-up times, and it runs on the loop's thread after the inotify events and the
    /// machine's tick, so never inside a round: a periodic task is one case here, one entry made in
    /// `init`, and its work in `perform(_:)`.
    struct Periodic {
        enum Work { case watchdogPing, harmonize }
        let work: Work
        let interval: Double
        var due: Double
    }

    init(agent: LMSAgent, options: WatchOptions, stop: StopRequest, environment: [String: String]) {
        self.agent = agent
        self.options = options
        self.logger = agent.logger
        self.stop = stop
        self.notifier = SystemdNotifier(environment: environment)
        self.metrics = options.metricsFile.map { MetricsFile(path: $0) }
        self.machine = Machine(Machine.Config(options))
        self.origin = clock.now
        if let interval = notifier.watchdogInterval { periodic.append(Periodic(work: .watchdogPing, interval: interval, due: 0)) }
        if agent.settings.harmonize {
            // The first interval pass one interval after the start: the start's own round harmonizes
            // when it changes data or a pass is owed.
            let every = options.harmonizeIntervalSeconds
            periodic.append(Periodic(work: .harmonize, interval: every, due: every))
        }
        metrics?.recordHarmonization(agent.lastHarmonization, at: nil)
    }

    private func now() -> Double {
        (clock.now - origin).seconds
    }

    /// Runs until a stop is requested.
    func run() throws {
        let root = agent.root
        logger.info("watching \(root) (buffer \(agent.buffer.path), settle \(options.settleSeconds) s, max wait \(options.maxWaitSeconds) s)")

        let inotify = try Inotify(root: root)
        self.inotify = inotify
        carryOut(machine.start(at: self.now()))

        var fds = [pollfd(fd: inotify.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: stop.wakeFD, events: Int16(POLLIN), revents: 0)]
        while !stop.isRequested {
            let t0 = now()
            let wake = periodic.reduce(machine.nextWake(after: t0)) { min($0, $1.due) }
            // Rounded up: a wake-up less than a millisecond away must not become a poll that returns at once.
            let timeout = Int32((max(0, min(wake - t0, 3600)) * 1000).rounded(.up))
            _ = poll(&fds, nfds_t(fds.count), timeout)
            if stop.isRequested { break }
            let t = now()
            if fds[0].revents != 0 {
                for raw in inotify.readEvents() {
                    guard let e = inotify.name(raw), let event = machineEvent(e) else { continue }
                    carryOut(machine.handle(event, at: t))
                }
            }
            carryOut(machine.handle(.tick, at: self.now()))
            performDuePeriodic()
        }
        notifier.notify("STOPPING=1")
        logger.info("stopping: signal received; the open transaction was finished, nothing is left half-applied")
        writeMetrics()
        // Closed here, on the loop's thread, not whenever the service value happens to be freed.
        store = nil
        self.inotify = nil
    }

    private func performDuePeriodic() {
        for i in periodic.indices {
            let t = now()
            guard periodic[i].due <= t else { continue }
            perform(periodic[i].work)
            periodic[i].due = t + periodic[i].interval
        }
    }

    private func perform(_ work: Periodic.Work) {
        switch work {
        case .watchdogPing: notifier.notify("WATCHDOG=1")
        case .harmonize: harmonizeOnInterval()
        }
    }

    /// The interval's pass, whatever changed. While the LMS-DS is down, there is nothing to link:
    /// the pass waits for the next interval (the round that catches up harmonizes if it changes data).
    private func harmonizeOnInterval() {
        guard !stop.isRequested, !machine.isTargetDown else { return }
        let store: any LMSDataStore
        do { store = try openStore() } catch {
            logger.debug("harmonization postponed to the next interval: \(error)")
            return
        }
        record(agent.harmonize(store: store, trigger: .interval))
    }

    /// After a round that forwarded: data changed (or a pass was owed from before) means a pass now,
    /// and the interval's next pass is counted from it.
    private func harmonizeAfterRound(_ store: any LMSDataStore, _ report: ForwardReport) {
        guard agent.settings.harmonize, !stop.isRequested else { return }
        do {
            if report.changedData { try agent.noteDataChanged() }
        } catch {
            logger.warning("harmonization: cannot record in the buffer that data changed: \(error)")
        }
        guard agent.harmonizationDue else { return }
        metrics?.recordHarmonization(agent.harmonize(store: store, trigger: .changedData), at: Date().timeIntervalSince1970)
        if let i = periodic.firstIndex(where: { $0.work == .harmonize }) { periodic[i].due = now() + periodic[i].interval }
    }

    private func record(_ pass: HarmonizationPass) {
        metrics?.recordHarmonization(pass, at: Date().timeIntervalSince1970)
        writeMetrics()
    }

    // MARK: events in

    /// An inotify event as the machine sees it: only extract files count, with their stat now.
    private func machineEvent(_ e: FileEvent) -> Machine.Event? {
        func file(_ path: String, _ make: (String, FileStat?) -> Machine.Event) -> Machine.Event? {
            guard case .file = agent.registry.classify(path) else { return nil }
            return make(path, stat(path))
        }
        switch e {
        case .fileWritten(let p): return file(p, Machine.Event.fileWritten)
        case .fileClosed(let p): return file(p, Machine.Event.fileClosed)
        case .fileMovedIn(let p): return file(p, Machine.Event.fileMovedIn)
        case .directoryAdded(let d): return .directoryAdded(d)
        case .directoryRemoved(let d): return .directoryRemoved(d)
        case .overflow: return .queueOverflow
        }
    }

    private func stat(_ relative: String) -> FileStat? {
        Scanner.fileStat(agent.root + "/" + relative).map { FileStat(size: $0.size, mtimeNs: $0.mtimeNs) }
    }

    // MARK: decisions out

    /// Carries out `decisions` in order; each one's result goes back to the machine, and the
    /// decisions that follow from it are carried out before the next one.
    private func carryOut(_ decisions: [Machine.Decision]) {
        for d in decisions {
            switch d {
            case .stage, .forward: if stop.isRequested { return }
            default: break
            }
            carryOut(perform(d))
        }
    }

    /// Carries out one decision and returns what the machine decides on its result.
    private func perform(_ d: Machine.Decision) -> [Machine.Decision] {
        let now = self.now()
        switch d {
        case .watch(let dir):
            guard let inotify, !inotify.watchTree(dir) else { return [] }
            warnWatchLimit()
            return machine.handle(.watchLimitReached, at: now)
        case .unwatch(let dir):
            inotify?.forget(dir)
            return []
        case .scan(let dir, let reason):
            switch reason {
            case .overflow: logger.warning("the kernel dropped file events (inotify queue overflow): rescanning the whole tree")
            case .periodic: logger.debug("periodic rescan")
            case .startup, .newDirectory: break
            }
            let next = machine.handle(.scanned(dir, reason, found: unknownFiles(under: dir)), at: self.now())
            if reason == .startup {
                logger.info("reconcile: \(machine.tracker.entries.count) new or changed file(s) to stage once settled")
                notifier.notify("READY=1\nSTATUS=watching \(agent.root)")
            }
            if reason == .overflow {
                logger.info("rescan after the overflow: \(machine.tracker.entries.count) file(s) to stage once settled")
            }
            return next
        case .probe(let all, let openCheck):
            // /proc is read only when a file no close event vouches for could be staged now.
            let open = openCheck.isEmpty ? [] : OpenFiles.openForWriting()
            let checked = Set(openCheck)
            var answers: [String: Machine.Probe] = [:]
            for path in all {
                answers[path] = Machine.Probe(stat: stat(path),
                                              openForWriting: checked.contains(path) ? open.contains(agent.root + "/" + path) : nil)
            }
            return machine.handle(.probed(answers), at: self.now())
        case .stage(let paths):
            return stage(paths, started: now)
        case .forward:
            return forward()
        case .backOff(let attempts, let retryIn):
            if attempts == 1 {
                logger.error("the LMS-DS is unavailable: \(lastUnavailable). Staging goes on; forwarding is retried with backoff (up to \(Int(options.maxBackoffSeconds)) s)")
            } else {
                logger.debug("LMS-DS still unavailable (attempt \(attempts)); next try in \(Int(retryIn)) s")
            }
            return []
        case .targetBack(let attempts, let downFor):
            logger.info("the LMS-DS is reachable again after \(attempts) failed attempt(s) over \(Int(downFor)) s; catching up")
            return []
        }
    }

    /// The files under `dir` the ledger does not hold in their current size and mtime.
    private func unknownFiles(under dir: String) -> [String: FileStat] {
        guard let candidates = try? agent.scan(under: dir) else { return [:] }
        var found: [String: FileStat] = [:]
        for c in candidates {
            guard case .file = c.classification else { continue }
            if let known = try? agent.buffer.latestVersion(of: c.relativePath), known.size == c.size, known.mtimeNs == c.mtimeNs { continue }
            found[c.relativePath] = FileStat(size: c.size, mtimeNs: c.mtimeNs)
        }
        return found
    }

    private func stage(_ paths: [String], started: Double) -> [Machine.Decision] {
        let candidates = paths.compactMap { path -> Candidate? in
            guard let st = stat(path) else { return nil }
            return Candidate(relativePath: path, classification: agent.registry.classify(path), size: st.size, mtimeNs: st.mtimeNs)
        }
        do {
            let (report, changing) = try agent.stage(candidates, shouldStop: { stop.isRequested })
            let done = candidates.map(\.relativePath).filter { !changing.contains($0) }
            let next = machine.handle(.staged(done: done, stagedAny: report.staged > 0), at: self.now())
            if next.contains(.forward) {
                round = (report, started)
            } else {
                // The round ends here: the LMS-DS is backing off, or there is nothing to forward.
                logRound(report, nil, started)
            }
            return next
        } catch {
            logger.error("staging failed: \(error)")
            return machine.handle(.stagingFailed, at: self.now())
        }
    }

    /// One round's forwarding: everything pending, in load order.
    private func forward() -> [Machine.Decision] {
        let started = round?.started ?? now()
        let stageReport = round?.stage ?? StageReport()
        round = nil
        let outcome: Machine.ForwardOutcome
        var report: ForwardReport?
        var forwardedTo: (any LMSDataStore)?
        do {
            let store = try openStore()
            let forwarder = agent.forwarder(store: store)
            report = try forwarder.forwardPending(shouldStop: { stop.isRequested })
            outcome = .done(interrupted: stop.isRequested)
            metrics?.recordRound(success: true, forwardSeconds: now() - started, errors: report!.errors.count)
            forwardedTo = store
        } catch let e as StoreError where e.cause == .unavailable {
            self.store = nil
            lastUnavailable = e.message
            outcome = .unavailable
            metrics?.recordRound(success: false, forwardSeconds: nil, errors: 1)
        } catch {
            logger.error("forwarding failed: \(error)")
            metrics?.recordRound(success: false, forwardSeconds: nil, errors: 1)
            writeMetrics()
            return machine.handle(.forwarded(.failed), at: self.now())
        }
        let next = machine.handle(.forwarded(outcome), at: self.now())
        // The outage's first or last word comes before the round's line.
        carryOut(next)
        logRound(stageReport, report, started)
        if let forwardedTo, let report { harmonizeAfterRound(forwardedTo, report) }
        writeMetrics()
        return []
    }

    private func openStore() throws -> any LMSDataStore {
        if let store { return store }
        let s = try agent.openStore()
        store = s
        return s
    }

    private func warnWatchLimit() {
        logger.error("""
            the inotify watch limit (fs.inotify.max_user_watches = \(Inotify.watchLimit)) is reached: new files are found by \
            the periodic rescan only (every \(Int(min(options.rescanIntervalSeconds, 60))) s). Raise it with: \
            sysctl fs.inotify.max_user_watches=524288 (and in /etc/sysctl.d/ to keep it)
            """)
    }

    private func logRound(_ stage: StageReport, _ forward: ForwardReport?, _ started: Double) {
        guard stage.seen > 0 || (forward?.total.files ?? 0) > 0 || (forward?.total.waitingRows ?? 0) > 0 else { return }
        var parts: [String] = []
        for r in agent.registry.resources {
            guard let t = forward?.byResource[r.rawValue], t.files > 0 || t.waitingRows > 0 else { continue }
            parts.append("\(r.rawValue) \(t.files) file(s) \(t.rows) row(s)")
        }
        let total = forward?.total ?? ResourceTally()
        let pending = (try? agent.buffer.pendingFiles().count) ?? 0
        logger.info("""
            round: staged \(stage.staged) file(s) (\(stage.stagedRows) rows), rejected \(stage.rejected + total.rejectedFiles), \
            forwarded \(total.files) file(s) (\(total.rows) rows: +\(total.inserted) ~\(total.updated) -\(total.softDeleted))\
            \(parts.isEmpty ? "" : " [" + parts.joined(separator: "; ") + "]"), waiting \(total.waitingRows) row(s), \
            \(machine.isTargetDown ? "LMS-DS unavailable, " : "")pending \(pending) file(s), \(String(format: "%.2f", now() - started)) s
            """)
    }

    private func writeMetrics() {
        guard let metrics else { return }
        metrics.write(buffer: agent.buffer, targetUp: !machine.isTargetDown, logger: logger)
    }
}
