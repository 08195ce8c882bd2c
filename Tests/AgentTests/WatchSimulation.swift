@testable import Agent
import Foundation

/// A simulated extract tree, inotify and LMS-DS around the real `WatchStateMachine`, on a simulated
/// clock: the harness of the model test. It plays the part of `WatchService` (turning what happens into
/// the machine's events and carrying out its decisions) and checks, as it goes, what the watcher
/// promises. Violations are collected in `violations`, with the time and the path.
///
/// inotify is modelled as the kernel does it: a watch belongs to a directory (not to a name) and has a
/// descriptor of its own (a new one each time it is added), an event is queued only for a watched
/// directory, with the watch's descriptor, its mask and a name. The adapter names events with the
/// real `WatchRegistry`, one at a time just before handling each, as `WatchService` does. A queue
/// overflow drops the queued events after some point and queues IN_Q_OVERFLOW.
final class WatchSimulation {
    typealias Machine = WatchStateMachine

    struct File {
        var version: Int
        var stat: FileStat
        /// When its content last changed (or it appeared at this path).
        var lastModified: Double
    }

    /// What the kernel queues.
    struct RawEvent {
        var wd: Int32
        var mask: UInt32
        var name: String
    }

    let config: Machine.Config
    private(set) var machine: Machine
    private(set) var now: Double = 0

    // The tree.
    private(set) var directories: [String: Int] = ["": 0]
    private(set) var files: [String: File] = [:]
    /// Files a process has open for writing (it has written to them, and not closed them yet).
    private(set) var writers: Set<String> = []
    /// Directories moved out of the tree: gone from it, but a process may go on writing there, and
    /// their watches (if the adapter kept them) report it under their old names.
    private(set) var outside: [Int] = []
    private var nextDirectoryId = 1
    private var clockNs: Int64 = 1_000_000_000

    // inotify: the kernel's watches (directory id -> descriptor) and the adapter's names for them.
    private var queue: [RawEvent] = []
    private var kernelWatches: [Int: Int32] = [:]
    private var nextWd: Int32 = 1
    private var registry = WatchRegistry()

    // The buffer's ledger and the LMS-DS.
    /// The version of each path the ledger holds, and its stat when staged.
    private(set) var ledger: [String: (version: Int, stat: FileStat)] = [:]
    /// How often each version ("path#version") was handed to staging.
    private(set) var handedOff: [String: Int] = [:]
    /// Staged versions not yet forwarded.
    private(set) var unforwarded: Set<String> = []
    var targetUp = true
    /// Times of the failed forwarding attempts of the current outage.
    private var failedAttempts: [Double] = []

    /// How often the interesting situations came up (the model test checks that each one does).
    private(set) var coverage: [String: Int] = [:]

    private(set) var violations: [String] = []
    private(set) var trace: [String] = []
    private(set) var wakeUps = 0
    /// Wake-ups because events were queued (the others are timers).
    private(set) var eventWakeUps = 0

    init(config: Machine.Config) {
        self.config = config
        machine = Machine(config)
    }

    // MARK: the tree, as a writer changes it (each change takes 1 ms, no wake-up in between)

