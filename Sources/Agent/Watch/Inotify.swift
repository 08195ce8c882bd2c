import Glibc

/// Recursive inotify over the extract tree: the system calls. Every directory has its own watch; a
/// new directory is watched first and scanned after, so files created before its watch existed are
/// not missed. Which watch has which name is `WatchRegistry`'s bookkeeping.
final class Inotify {
    /// One event as the kernel queued it.
    struct RawEvent {
        var wd: Int32
        var mask: UInt32
        var name: String
    }

    let fd: Int32
    let root: String
    private var registry = WatchRegistry()
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    /// Set when the kernel's watch limit was reached: the tree is then only scanned periodically.
    private(set) var limitReached = false

    init(root: String) throws {
        self.root = root
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { throw AgentError.config("inotify_init1 failed: \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    static let fileMask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MODIFY | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_MOVED_FROM | IN_DELETE)

    /// Watches `relative` and every directory below it; returns the directories newly watched.
    /// Returns false when the watch limit was hit (the caller falls back to periodic scans).
    @discardableResult
    func watchTree(_ relative: String) -> Bool {
        let full = relative.isEmpty ? root : root + "/" + relative
        // Below the root, a symbolic link is never followed (nothing outside the tree is watched or
        // read): with IN_DONT_FOLLOW and IN_ONLYDIR, a link is not a directory and gets no watch.
        let wd = inotify_add_watch(fd, full, Inotify.fileMask | UInt32(IN_ONLYDIR) | (relative.isEmpty ? 0 : UInt32(IN_DONT_FOLLOW)))
        if wd < 0 {
            if errno == ENOSPC { limitReached = true; return false }
            return true  // gone already, or not a directory: nothing to watch
        }
        registry.added(wd, path: relative)
        guard let dir = opendir(full) else { return true }
        defer { closedir(dir) }
        var subdirs: [String] = []
        while let entry = readdir(dir) {
            let name = direntName(entry)
            if name.hasPrefix(".") { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) {
                subdirs.append(relative.isEmpty ? name : relative + "/" + name)
            }
        }
        for d in subdirs where !watchTree(d) { return false }
        return true
    }

    var watchCount: Int { registry.paths.count }

    /// Reads every pending event (non-blocking), unnamed: each is named by `name(_:)` just before it
    /// is handled, so that what the handling of the ones before it did to the watches counts.
    func readEvents() -> [RawEvent] {
        var out: [RawEvent] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            buffer.withUnsafeBytes { raw in
                var off = 0
                while off + 16 <= n {
                    let ev = raw.loadUnaligned(fromByteOffset: off, as: inotify_event.self)
                    let nameBytes = UnsafeRawBufferPointer(rebasing: raw[(off + 16)..<(off + 16 + Int(ev.len))])
                    out.append(RawEvent(wd: ev.wd, mask: ev.mask, name: String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)))
                    off += 16 + Int(ev.len)
                }
            }
        }
        return out
    }

    /// What `raw` means for the watcher (nil: nothing). A directory that left takes its subtree's
    /// watches with it.
    func name(_ raw: RawEvent) -> FileEvent? {
        let (event, removed) = registry.event(wd: raw.wd, mask: raw.mask, name: raw.name)
        for wd in removed { inotify_rm_watch(fd, wd) }
        return event
    }

    /// Forgets the watches of a directory that went away, and of everything below it ("" is the
    /// whole tree).
    func forget(_ relative: String) {
        for wd in registry.remove(under: relative) { inotify_rm_watch(fd, wd) }
    }

    /// The sysctl that limits watches, and its value, for the log.
    static var watchLimit: String {
        guard let f = fopen("/proc/sys/fs/inotify/max_user_watches", "r") else { return "unknown" }
        defer { fclose(f) }
        var v: Int = 0
        return fscanf_int(f, &v) ? String(v) : "unknown"
    }
}

private func fscanf_int(_ f: UnsafeMutablePointer<FILE>, _ v: inout Int) -> Bool {
    var buf = [CChar](repeating: 0, count: 32)
    guard fgets(&buf, 32, f) != nil else { return false }
    let s = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard let n = Int(s.filter(\.isNumber)) else { return false }
    v = n
    return true
}
