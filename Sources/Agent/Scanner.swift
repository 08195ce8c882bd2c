import Extract
import Glibc

/// A file found in the extract tree.
public struct Candidate: Sendable, Equatable {
    /// The path relative to the extract root.
    public var relativePath: String
    /// What the registry makes of the path.
    public var classification: PathClassification
    /// The size when scanned.
    public var size: Int64
    /// The modification time when scanned, in nanoseconds since 1970.
    public var mtimeNs: Int64

    /// A found file.
    public init(relativePath: String, classification: PathClassification, size: Int64, mtimeNs: Int64) {
        self.relativePath = relativePath
        self.classification = classification
        self.size = size
        self.mtimeNs = mtimeNs
    }
}

extension Candidate {
    /// What a list of candidates keeps in place of one it has finished with.
    static let released = Candidate(relativePath: "", classification: .ignored("released"), size: 0, mtimeNs: 0)
}

/// An entry of the extract tree that is never read, and why.
public struct SkippedEntry: Sendable, Equatable, CustomStringConvertible {
    /// The entry, relative to the extract root.
    public var relativePath: String
    /// Why it is never read (`a symbolic link`, `a FIFO`, ...).
    public var reason: String
    /// `path: reason`, as `flush` warns.
    public var description: String { "\(relativePath): \(reason)" }
}

/// Walks the extract tree and classifies every regular file.
///
/// Only regular files and real directories are visited. Hidden entries are skipped silently.
/// Symbolic links are never followed, to files or to folders, whether they point inside the
/// extract or outside it: a link out of the tree would make the agent read (and load into the
/// LMS-DS) whatever it points at, a link inside it names a file that is already loaded under its
/// own path (and a link `latest.csv` would sort after every snapshot of its folder), and a link's
/// target can change between the check and the read. FIFOs, sockets and devices are never opened
/// (opening a FIFO blocks until some process writes to it). Both are reported as skipped, with
/// the reason, so that `flush` can warn about them. Directories deeper than the extract layout's
/// deepest folder (`section=/assignment=/submissions/`) are not entered: nothing there is loaded.
public enum Scanner {
    /// What one walk found.
    public struct Result: Sendable, Equatable {
        /// The regular files, classified.
        public var files: [Candidate] = []
        /// The entries never read, with why.
        public var skipped: [SkippedEntry] = []
    }

    /// Every file under `root`, or only under its folder `under` (a path relative to the root),
    /// classified by `registry`'s folders.
    public static func scan(root: String, under: String = "", registry: ResourceRegistry = .standard) throws -> [Candidate] {
        try walk(root: root, under: under, registry: registry).files
    }

    /// Every file under `root` (or its folder `under`), and the entries that were skipped. Folders
    /// deeper than the registry's deepest one are not entered.
    public static func walk(root: String, under: String = "", registry: ResourceRegistry = .standard) throws -> Result {
        var st = stat()
        guard stat(root, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw AgentError.config("the extract directory \(root) does not exist or is not a directory")
        }
        var result = Result()
        if !under.isEmpty {
            // A folder named by an event must itself be a real folder of the tree, not a link.
            var lst = stat()
            guard lstat(root + "/" + under, &lst) == 0 else { return result }
            guard (lst.st_mode & S_IFMT) == S_IFDIR else {
                if (lst.st_mode & S_IFMT) == S_IFLNK { result.skipped.append(skippedLink(root: root, relative: under)) }
                return result
            }
        }
        walk(root: root, relative: under, registry: registry, into: &result)
        result.files.sort { $0.relativePath < $1.relativePath }
        result.skipped.sort { $0.relativePath < $1.relativePath }
        return result
    }

    private static func walk(root: String, relative: String, registry: ResourceRegistry, into result: inout Result) {
        let dirPath = relative.isEmpty ? root : root + "/" + relative
        guard let dir = opendir(dirPath) else { return }
        defer { closedir(dir) }
        let depth = relative.isEmpty ? 0 : relative.split(separator: "/").count
        while let entry = readdir(dir) {
            let name = direntName(entry)
            if name.hasPrefix(".") { continue }
            let rel = relative.isEmpty ? name : relative + "/" + name
            var lst = stat()
            guard lstat(root + "/" + rel, &lst) == 0 else { continue }
            switch lst.st_mode & S_IFMT {
            case S_IFDIR:
                if depth < registry.maxFolderDepth { walk(root: root, relative: rel, registry: registry, into: &result) }
            case S_IFREG:
                result.files.append(Candidate(relativePath: rel, classification: registry.classify(rel), size: Int64(lst.st_size),
                                              mtimeNs: Int64(lst.st_mtim.tv_sec) * 1_000_000_000 + Int64(lst.st_mtim.tv_nsec)))
            case S_IFLNK:
                result.skipped.append(skippedLink(root: root, relative: rel))
            default:
                result.skipped.append(SkippedEntry(relativePath: rel, reason: "\(FileChunkReader.kind(of: lst.st_mode)), not a regular file: never opened"))
            }
        }
    }

    /// Why a link is skipped, saying where it points (resolving the name, never reading the target).
    private static func skippedLink(root: String, relative: String) -> SkippedEntry {
        let full = root + "/" + relative
        var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(full, &target, target.count - 1)
        let text = n >= 0 ? String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        let shown = quotedForMessage(text, limit: 200)
        let reason: String
        if let resolved = realPath(full) {
            let base = realPath(root) ?? root
            if resolved == base || resolved.hasPrefix(base + "/") {
                reason = "a symbolic link to \(shown), inside the extract: links are never followed (the target is loaded under its own path)"
            } else {
                reason = "a symbolic link to \(shown), outside the extract: never followed, nothing outside the extract directory is read"
            }
        } else {
            reason = "a symbolic link to \(shown) that does not resolve (dangling, or a loop): never followed"
        }
        return SkippedEntry(relativePath: relative, reason: reason)
    }

    private static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// Size and modification time of a regular file now, or nil when it is gone or is not a
    /// regular file (a link or a FIFO put in its place is not read: see `Scanner`).
    public static func fileStat(_ path: String) -> (size: Int64, mtimeNs: Int64)? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return (Int64(st.st_size), Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }
}

/// The agent's own errors: a configuration that cannot work (exit 1), or bad usage (exit 64).
public enum AgentError: Error, CustomStringConvertible {
    /// A fault found before any work starts: a missing extract folder, a target that is not one, a
    /// buffer bound to another target, a lock that cannot be taken.
    case config(String)
    /// A value the command line (or its environment) got wrong: bad usage, exit 64.
    case usage(String)
    /// The message.
    public var description: String {
        switch self {
        case .config(let m), .usage(let m): return m
        }
    }
}

/// A directory entry's name, read in place up to its NUL. A record `readdir` returns is only as long
/// as its name: copying the whole 256-byte `d_name` (`withUnsafeBytes(of: entry.pointee.d_name)`)
/// reads past it, and crashed when the record ended a mapped page (a busy /proc).
func direntName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    let name = UnsafeRawPointer(entry) + MemoryLayout<dirent>.offset(of: \dirent.d_name)!
    return String(decoding: UnsafeRawBufferPointer(start: name, count: strlen(name.assumingMemoryBound(to: CChar.self))), as: UTF8.self)
}
