import SQLiteDB

/// What the buffer refuses or cannot do, in words for the operator.
public enum BufferError: Error, CustomStringConvertible {
    /// The buffer belongs to another extract directory (`recorded`) than the one named (`requested`).
    case otherExtract(buffer: String, recorded: String, requested: String)
    /// No ledger row has this id.
    case noSuchFile(Int64)
    /// `retry` refused this file, and why (not rejected, superseded, or no longer the newest version).
    case notRetryable(Int64, String)
    /// `release` refused this file, and why (not held, or a newer snapshot of its scope is applied).
    case notReleasable(Int64, String)
    /// The buffer could not be read while rows were streamed to the LMS-DS.
    case read(path: String, String)
    /// The buffer cannot be used: missing where a read-only command needs it, a corrupt one that cannot
    /// be moved aside, or rows of a resource this agent's registry does not hold.
    case io(String)

    /// The message the operator sees.
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
