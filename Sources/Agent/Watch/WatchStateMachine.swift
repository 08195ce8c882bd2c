/// Every decision `watch` makes, apart from inotify, the file system and the clock: which files are
/// complete, when a round starts, when the tree is rescanned, how long to sleep, and the backoff while
/// the LMS-DS is away. It is fed events (what inotify, a scan, `stat` or a forwarding attempt said,
/// each with the time) and answers with decisions, in the order they are to be carried out. The result
/// of carrying one out (a scan's findings, a probe's answers, staging's or forwarding's outcome) is fed
/// back as an event, which may lead to further decisions.
///
/// Synchronous and pure: `WatchService` is the thin adapter to the real world, and the model test
/// (WatchModelTests) drives the same machine over a simulated tree and clock.
struct WatchStateMachine: Equatable {
    struct Config: Equatable, Sendable {
        /// A file must be unchanged this long; a round waits for the tree to be this quiet.
        var settle: Double
        /// A busy tree cannot postpone a round longer than this.
        var maxWait: Double
        /// A full scan this often: the safety net for file systems that lose events.
        var rescanInterval: Double
        /// The longest wait between two attempts to reach an unavailable LMS-DS.
        var maxBackoff: Double

        init(settle: Double = 5, maxWait: Double = 300, rescanInterval: Double = 600, maxBackoff: Double = 300) {
            self.settle = settle
            self.maxWait = maxWait
            self.rescanInterval = rescanInterval
            self.maxBackoff = maxBackoff
        }

        init(_ o: WatchOptions) {
            self.init(settle: o.settleSeconds, maxWait: o.maxWaitSeconds, rescanInterval: o.rescanIntervalSeconds,
                      maxBackoff: o.maxBackoffSeconds)
        }
    }

    /// Why a scan is asked for (the adapter logs it; a startup scan is followed by the backlog's forward).
    enum ScanReason: Equatable, Sendable {
        case startup, newDirectory, overflow, periodic
    }

    /// A file looked at again just before a round: its stat now (nil: gone), and, when asked for,
    /// whether some process has it open for writing.
    struct Probe: Equatable, Sendable {
        var stat: FileStat?
        var openForWriting: Bool?

        init(stat: FileStat?, openForWriting: Bool? = nil) {
            self.stat = stat
            self.openForWriting = openForWriting
        }
    }

    enum ForwardOutcome: Equatable, Sendable {
        /// Everything pending was forwarded; `interrupted` when a stop request cut it short.
        case done(interrupted: Bool)
        /// The LMS-DS could not be reached: back off.
        case unavailable
        /// Any other failure (already logged): tried again with the next round.
        case failed
    }

    enum Event: Equatable, Sendable {
        /// IN_MODIFY or IN_CREATE on a file: a writer has it open. `stat` as read when handled (nil: gone).
        case fileWritten(String, FileStat?)
        /// IN_CLOSE_WRITE: the writer closed it.
        case fileClosed(String, FileStat?)
        /// IN_MOVED_TO: a complete file was renamed into place.
        case fileMovedIn(String, FileStat?)
        /// A directory was created or moved into the tree.
        case directoryAdded(String)
        /// A directory was deleted or moved out of the tree.
        case directoryRemoved(String)
        /// IN_Q_OVERFLOW: the kernel dropped events.
        case queueOverflow
        /// inotify ran out of watches: only scans find new files.
        case watchLimitReached
        /// The poll woke up (timeout or after events): time to decide on rounds and rescans.
        case tick
        /// A scan of `directory` finished: the files in it the ledger does not hold in this version.
        case scanned(String, ScanReason, found: [String: FileStat])
        /// The answers to `.probe`.
        case probed([String: Probe])
        /// Staging of a round's files finished: `done` are handled for good (staged, unchanged, rejected
        /// or ignored); the others kept changing while read and stay tracked.
        case staged(done: [String], stagedAny: Bool)
        /// Staging failed as a whole (the buffer): tried again after a settle time.
        case stagingFailed
        case forwarded(ForwardOutcome)
    }

    enum Decision: Equatable, Sendable {
        /// Add watches to `directory` and every directory below it ("" is the root).
        case watch(String)
        /// Drop the watches of `directory` and below.
        case unwatch(String)
        /// Scan `directory` and below and answer with `.scanned`.
        case scan(String, ScanReason)
        /// Stat every file in `all`, check `openCheck` against the processes' open files, and answer
        /// with `.probed`: the last look before a round.
        case probe(all: [String], openCheck: [String])
        /// Stage these files, in this order, and answer with `.staged` or `.stagingFailed`.
        case stage([String])
        /// Forward everything pending (a round) and answer with `.forwarded`.
        case forward
        /// The LMS-DS is unavailable: attempt `attempts` failed; the next is in `retryIn` seconds.
        case backOff(attempts: Int, retryIn: Double)
        /// The LMS-DS is reachable again after `attempts` failed attempts over `downFor` seconds.
        case targetBack(attempts: Int, downFor: Double)
    }

