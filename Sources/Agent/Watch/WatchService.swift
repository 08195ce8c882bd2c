import Buffer
import Extract
import Foundation
import Glibc
import Logging
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
    public init() {}
}

/// `lms-agent watch`: reconcile on start, then watch the tree with inotify and forward each extractor
/// run as one ordered round once the tree is quiet. The decisions are `WatchStateMachine`'s; this class
/// is the adapter that turns inotify, `stat`, scans, the clock and the stores into its events, and
/// carries out its decisions. One thread, one poll loop: events, timers and signals all arrive there,
/// so there is no shared state to guard.
public final class WatchService {
    typealias Machine = WatchStateMachine
    let agent: LMSAgent
    let options: WatchOptions
    let logger: Logger
    let notifier: SystemdNotifier
    private var machine: Machine
    private var inotify: Inotify?
    private var store: (any LMSDataStore)?
    private var lastWatchdog: Double = 0
    private let metrics: MetricsFile?
    /// The round being carried out: what its staging did and when it began (for its log line).
    private var round: (stage: StageReport, started: Double)?
    /// The message of the first failed attempt of an outage, for the log.
    private var lastUnavailable = ""

    public init(agent: LMSAgent, options: WatchOptions, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.agent = agent
        self.options = options
        self.logger = agent.logger
        self.notifier = SystemdNotifier(environment: environment)
        self.metrics = options.metricsFile.map { MetricsFile(path: $0) }
        self.machine = Machine(Machine.Config(options))
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Runs until SIGTERM or SIGINT; returns the process exit code.
    public func run() throws -> Int32 {
        SignalTrap.install()
        let root = agent.root
        logger.info("watching \(root) (buffer \(agent.buffer.path), settle \(options.settleSeconds) s, max wait \(options.maxWaitSeconds) s)")

        let inotify = try Inotify(root: root)
        self.inotify = inotify
        carryOut(machine.start(at: WatchService.now()))

        var fds = [pollfd(fd: inotify.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: SignalTrap.readFD, events: Int16(POLLIN), revents: 0)]
        while !SignalTrap.stopping {
            let now = WatchService.now()
            var wake = machine.nextWake(after: now)
            if let w = notifier.watchdogInterval { wake = min(wake, max(lastWatchdog + w, now)) }
            let timeout = max(0, min(wake - now, 3600))
            _ = poll(&fds, nfds_t(fds.count), Int32(timeout * 1000))
            if SignalTrap.stopping { break }
            let t = WatchService.now()
            if fds[0].revents != 0 {
                for raw in inotify.readEvents() {
                    guard let e = inotify.name(raw), let event = machineEvent(e) else { continue }
                    carryOut(machine.handle(event, at: t))
                }
            }
            carryOut(machine.handle(.tick, at: WatchService.now()))
            pingWatchdog(now: WatchService.now())
        }
        notifier.notify("STOPPING=1")
        logger.info("stopping: signal received; the open transaction was finished, nothing is left half-applied")
        writeMetrics()
        return 0
    }

    // MARK: events in

    /// An inotify event as the machine sees it: only extract files count, with their stat now.
    private func machineEvent(_ e: FileEvent) -> Machine.Event? {
        func file(_ path: String, _ make: (String, FileStat?) -> Machine.Event) -> Machine.Event? {
            guard case .file = ExtractPath.classify(path) else { return nil }
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
            case .stage, .forward: if SignalTrap.stopping { return }
            default: break
            }
            carryOut(perform(d))
        }
    }

    /// Carries out one decision and returns what the machine decides on its result.
    private func perform(_ d: Machine.Decision) -> [Machine.Decision] {
        let now = WatchService.now()
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
            let next = machine.handle(.scanned(dir, reason, found: unknownFiles(under: dir)), at: WatchService.now())
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
            return machine.handle(.probed(answers), at: WatchService.now())
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
            return Candidate(relativePath: path, classification: ExtractPath.classify(path), size: st.size, mtimeNs: st.mtimeNs)
        }
        do {
            let (report, changing) = try agent.stage(candidates, shouldStop: { SignalTrap.stopping })
            let done = candidates.map(\.relativePath).filter { !changing.contains($0) }
            let next = machine.handle(.staged(done: done, stagedAny: report.staged > 0), at: WatchService.now())
            if next.contains(.forward) {
                round = (report, started)
            } else {
                // The round ends here: the LMS-DS is backing off, or there is nothing to forward.
                logRound(report, nil, started)
            }
            return next
        } catch {
            logger.error("staging failed: \(error)")
            return machine.handle(.stagingFailed, at: WatchService.now())
        }
    }

    /// One round's forwarding: everything pending, in load order.
    private func forward() -> [Machine.Decision] {
        let started = round?.started ?? WatchService.now()
        let stageReport = round?.stage ?? StageReport()
        round = nil
        let outcome: Machine.ForwardOutcome
        var report: ForwardReport?
        do {
            let store = try openStore()
            let forwarder = agent.forwarder(store: store)
            report = try forwarder.forwardPending(shouldStop: { SignalTrap.stopping })
            outcome = .done(interrupted: SignalTrap.stopping)
            metrics?.recordRound(success: true, forwardSeconds: WatchService.now() - started, errors: report!.errors.count)
        } catch let StoreError.unavailable(message) {
            self.store = nil
            lastUnavailable = message
            outcome = .unavailable
            metrics?.recordRound(success: false, forwardSeconds: nil, errors: 1)
        } catch {
            logger.error("forwarding failed: \(error)")
            metrics?.recordRound(success: false, forwardSeconds: nil, errors: 1)
            writeMetrics()
            return machine.handle(.forwarded(.failed), at: WatchService.now())
        }
        let next = machine.handle(.forwarded(outcome), at: WatchService.now())
        // The outage's first or last word comes before the round's line.
        carryOut(next)
        logRound(stageReport, report, started)
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
        for r in Resource.allCases {
            guard let t = forward?.byResource[r.rawValue], t.files > 0 || t.waitingRows > 0 else { continue }
            parts.append("\(r.rawValue) \(t.files) file(s) \(t.rows) row(s)")
        }
        let total = forward?.total ?? ResourceTally()
        let pending = (try? agent.buffer.pendingFiles().count) ?? 0
        logger.info("""
            round: staged \(stage.staged) file(s) (\(stage.stagedRows) rows), rejected \(stage.rejected + total.rejectedFiles), \
            forwarded \(total.files) file(s) (\(total.rows) rows: +\(total.inserted) ~\(total.updated) -\(total.softDeleted))\
            \(parts.isEmpty ? "" : " [" + parts.joined(separator: "; ") + "]"), waiting \(total.waitingRows) row(s), \
            \(machine.isTargetDown ? "LMS-DS unavailable, " : "")pending \(pending) file(s), \(String(format: "%.2f", WatchService.now() - started)) s
            """)
    }

    private func writeMetrics() {
        guard let metrics else { return }
        metrics.write(buffer: agent.buffer, targetUp: !machine.isTargetDown, logger: logger)
    }

    private func pingWatchdog(now: Double) {
        guard let interval = notifier.watchdogInterval, now - lastWatchdog >= interval else { return }
        notifier.notify("WATCHDOG=1")
        lastWatchdog = now
    }
}
