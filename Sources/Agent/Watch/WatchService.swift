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
/// run as one ordered round once the tree is quiet. One thread, one poll loop: events, timers and
/// signals all arrive there, so there is no shared state to guard.
public final class WatchService {
    let agent: LMSAgent
    let options: WatchOptions
    let logger: Logger
    let notifier: SystemdNotifier
    private var tracker = SettleTracker()
    private var inotify: Inotify?
    private var store: (any LMSDataStore)?
    private var targetDown: (since: Double, attempts: Int, nextTry: Double, backoff: Double)?
    private var needsForward = true
    private var nextRescan: Double = 0
    private var lastWatchdog: Double = 0
    private let metrics: MetricsFile?

    public init(agent: LMSAgent, options: WatchOptions, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.agent = agent
        self.options = options
        self.logger = agent.logger
        self.notifier = SystemdNotifier(environment: environment)
        self.metrics = options.metricsFile.map { MetricsFile(path: $0) }
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

        // Watch first, then scan: whatever is written between the two is seen by one or the other.
        let inotify = try Inotify(root: root)
        self.inotify = inotify
        if !inotify.watchTree("") { warnWatchLimit() }
        reconcile()
        notifier.notify("READY=1\nSTATUS=watching \(root)")
        let start = WatchService.now()
        nextRescan = start + options.rescanIntervalSeconds
        // Forward the backlog at once: it was staged before, nothing is being written to it.
        round(now: start, stageReady: false)

        var fds = [pollfd(fd: inotify.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: SignalTrap.readFD, events: Int16(POLLIN), revents: 0)]
        while !SignalTrap.stopping {
            let now = WatchService.now()
            let timeout = max(0, min(nextWake(now: now) - now, 3600))
            _ = poll(&fds, nfds_t(fds.count), Int32(timeout * 1000))
            if SignalTrap.stopping { break }
            let t = WatchService.now()
            if fds[0].revents != 0 { handle(inotify.readEvents(), now: t) }
            if t >= nextRescan {
                logger.debug("periodic rescan")
                rescan(now: t)
                nextRescan = t + options.rescanIntervalSeconds
            }
            maybeRound(now: t)
            pingWatchdog(now: t)
        }
        notifier.notify("STOPPING=1")
        logger.info("stopping: signal received; the open transaction was finished, nothing is left half-applied")
        writeMetrics()
        return 0
    }

    // MARK: events

    private func handle(_ events: [FileEvent], now: Double) {
        for e in events {
            switch e {
            case .fileReady(let path):
                track(path, now: now, closed: true, writing: false)
            case .fileBusy(let path):
                track(path, now: now, closed: false, writing: true)
            case .directoryAdded(let dir):
                tracker.activity(now: now)
                // Watch it, then scan it: files written before the watch existed are found by the scan.
                if let inotify, !inotify.watchTree(dir) { warnWatchLimit() }
                scanDirectory(dir, now: now)
            case .directoryGone(let dir):
                inotify?.forget(dir)
                tracker.removeAll(under: dir)
                tracker.activity(now: now)
            case .overflow:
                logger.warning("the kernel dropped file events (inotify queue overflow): rescanning the whole tree")
                rescan(now: now)
            }
        }
    }

    private func track(_ relative: String, now: Double, closed: Bool, writing: Bool) {
        guard case .file = ExtractPath.classify(relative) else { return }
        tracker.touched(relative, now: now, closed: closed, writing: writing, stat: Scanner.fileStat(agent.root + "/" + relative))
    }

    /// Startup: every file the ledger does not know in this version is tracked until it is settled.
    private func reconcile() {
        rescan(now: WatchService.now())
        logger.info("reconcile: \(tracker.entries.count) new or changed file(s) to stage once settled")
    }

    private func rescan(now: Double) {
        guard let candidates = try? agent.scan() else { return }
        for c in candidates { considerScanned(c, now: now) }
    }

    private func scanDirectory(_ dir: String, now: Double) {
        guard let candidates = try? agent.scan(under: dir) else { return }
        for c in candidates { considerScanned(c, now: now) }
    }

    private func considerScanned(_ c: Candidate, now: Double) {
        guard case .file = c.classification else { return }
        if let known = try? agent.buffer.latestVersion(of: c.relativePath), known.size == c.size, known.mtimeNs == c.mtimeNs { return }
        if tracker.entries[c.relativePath] == nil {
            tracker.touched(c.relativePath, now: now, closed: false, stat: (c.size, c.mtimeNs))
        }
    }

    private func warnWatchLimit() {
        logger.error("""
            the inotify watch limit (fs.inotify.max_user_watches = \(Inotify.watchLimit)) is reached: new files are found by \
            the periodic rescan only (every \(Int(options.rescanIntervalSeconds)) s). Raise it with: \
            sysctl fs.inotify.max_user_watches=524288 (and in /etc/sysctl.d/ to keep it)
            """)
        if options.rescanIntervalSeconds > 60 { nextRescan = min(nextRescan, WatchService.now() + 60) }
    }

    // MARK: rounds

    private func nextWake(now: Double) -> Double {
        var wake = nextRescan
        if !tracker.isEmpty {
            let quietAt = tracker.lastActivity + options.settleSeconds
            let settleAt = tracker.nextCheck(now: now, settle: options.settleSeconds) ?? wake
            wake = min(wake, max(quietAt, settleAt))
            if let first = tracker.oldestFirstSeen { wake = min(wake, first + options.maxWaitSeconds) }
            wake = min(wake, now + options.settleSeconds)
        }
        if let down = targetDown { wake = min(wake, down.nextTry) }
        if let w = notifier.watchdogInterval { wake = min(wake, lastWatchdog + w) }
        return max(wake, now + 0.05)
    }

