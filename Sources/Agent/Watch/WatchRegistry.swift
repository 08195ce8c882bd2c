import Glibc

/// What inotify reported, reduced to what the watcher acts on (paths relative to the root).
enum FileEvent: Equatable {
    /// IN_CLOSE_WRITE: a file was closed after writing.
    case fileClosed(String)
    /// IN_MOVED_TO: a file was moved into place.
    case fileMovedIn(String)
    /// IN_MODIFY or IN_CREATE: a file is being written.
    case fileWritten(String)
    /// A directory appeared (created or moved in).
    case directoryAdded(String)
    /// A watched directory went away (deleted or moved out).
    case directoryRemoved(String)
    /// IN_Q_OVERFLOW: the kernel dropped events.
    case overflow
}

/// inotify's watch descriptors and the paths they were added under, and the naming of raw events.
/// Pure bookkeeping (`Inotify` makes the system calls), shared with the model test's simulated kernel.
///
/// A watch belongs to a directory, not to a name: once a directory is renamed or moved away, its
/// watch and those below it report under a name that is stale. So a directory that leaves takes
/// its whole subtree's watches with it at once, and later events from them are dropped; the
/// watcher then watches and scans the paths concerned afresh (see `WatchStateMachine`).
struct WatchRegistry: Equatable {
    /// Watch descriptor -> the path it was added under ("" is the root).
    private(set) var paths: [Int32: String] = [:]

    /// A watch was added (or inotify_add_watch returned an existing one: it takes the new name).
    mutating func added(_ wd: Int32, path: String) { paths[wd] = path }

    /// Forgets the watches of `directory` and below ("" is the whole tree); returns them, for
    /// inotify_rm_watch.
    mutating func remove(under directory: String) -> [Int32] {
        let gone = paths.filter { directory.isEmpty || $0.value == directory || $0.value.hasPrefix(directory + "/") }.keys
        for wd in gone { paths[wd] = nil }
        return Array(gone)
    }

    /// Names one raw event, or nil for one to ignore. `removed` are the watches it took away (to be
    /// removed from the kernel too).
    mutating func event(wd: Int32, mask: UInt32, name: String) -> (event: FileEvent?, removed: [Int32]) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 { return (.overflow, []) }
        guard let dir = paths[wd] else { return (nil, []) }
        if mask & UInt32(IN_IGNORED) != 0 {
            paths[wd] = nil
            return (nil, [])
        }
        if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
            return (.directoryRemoved(dir), remove(under: dir))
        }
        if name.hasPrefix(".") || name.isEmpty { return (nil, []) }
        let path = dir.isEmpty ? name : dir + "/" + name
        if mask & UInt32(IN_ISDIR) != 0 {
            if mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 { return (.directoryAdded(path), []) }
            if mask & UInt32(IN_MOVED_FROM | IN_DELETE) != 0 { return (.directoryRemoved(path), remove(under: path)) }
            return (nil, [])
        }
        if mask & UInt32(IN_CLOSE_WRITE) != 0 { return (.fileClosed(path), []) }
        if mask & UInt32(IN_MOVED_TO) != 0 { return (.fileMovedIn(path), []) }
        if mask & UInt32(IN_MODIFY | IN_CREATE) != 0 { return (.fileWritten(path), []) }
        return (nil, [])
    }
}
