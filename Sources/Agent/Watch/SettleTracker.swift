/// A file's size and modification time as `stat` reported them: the watcher's only sign of a change.
struct FileStat: Equatable, Sendable, CustomStringConvertible {
    var size: Int64
    var mtimeNs: Int64

    init(size: Int64, mtimeNs: Int64) {
        self.size = size
        self.mtimeNs = mtimeNs
    }

    var description: String { "\(size) B @\(mtimeNs)" }
}

/// Which files are still settling. Extractors write in place, without a rename, so a file is complete
/// only when it has been closed (or moved into place) and its size and mtime have not changed for the
/// settle time. Pure bookkeeping: the caller passes the time and what `stat` said; nothing here reads
/// the file system or a clock.
struct SettleTracker: Equatable {
    struct Entry: Equatable {
        var firstSeen: Double
        /// When it was last seen changing or being written.
        var lastChange: Double
        var stat: FileStat
        /// A close-after-write or move-in was seen since the last change.
        var closed: Bool
        /// A write was seen: a writer has the file open until its close event arrives.
        var writing: Bool = false
    }

    private(set) var entries: [String: Entry] = [:]
    /// When the tree last showed any activity.
    private(set) var lastActivity: Double = 0

    var isEmpty: Bool { entries.isEmpty }
    var oldestFirstSeen: Double? { entries.values.map(\.firstSeen).min() }

    /// Something happened to `path` (an event, a scan or a probe saw it). `closed` for close-after-write
    /// and move-in events; a scan cannot know, so it passes false and stability has to show it.
    /// A nil `stat` means the file is gone: it is forgotten.
    mutating func touched(_ path: String, now: Double, closed: Bool, writing: Bool = false, stat: FileStat?) {
        lastActivity = now
        guard let stat else { entries[path] = nil; return }
        var e = entries[path] ?? Entry(firstSeen: now, lastChange: now, stat: stat, closed: closed)
        if e.stat != stat {
            e.stat = stat
            e.lastChange = now
            e.closed = closed
        }
        if closed { e.closed = true; e.writing = false }
        if writing { e.writing = true; e.closed = false; e.lastChange = now }
        entries[path] = e
    }

    /// Activity that concerns no tracked file (a directory appeared or went): the tree is not quiet yet.
    mutating func activity(now: Double) { lastActivity = now }

    mutating func remove(_ path: String) { entries[path] = nil }

    /// /proc says a process has the file open for writing: it is being written, as if an event had
    /// said so. Its close event will tell when it is done; without one, it is looked at again after
    /// ten settle times (at least 30 s), not at every wake-up (reading /proc is not cheap).
    mutating func heldOpen(_ path: String, now: Double) {
        guard var e = entries[path] else { return }
        e.writing = true
        e.closed = false
        e.lastChange = now
        entries[path] = e
    }

    /// After lost events, a close seen earlier proves nothing: a new writer's modify events may be
    /// among those lost. Every file is then treated as a scan found it (settled twice the settle
    /// time, and no process may have it open for writing).
    mutating func distrustEvents() {
        for k in entries.keys {
            entries[k]!.closed = false
            entries[k]!.writing = false
        }
    }

    mutating func removeAll(under directory: String) {
        if directory.isEmpty { entries = [:]; return }
        for k in entries.keys where k.hasPrefix(directory + "/") { entries[k] = nil }
    }

    /// Whether the records say `e` has been unchanged long enough to be complete. The caller still
    /// confirms with a fresh `stat` (events can be lost) and, for a file no close event vouches for,
    /// that no process has it open for writing.
    static func isSettled(_ e: Entry, now: Double, settle: Double) -> Bool {
        now - e.lastChange >= settle * factor(e, settle)
    }

    /// How many settle times a file must stay unchanged: one once its writer closed it; two when a
    /// scan found it (no event says whether it is open); for a file seen being written and not yet
    /// closed, long enough to mean its close event was lost (ten, and at least 30 s).
    static func factor(_ e: Entry, _ settle: Double) -> Double {
        if e.closed { return 1 }
        if e.writing { return settle > 0 ? max(10, 30 / settle) : 1 }
        return 2
    }
}