    /// A round starts when the tree is quiet and every file in it is complete, so that one extractor
    /// run is forwarded as one ordered round (parents before children); a tree that stays busy gets a
    /// round of what is complete after --max-wait.
    private func maybeRound(now: Double) {
        if !tracker.isEmpty {
            let quiet = now - tracker.lastActivity >= options.settleSeconds
            let overdue = tracker.oldestFirstSeen.map { now - $0 >= options.maxWaitSeconds } ?? false
            if quiet || overdue {
                let ready = readyFiles(now: now)
                if (quiet && ready.count == tracker.entries.count) || (overdue && !ready.isEmpty) {
                    round(now: now, stageReady: true)
                }
            }
        }
        if let down = targetDown, now >= down.nextTry, !SignalTrap.stopping {
            round(now: now, stageReady: false)
        }
    }

    private func readyFiles(now: Double) -> [String] {
        let root = agent.root
        let settled = tracker.ready(now: now, settle: options.settleSeconds,
                                    stat: { Scanner.fileStat(root + "/" + $0) },
                                    endsWithNewline: { WatchService.endsWithNewline(root + "/" + $0) })
        // No close event vouches for a file a scan found: one a process still has open for writing
        // is not complete, however long it has been quiet.
        let unvouched = settled.filter { tracker.entries[$0]?.closed == false }
        guard !unvouched.isEmpty else { return settled }
        let open = OpenFiles.openForWriting()
        return settled.filter { !open.contains(root + "/" + $0) }
    }

    /// One round: stage the settled files, then forward everything pending, in load order.
    private func round(now: Double, stageReady: Bool) {
        let started = WatchService.now()
        var stageReport = StageReport()
        if stageReady {
            let root = agent.root
            let ready = readyFiles(now: now)
            guard !ready.isEmpty || needsForward else { return }
            let candidates = ready.compactMap { path -> Candidate? in
                guard let st = Scanner.fileStat(root + "/" + path) else { return nil }
                return Candidate(relativePath: path, classification: ExtractPath.classify(path), size: st.size, mtimeNs: st.mtimeNs)
            }
            do {
                let (report, changing) = try agent.stage(candidates, shouldStop: { SignalTrap.stopping })
                stageReport = report
                for c in candidates where !changing.contains(c.relativePath) { tracker.remove(c.relativePath) }
                if report.staged > 0 { needsForward = true }
            } catch {
                logger.error("staging failed: \(error)")
                return
            }
        }
        if SignalTrap.stopping { return }
        if let down = targetDown, WatchService.now() < down.nextTry { logRound(stageReport, nil, started); return }
        guard needsForward || targetDown != nil || !stageReady else { logRound(stageReport, nil, started); return }
        do {
            let store = try openStore()
            let forwarder = agent.forwarder(store: store)
            let report = try forwarder.forwardPending(shouldStop: { SignalTrap.stopping })
            if let down = targetDown {
                logger.info("the LMS-DS is reachable again after \(down.attempts) failed attempt(s) over \(Int(WatchService.now() - down.since)) s; catching up")
                targetDown = nil
            }
            needsForward = SignalTrap.stopping
            metrics?.recordRound(success: true, forwardSeconds: WatchService.now() - started, errors: report.errors.count)
            logRound(stageReport, report, started)
        } catch let StoreError.unavailable(message) {
            self.store = nil
            let t = WatchService.now()
            if var down = targetDown {
                down.attempts += 1
                down.backoff = min(down.backoff * 2, options.maxBackoffSeconds)
                down.nextTry = t + down.backoff
                targetDown = down
                logger.debug("LMS-DS still unavailable (attempt \(down.attempts)); next try in \(Int(down.backoff)) s")
            } else {
                targetDown = (t, 1, t + 1, 1)
                logger.error("the LMS-DS is unavailable: \(message). Staging goes on; forwarding is retried with backoff (up to \(Int(options.maxBackoffSeconds)) s)")
            }
            metrics?.recordRound(success: false, forwardSeconds: nil, errors: 1)
            logRound(stageReport, nil, started)
        } catch {
            logger.error("forwarding failed: \(error)")
            metrics?.recordRound(success: false, forwardSeconds: nil, errors: 1)
        }
        writeMetrics()
    }

    private func openStore() throws -> any LMSDataStore {
        if let store { return store }
        let s = try agent.openStore()
        store = s
        return s
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
            \(targetDown == nil ? "" : "LMS-DS unavailable, ")pending \(pending) file(s), \(String(format: "%.2f", WatchService.now() - started)) s
            """)
    }

    private func writeMetrics() {
        guard let metrics else { return }
        metrics.write(buffer: agent.buffer, targetUp: targetDown == nil, logger: logger)
    }

    private func pingWatchdog(now: Double) {
        guard let interval = notifier.watchdogInterval, now - lastWatchdog >= interval else { return }
        notifier.notify("WATCHDOG=1")
        lastWatchdog = now
    }

    static func endsWithNewline(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var b: UInt8 = 0
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0, pread(fd, &b, 1, size - 1) == 1 else { return false }
        return b == 0x0A
    }
}
