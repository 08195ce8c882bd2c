import SQLiteDB

/// What the buffer refuses or cannot do, in words for the operator.
public enum BufferError: Error, CustomStringConvertible {
    case otherExtract(buffer: String, recorded: String, requested: String)
    case noSuchFile(Int64)
    case notRetryable(Int64, String)
    case notReleasable(Int64, String)
    /// The buffer could not be read while rows were streamed to the LMS-DS.
    case read(path: String, String)
    case io(String)

    public var description: String {
        switch self {
        case .otherExtract(let b, let rec, let req):
            return "the buffer \(b) belongs to the extract \(rec), not \(req); name another one with --buffer"
        case .noSuchFile(let id): return "no file with id \(id) in the buffer"
        case .notRetryable(let id, let why): return "file \(id) cannot be retried: \(why)"
        case .notReleasable(let id, let why): return "file \(id) cannot be released: \(why)"
        case .read(let path, let why): return "cannot read the buffer \(path): \(why)"
        case .io(let m): return m
        }
    }
}

extension Buffer {
    /// When `error` is a fault of the buffer's environment (disk full, I/O, permission, locked),
    /// the reason; nil for anything else.
    public static func environmentFault(_ error: any Error) -> String? {
        if let e = error as? SQLiteError { return e.fault == .data ? nil : e.message }
        if case BufferError.read(_, let why) = error { return why }
        return nil
    }
}