    struct Outage: Equatable {
        var since: Double
        var attempts: Int
        var nextTry: Double
        var backoff: Double
    }

    let config: Config
    private(set) var tracker = SettleTracker()
    private(set) var outage: Outage?
    /// Something was staged (or a forward failed) since the last successful forward.
    private(set) var needsForward = true
    private(set) var nextRescan: Double = .infinity
    /// After staging failed as a whole, no round before this time (no retry loop).
    private(set) var stagingRetryAt: Double = 0
    /// inotify ran out of watches: new directories go unwatched, so the tree is rescanned every minute.
    private(set) var watchLimitReached = false

    init(_ config: Config) { self.config = config }

    var isTargetDown: Bool { outage != nil }

    // MARK: events

    /// Startup (reconcile): watch first, then scan, so whatever is written in between is seen by one
    /// or the other. The scan's answer forwards the backlog.
    mutating func start(at now: Double) -> [Decision] {
        nextRescan = now + rescanInterval
        return [.watch(""), .scan("", .startup)]
    }

    private var rescanInterval: Double { watchLimitReached ? min(config.rescanInterval, 60) : config.rescanInterval }

    mutating func handle(_ event: Event, at now: Double) -> [Decision] {
        switch event {
        case .fileWritten(let path, let stat):
            tracker.touched(path, now: now, closed: false, writing: true, stat: stat)
            return []
        case .fileClosed(let path, let stat), .fileMovedIn(let path, let stat):
            tracker.touched(path, now: now, closed: true, stat: stat)
            return []
        case .directoryAdded(let dir):
            tracker.activity(now: now)
            // Watch it, then scan it: files written before the watch existed are found by the scan.
            return [.watch(dir), .scan(dir, .newDirectory)]
        case .directoryRemoved(let dir):
            tracker.removeAll(under: dir)
            tracker.activity(now: now)
            // The name may be stale: inotify names a directory by the path its watch was added under,
            // and within one batch of events another directory may have taken that name (moved in
            // under it), or lost events hid a rename. Whatever is at the path now is watched and
            // scanned again; when nothing is, both find nothing.
            return [.unwatch(dir), .watch(dir), .scan(dir, .newDirectory)]
        case .queueOverflow:
            // Lost events may include a new writer's (a close seen before them proves nothing now),
            // new directories (which have no watch yet) and renames (after which watches report
            // under stale names): drop every watch, watch the tree afresh, then scan it.
            tracker.distrustEvents()
            return [.unwatch(""), .watch(""), .scan("", .overflow)]
        case .watchLimitReached:
            watchLimitReached = true
            nextRescan = min(nextRescan, now + rescanInterval)
            return []
        case .tick:
            return tick(now: now)
        case .scanned(_, let reason, let found):
            for (path, stat) in found.sorted(by: { $0.key < $1.key }) where tracker.entries[path] == nil {
                tracker.touched(path, now: now, closed: false, stat: stat)
            }
            // The backlog staged before the start: nothing is being written to it, forward it at once.
            return reason == .startup ? forwardUnlessBackingOff(now: now, onlyIfNeeded: false) : []
        case .probed(let answers):
            return decideRound(answers, now: now)
        case .staged(let done, let stagedAny):
            for path in done { tracker.remove(path) }
            if stagedAny { needsForward = true }
            return forwardUnlessBackingOff(now: now, onlyIfNeeded: true)
        case .stagingFailed:
            stagingRetryAt = now + max(config.settle, 1)
            return []
        case .forwarded(let outcome):
            return forwarded(outcome, now: now)
        }
    }

    // MARK: rounds

    /// A round starts when the tree is quiet and every file in it is complete, so that one extractor
    /// run is forwarded as one ordered round (parents before children); a tree that stays busy gets a
    /// round of what is complete after `maxWait`. Whether files are complete is confirmed by a probe.
    private mutating func tick(now: Double) -> [Decision] {
        var out: [Decision] = []
        if now >= nextRescan {
            nextRescan = now + rescanInterval
            out.append(.scan("", .periodic))
        }
        if !tracker.isEmpty, now >= stagingRetryAt, isQuiet(now) || isOverdue(now) {
            let all = tracker.entries.keys.sorted()
            let unvouched = all.filter {
                let e = tracker.entries[$0]!
                return !e.closed && SettleTracker.isSettled(e, now: now, settle: config.settle)
            }
            out.append(.probe(all: all, openCheck: unvouched))
        } else {
            out += retryIfDue(now: now)
        }
        return out
    }

