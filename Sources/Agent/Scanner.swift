import Extract
import Glibc

/// A file found in the extract tree.
public struct Candidate: Sendable, Equatable {
    public var relativePath: String
    public var classification: PathClassification
    public var size: Int64
    public var mtimeNs: Int64

    public init(relativePath: String, classification: PathClassification, size: Int64, mtimeNs: Int64) {
        self.relativePath = relativePath
        self.classification = classification
        self.size = size
        self.mtimeNs = mtimeNs
    }
}

/// Walks the extract tree and classifies every regular file. Hidden entries are skipped;
/// symbolic links are followed to files but not to directories (no cycles).
public enum Scanner {
    /// Every file under `root`, or only under its folder `under` (a path relative to the root).
    public static func scan(root: String, under: String = "") throws -> [Candidate] {
        var out: [Candidate] = []
        var st = stat()
        guard stat(root, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw AgentError.config("the extract directory \(root) does not exist or is not a directory")
        }
        try walk(root: root, relative: under, into: &out)
        return out.sorted { $0.relativePath < $1.relativePath }
    }

    private static func walk(root: String, relative: String, into out: inout [Candidate]) throws {
        let dirPath = relative.isEmpty ? root : root + "/" + relative
        guard let dir = opendir(dirPath) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            let rel = relative.isEmpty ? name : relative + "/" + name
            var lst = stat()
            guard lstat(root + "/" + rel, &lst) == 0 else { continue }
            let kind = lst.st_mode & S_IFMT
            if kind == S_IFDIR {
                try walk(root: root, relative: rel, into: &out)
            } else if kind == S_IFREG || kind == S_IFLNK {
                var st = stat()
                guard stat(root + "/" + rel, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                out.append(Candidate(relativePath: rel, classification: ExtractPath.classify(rel), size: Int64(st.st_size),
                                     mtimeNs: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)))
            }
        }
    }

    /// Size and modification time of a file now, or nil when it is gone.
    public static func fileStat(_ path: String) -> (size: Int64, mtimeNs: Int64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (Int64(st.st_size), Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }
}

public enum AgentError: Error, CustomStringConvertible {
    case config(String)
    public var description: String {
        switch self { case .config(let m): return m }
    }
}
