/// Which files have finished being written. Extractors write in place, without a rename, so a file is
/// ready only when it has been closed (or moved into place), its size and mtime have not changed for
/// the settle time, and its last record is complete (it ends with a line break; a file without one
/// must stay unchanged three times as long, since a writer may pause mid-line).
struct SettleTracker {
    struct Entry: Equatable {
        var firstSeen: Double
        var lastChange: Double
        var size: Int64
        var mtimeNs: Int64
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

    /// Something happened to `path` (an event or a scan found it). `closed` for close-after-write and
    /// move-in events; a scan cannot know, so it passes false and stability has to show it.
    mutating func touched(_ path: String, now: Double, closed: Bool, writing: Bool = false, stat: (size: Int64, mtimeNs: Int64)?) {
        lastActivity = now
        guard let stat else { entries[path] = nil; return }
        var e = entries[path] ?? Entry(firstSeen: now, lastChange: now, size: stat.size, mtimeNs: stat.mtimeNs, closed: closed)
        if e.size != stat.size || e.mtimeNs != stat.mtimeNs {
            e.size = stat.size
            e.mtimeNs = stat.mtimeNs
            e.lastChange = now
            e.closed = closed
        }
        if closed { e.closed = true; e.writing = false }
        if writing { e.writing = true; e.closed = false; e.lastChange = now }
        entries[path] = e
    }

    /// Activity that concerns no tracked file (a directory appeared): the tree is not quiet yet.
    mutating func activity(now: Double) { lastActivity = now }

    mutating func remove(_ path: String) { entries[path] = nil }

    mutating func removeAll(under directory: String) {
        for k in entries.keys where k.hasPrefix(directory + "/") { entries[k] = nil }
    }

    /// Files ready to stage now. `stat` reads a file's current size and mtime; `endsWithNewline`
    /// checks its last byte. A file whose stat changed is treated as freshly changed.
    mutating func ready(now: Double, settle: Double, stat: (String) -> (size: Int64, mtimeNs: Int64)?,
                        endsWithNewline: (String) -> Bool) -> [String] {
        var out: [String] = []
        for (path, e) in entries {
            guard let s = stat(path) else { entries[path] = nil; continue }
            if s.size != e.size || s.mtimeNs != e.mtimeNs {
                touched(path, now: now, closed: false, stat: s)
                continue
            }
            let quiet = now - e.lastChange
            guard quiet >= settle * Self.factor(e, settle) else { continue }
            guard endsWithNewline(path) || s.size == 0 || quiet >= max(settle * 3, 10) else { continue }
            out.append(path)
        }
        return out.sorted()
    }

    /// How many settle times a file must stay unchanged: one once its writer closed it; two when a
    /// scan found it (no event says whether it is open); for a file seen being written and not yet
    /// closed, long enough to mean its close event was lost (ten, and at least 30 s).
    static func factor(_ e: Entry, _ settle: Double) -> Double {
        if e.closed { return 1 }
        if e.writing { return settle > 0 ? max(10, 30 / settle) : 1 }
        return 2
    }

    /// When the next file could become ready (for the poll timeout).
    func nextCheck(now: Double, settle: Double) -> Double? {
        entries.values.map { $0.lastChange + settle * Self.factor($0, settle) }.min()
    }
}
