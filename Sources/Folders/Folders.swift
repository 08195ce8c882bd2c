import Glibc

/// `mkdir -p`, the one way the agent and its tools create folders.
public enum Folders {
    /// Creates `path` and every missing folder above it, each with `mode` given to mkdir itself (so a
    /// folder never exists, even for a moment, with a wider mode, as it would after mkdir 0777 and a
    /// chmod; the umask still applies). A folder that exists already is left as it is.
    public static func make(_ path: String, mode: mode_t) throws(FolderError) {
        if path.isEmpty || path == "/" || path == "." { return }
        if mkdir(path, mode) == 0 { return }
        let error = errno
        if error == EEXIST { return }
        guard error == ENOENT, let parent = parent(of: path) else { throw FolderError(folder: path, errno: error) }
        try make(parent, mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST { throw FolderError(folder: path, errno: errno) }
    }

    /// Creates the missing folders above the file `path`.
    public static func makeParent(of path: String, mode: mode_t) throws(FolderError) {
        guard let parent = parent(of: path) else { return }
        try make(parent, mode: mode)
    }

    private static func parent(of path: String) -> String? {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return nil }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }
}

/// A folder that could not be created, and why (strerror).
public struct FolderError: Error, CustomStringConvertible {
    /// The folder whose `mkdir` failed: the one asked for, or a missing folder above it.
    public let folder: String
    /// Why, in the operating system's words (`strerror`).
    public let reason: String

    init(folder: String, errno code: Int32) {
        self.folder = folder
        reason = String(cString: strerror(code))
    }

    /// `cannot create folder <folder>: <reason>`.
    public var description: String { "cannot create folder \(folder): \(reason)" }
}