    private func isQuiet(_ now: Double) -> Bool { now - tracker.lastActivity >= config.settle }
    private func isOverdue(_ now: Double) -> Bool { tracker.oldestFirstSeen.map { now - $0 >= config.maxWait } ?? false }

    /// Given fresh facts about the tracked files, stage the complete ones if a round is due.
    /// A file is complete when it is settled, and either a close event vouches for it or no process
    /// has it open for writing. Its last line needs no line break: a closed, quiet file is complete
    /// as it is (the upstream loader reads such files too); one still open for writing never is.
    private mutating func decideRound(_ answers: [String: Probe], now: Double) -> [Decision] {
        for (path, probe) in answers.sorted(by: { $0.key < $1.key }) {
            guard let e = tracker.entries[path] else { continue }
            guard let stat = probe.stat else { tracker.remove(path); continue }
            if stat != e.stat { tracker.touched(path, now: now, closed: false, stat: stat) }
            if probe.openForWriting == true { tracker.heldOpen(path, now: now) }
        }
        let ready = tracker.entries.filter { path, e in
            SettleTracker.isSettled(e, now: now, settle: config.settle) && (e.closed || answers[path]?.openForWriting == false)
        }.keys.sorted()
        let quiet = isQuiet(now), overdue = isOverdue(now)
        if (quiet && ready.count == tracker.entries.count) || (overdue && !ready.isEmpty) {
            if !ready.isEmpty { return [.stage(ready)] }
            // Every tracked file went away: a round of what is pending, if anything is.
            return forwardUnlessBackingOff(now: now, onlyIfNeeded: true)
        }
        return retryIfDue(now: now)
    }

    /// Forward, unless the LMS-DS is away and its next try is not due yet. `onlyIfNeeded`: skip the
    /// forward when nothing was staged since the last successful one.
    private func forwardUnlessBackingOff(now: Double, onlyIfNeeded: Bool) -> [Decision] {
        if let outage, now < outage.nextTry { return [] }
        guard !onlyIfNeeded || needsForward || outage != nil else { return [] }
        return [.forward]
    }

    private func retryIfDue(now: Double) -> [Decision] {
        guard let outage, now >= outage.nextTry else { return [] }
        return [.forward]
    }

    /// Backoff: the first failure retries after 1 s, each further one doubles the wait, up to maxBackoff.
    private mutating func forwarded(_ outcome: ForwardOutcome, now: Double) -> [Decision] {
        switch outcome {
        case .done(let interrupted):
            needsForward = interrupted
            guard let down = outage else { return [] }
            outage = nil
            return [.targetBack(attempts: down.attempts, downFor: now - down.since)]
        case .unavailable:
            if var down = outage {
                down.attempts += 1
                down.backoff = min(down.backoff * 2, config.maxBackoff)
                down.nextTry = now + down.backoff
                outage = down
            } else {
                outage = Outage(since: now, attempts: 1, nextTry: now + min(1, config.maxBackoff), backoff: min(1, config.maxBackoff))
            }
            return [.backOff(attempts: outage!.attempts, retryIn: outage!.backoff)]
        case .failed:
            return []
        }
    }

    // MARK: sleeping

    /// When the adapter must wake up at the latest if no event arrives: the next time a file becomes
    /// settled or the tree quiet, the max-wait bound, the next retry, the next periodic rescan. Only
    /// moments still ahead count: a file that is settled but still open for writing, or a tree already
    /// overdue, is looked at again every settle time, not in a loop.
    func nextWake(after now: Double) -> Double {
        var wake = nextRescan
        if !tracker.isEmpty {
            // Files can change without an event (lost, or a scan found them): look again every settle time.
            var files = now + config.settle
            let quietAt = tracker.lastActivity + config.settle
            let settleTimes = tracker.entries.values.map { $0.lastChange + config.settle * SettleTracker.factor($0, config.settle) }
            if quietAt > now {
                files = min(files, max(quietAt, settleTimes.min() ?? quietAt))
            } else if let next = settleTimes.filter({ $0 > now }).min() {
                files = min(files, next)
            }
            if let first = tracker.oldestFirstSeen, first + config.maxWait > now { files = min(files, first + config.maxWait) }
            wake = min(wake, max(files, stagingRetryAt))
        }
        if let outage { wake = min(wake, outage.nextTry) }
        return max(wake, now + 0.05)
    }
}