    static func join(_ dir: String, _ name: String) -> String { dir.isEmpty ? name : dir + "/" + name }
    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }
    static func name(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
    static func isUnder(_ path: String, _ dir: String) -> Bool { dir.isEmpty || path == dir || path.hasPrefix(dir + "/") }

    /// Every content a path ever has gets its own number, also across deletions and re-creations.
    private var lastVersion = 0
    private func newVersion() -> Int { lastVersion += 1; return lastVersion }

    private func advance() {
        now += 0.001
        clockNs += 1_000_000
    }

    /// The kernel queues an event only for a watched directory.
    private func queueEvent(_ mask: Int32, _ name: String = "", dir: Int) {
        guard let wd = kernelWatches[dir] else { return }
        queue.append(RawEvent(wd: wd, mask: UInt32(mask), name: name))
    }

    /// inotify_rm_watch, or the kernel dropping the watch of a deleted directory: IN_IGNORED follows.
    private func removeKernelWatch(_ wd: Int32) {
        guard let dir = kernelWatches.first(where: { $0.value == wd })?.key else { return }
        kernelWatches[dir] = nil
        queue.append(RawEvent(wd: wd, mask: UInt32(IN_IGNORED), name: ""))
    }

    /// A writer appends to `path` (creating it): IN_CREATE for a new file, then IN_MODIFY.
    func write(_ path: String, bytes: Int64) {
        guard let dirId = directories[Self.parent(path)] else { return }
        advance()
        let isNew = files[path] == nil
        var f = files[path] ?? File(version: 0, stat: FileStat(size: 0, mtimeNs: clockNs), lastModified: now)
        f.version = newVersion()
        f.stat = FileStat(size: f.stat.size + bytes, mtimeNs: clockNs)
        f.lastModified = now
        files[path] = f
        writers.insert(path)
        if isNew { queueEvent(IN_CREATE, Self.name(path), dir: dirId) }
        queueEvent(IN_MODIFY, Self.name(path), dir: dirId)
        trace.append("\(t) write \(path) -> v\(f.version)")
    }

    /// The writer of `path` closes it: IN_CLOSE_WRITE.
    func close(_ path: String) {
        guard writers.remove(path) != nil, let dirId = directories[Self.parent(path)] else { return }
        advance()
        queueEvent(IN_CLOSE_WRITE, Self.name(path), dir: dirId)
        trace.append("\(t) close \(path)")
    }

    /// A complete file is renamed into place from outside the tree (or from a hidden name): IN_MOVED_TO.
    func renameIn(_ path: String, bytes: Int64) {
        guard let dirId = directories[Self.parent(path)], !writers.contains(path) else { return }
        advance()
        let version = newVersion()
        files[path] = File(version: version, stat: FileStat(size: bytes, mtimeNs: clockNs - 7_000_000_000), lastModified: now)
        queueEvent(IN_MOVED_TO, Self.name(path), dir: dirId)
        trace.append("\(t) rename-in \(path) -> v\(version)")
    }

    func mkdir(_ path: String) {
        guard directories[path] == nil, let parentId = directories[Self.parent(path)] else { return }
        advance()
        directories[path] = nextDirectoryId
        nextDirectoryId += 1
        queueEvent(IN_CREATE | IN_ISDIR, Self.name(path), dir: parentId)
        trace.append("\(t) mkdir \(path)")
    }

    /// `rm -rf`: deepest first, each directory's watch says it is gone and its parent's names it.
    /// A writer still writing in there writes to an unlinked file, which is no longer in the tree.
    func removeDirectory(_ path: String) {
        guard !path.isEmpty, directories[path] != nil else { return }
        advance()
        for f in files.keys where Self.isUnder(f, path) { files[f] = nil; writers.remove(f) }
        for d in directories.keys.filter({ Self.isUnder($0, path) }).sorted(by: { $0.count > $1.count }) {
            let id = directories[d]!
            directories[d] = nil
            queueEvent(IN_DELETE_SELF, dir: id)
            if let wd = kernelWatches[id] { removeKernelWatch(wd) }
            if let parentId = directories[Self.parent(d)] { queueEvent(IN_DELETE | IN_ISDIR, Self.name(d), dir: parentId) }
        }
        trace.append("\(t) rm -rf \(path)")
    }

    /// `mv path /elsewhere`: the parent says it left, the directory says it moved. Its subdirectories'
    /// watches (if the adapter kept them) would go on reporting from outside the tree.
    func moveOut(_ path: String) {
        guard !path.isEmpty, let id = directories[path], let parentId = directories[Self.parent(path)] else { return }
        advance()
        for f in files.keys where Self.isUnder(f, path) { files[f] = nil; writers.remove(f) }
        for d in directories.keys.sorted() where Self.isUnder(d, path) { outside.append(directories.removeValue(forKey: d)!) }
        queueEvent(IN_MOVED_FROM | IN_ISDIR, Self.name(path), dir: parentId)
        queueEvent(IN_MOVE_SELF, dir: id)
        trace.append("\(t) move out \(path)")
    }

    /// A process writes and closes a file in a directory moved out of the tree: the kernel still
    /// reports it to whatever watch that directory has.
    func writeOutside(_ pick: Int, name: String) {
        guard !outside.isEmpty else { return }
        advance()
        let id = outside[pick % outside.count]
        queueEvent(IN_MODIFY, name, dir: id)
        queueEvent(IN_CLOSE_WRITE, name, dir: id)
        trace.append("\(t) write outside the tree (directory #\(id)) \(name)")
    }

    /// `mv /elsewhere/name path`: a directory with complete files (and a subdirectory) appears.
    func moveIn(_ path: String, files count: Int) {
        guard directories[path] == nil, let parentId = directories[Self.parent(path)] else { return }
        advance()
        directories[path] = nextDirectoryId
        directories[path + "/sub"] = nextDirectoryId + 1
        nextDirectoryId += 2
        for i in 0..<count {
            let f = i % 2 == 0 ? "\(path)/m\(i).csv" : "\(path)/sub/m\(i).csv"
            files[f] = File(version: newVersion(), stat: FileStat(size: Int64(100 + i), mtimeNs: clockNs - 3_000_000_000), lastModified: now)
        }
        queueEvent(IN_MOVED_TO | IN_ISDIR, Self.name(path), dir: parentId)
        trace.append("\(t) move in \(path) with \(count) file(s)")
    }

    /// `mv from to` inside the tree: the directory keeps its watches (they belong to the inode) and its
    /// writers go on writing, now under the new name.
    func renameDirectory(_ from: String, to: String) {
        guard !from.isEmpty, directories[to] == nil, let id = directories[from],
              let fromParent = directories[Self.parent(from)], let toParent = directories[Self.parent(to)],
              !Self.isUnder(to, from) else { return }
        advance()
        func moved(_ p: String) -> String { to + p.dropFirst(from.count) }
        for d in directories.keys where Self.isUnder(d, from) { let v = directories.removeValue(forKey: d)!; directories[moved(d)] = v }
        // The files keep their content (and stat): moved, not changed.
        for f in files.keys where Self.isUnder(f, from) { files[moved(f)] = files.removeValue(forKey: f)! }
        for w in writers where Self.isUnder(w, from) { writers.remove(w); writers.insert(moved(w)) }
        queueEvent(IN_MOVED_FROM | IN_ISDIR, Self.name(from), dir: fromParent)
        queueEvent(IN_MOVED_TO | IN_ISDIR, Self.name(to), dir: toParent)
        queueEvent(IN_MOVE_SELF, dir: id)
        trace.append("\(t) mv \(from) \(to)")
    }

    /// The kernel's queue overflows: events after the first `keep` are lost, IN_Q_OVERFLOW is queued.
    func overflow(keep: Int) {
        advance()
        let dropped = max(0, queue.count - keep)
        queue = Array(queue.prefix(keep)) + [RawEvent(wd: -1, mask: UInt32(IN_Q_OVERFLOW), name: "")]
        trace.append("\(t) queue overflow (\(dropped) event(s) lost)")
    }

    func setTarget(up: Bool) {
        guard targetUp != up else { return }
        targetUp = up
        trace.append("\(t) LMS-DS \(up ? "up" : "down")")
    }

    // MARK: the adapter

    /// Starts the watcher on the tree as it is now (reconcile), with the given versions already in the ledger.
    func start(knownVersions: [String] = []) {
        for path in knownVersions {
            guard let f = files[path] else { continue }
            ledger[path] = (f.version, f.stat)
        }
        trace.append("\(t) start (tree: \(files.keys.sorted()), writers: \(writers.sorted()), ledger: \(ledger.keys.sorted()))")
        carryOut(machine.start(at: now))
        checkNothingIsForgotten("after the startup scan")
    }

    /// The poll loop until `end`: wake up at once when events are queued, otherwise when the machine
    /// asks to; read the events, hand each to the machine, then tick.
    func run(until end: Double) {
        while true {
            let wake = queue.isEmpty ? machine.nextWake(after: now) : now
            if wake > end { break }
            if !queue.isEmpty { eventWakeUps += 1 }
            now = max(now, wake)
            wakeUps += 1
            if wakeUps > 1_000_000 { violations.append("\(t) the loop does not come to rest"); return }
            let raw = queue
            queue = []
            var hadOverflow = false
            for r in raw {
                // `Inotify.name`: named just before it is handled.
                let (named, removed) = registry.event(wd: r.wd, mask: r.mask, name: r.name)
                for wd in removed { removeKernelWatch(wd) }
                guard let e = named else { continue }
                // `WatchService.machineEvent`: a file event carries the file's stat when it is handled.
                let event: Machine.Event
                switch e {
                case .fileWritten(let p): event = .fileWritten(p, files[p]?.stat)
                case .fileClosed(let p): event = .fileClosed(p, files[p]?.stat)
                case .fileMovedIn(let p): event = .fileMovedIn(p, files[p]?.stat)
                case .directoryAdded(let d): event = .directoryAdded(d)
                case .directoryRemoved(let d): event = .directoryRemoved(d)
                case .overflow: event = .queueOverflow; hadOverflow = true
                }
                carryOut(machine.handle(event, at: now))
                // Files under a removed directory are dropped (the directory is looked at again, so
                // what is at that path now may be tracked anew).
                if case .directoryRemoved(let dir) = event {
                    for path in machine.tracker.entries.keys where Self.isUnder(path, dir) && files[path] == nil {
                        violations.append("\(t) \(path) is still tracked after its directory \(dir) was removed")
                    }
                }
            }
            if hadOverflow { checkNothingIsForgotten("after the overflow was handled") }
            carryOut(machine.handle(.tick, at: now))
            checkNothingIsForgotten("after a wake-up")
        }
        now = end
    }

    private func carryOut(_ decisions: [Machine.Decision]) {
        for d in decisions { carryOut(perform(d)) }
    }

    private func perform(_ d: Machine.Decision) -> [Machine.Decision] {
        switch d {
        case .watch(let dir):
            // `Inotify.watchTree`: inotify_add_watch on a watched directory returns its watch, which
            // takes the new name; otherwise a new descriptor.
            for (path, id) in directories.sorted(by: { $0.key < $1.key }) where Self.isUnder(path, dir) {
                let wd = kernelWatches[id] ?? { nextWd += 1; return nextWd }()
                kernelWatches[id] = wd
                registry.added(wd, path: path)
            }
            return []
        case .unwatch(let dir):
            for wd in registry.remove(under: dir) { removeKernelWatch(wd) }
            return []
        case .scan(let dir, let reason):
            guard directories[dir] != nil else { return machine.handle(.scanned(dir, reason, found: [:]), at: now) }
            var found: [String: FileStat] = [:]
            for (path, f) in files where Self.isUnder(path, dir) && ledger[path]?.stat != f.stat { found[path] = f.stat }
            trace.append("\(t) scan '\(dir)' (\(reason)): \(found.count) unknown")
            if !found.isEmpty { coverage["\(reason) scan found files", default: 0] += 1 }
            return machine.handle(.scanned(dir, reason, found: found), at: now)
        case .probe(let all, let openCheck):
            var answers: [String: Machine.Probe] = [:]
            for path in all {
                answers[path] = Machine.Probe(stat: files[path]?.stat, openForWriting: openCheck.contains(path) ? writers.contains(path) : nil)
                if answers[path]?.openForWriting == true { coverage["a settled file was found open for writing", default: 0] += 1 }
                if let f = files[path], let e = machine.tracker.entries[path], e.stat != f.stat {
                    coverage["a probe saw a change no event reported", default: 0] += 1
                }
            }
            return machine.handle(.probed(answers), at: now)
        case .stage(let paths):
            var done: [String] = []
            var stagedAny = false
            for path in paths {
                guard let f = files[path] else {
                    violations.append("\(t) \(path) was handed to staging, but it is not in the tree (its directory went away)")
                    continue
                }
                let key = "\(path)#v\(f.version)"
                handedOff[key, default: 0] += 1
                // Once per version: never again while the ledger holds it as the path's latest (a path
                // may have content A, then B, then A again: that A is new to the ledger).
                if ledger[path]?.version == f.version { violations.append("\(t) \(key) was handed to staging again (\(handedOff[key]!) times)") }
                if writers.contains(path) { violations.append("\(t) \(key) was staged while a writer has it open") }
                if now - f.lastModified < config.settle - 1e-9 {
                    violations.append("\(t) \(key) was staged \(String(format: "%.3f", now - f.lastModified)) s after it changed (settle \(config.settle) s)")
                }
                done.append(path)
                if ledger[path]?.version != f.version {
                    ledger[path] = (f.version, f.stat)
                    unforwarded.insert(key)
                    stagedAny = true
                }
            }
            trace.append("\(t) stage \(paths)")
            coverage["files staged", default: 0] += 1
            if paths.count < machine.tracker.entries.count { coverage["a round of part of the tree (max-wait)", default: 0] += 1 }
            if paths.contains(where: { path in ledger[path] != nil && handedOff.keys.filter { $0.hasPrefix(path + "#") }.count > 1 }) {
                coverage["a new version of a staged file was staged", default: 0] += 1
            }
            return machine.handle(.staged(done: done, stagedAny: stagedAny), at: now)
        case .forward:
            if targetUp {
                trace.append("\(t) forward \(unforwarded.count) file(s)")
                unforwarded = []
                if !failedAttempts.isEmpty { coverage["the LMS-DS came back during an outage", default: 0] += 1 }
                failedAttempts = []
                return machine.handle(.forwarded(.done(interrupted: false)), at: now)
            }
            if let last = failedAttempts.last {
                let expected = min(pow(2, Double(failedAttempts.count - 1)), config.maxBackoff)
                if now - last < expected - 1e-9 {
                    violations.append("\(t) forwarding was retried \(String(format: "%.3f", now - last)) s after failed attempt \(failedAttempts.count) (backoff \(expected) s)")
                }
            }
            failedAttempts.append(now)
            if failedAttempts.count >= 3 { coverage["forwarding retried with a growing backoff", default: 0] += 1 }
            trace.append("\(t) forward: LMS-DS unavailable (attempt \(failedAttempts.count))")
            return machine.handle(.forwarded(.unavailable), at: now)
        case .backOff, .targetBack:
            return []
        }
    }

    // MARK: what the watcher promises

    /// Every file in the tree is either in the ledger in its current version or tracked until it is
    /// (a file the watcher forgot would never be staged).
    private func checkNothingIsForgotten(_ when: String) {
        for (path, f) in files where ledger[path]?.version != f.version && machine.tracker.entries[path] == nil {
            violations.append("\(t) \(when): \(path) v\(f.version) is neither staged nor tracked")
        }
    }

    /// After the tree has been quiet long enough: every complete file is staged in its current version
    /// and forwarded; no file still open for writing is staged in its current version; and the watcher
    /// sleeps until its next periodic rescan.
    func checkSettled(timerWakeUpsBefore: Int, period: Double) {
        // A timer may fire for each settle time (files are looked at again), each file's own settle
        // time, the quiet and max-wait bounds and each retry; a watcher polling every 50 ms fires 20 a second.
        let timerWakeUps = wakeUps - eventWakeUps - timerWakeUpsBefore
        let bound = Int(period / config.settle) + 2 * files.count + 20
        if timerWakeUps > bound {
            violations.append("\(t) the watcher woke up \(timerWakeUps) times in \(period) s of quiet (at most \(bound) expected): a busy loop")
        }
        for (path, f) in files {
            let staged = ledger[path]?.version == f.version
            if writers.contains(path) {
                if staged { violations.append("\(t) \(path) v\(f.version) is still open for writing but was staged") }
            } else if !staged {
                violations.append("\(t) \(path) v\(f.version) is complete and the tree is quiet, but it was not staged")
            }
        }
        if !unforwarded.isEmpty { violations.append("\(t) the tree is quiet, but \(unforwarded.sorted()) were not forwarded") }
        if writers.isEmpty && machine.nextWake(after: now) < machine.nextRescan - 1e-9 {
            violations.append("\(t) nothing to do, but the watcher wakes at \(machine.nextWake(after: now)) before its rescan at \(machine.nextRescan)")
        }
    }

    private var t: String { String(format: "t=%.3f", now) }
}
