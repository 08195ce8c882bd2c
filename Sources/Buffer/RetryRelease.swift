import Extract
import SQLiteDB

/// The operator's two ways to put a stopped file back in line: `retry` (a rejected file) and
/// `release` (a file the mass-delete guard holds).
extension Buffer {
    /// An operator releases a held file: the next pass applies it, whatever it deletes.
    public func release(id: Int64) throws -> LedgerFile {
        guard let f = try file(id: id) else { throw BufferError.noSuchFile(id) }
        guard f.state == .held else {
            throw BufferError.notReleasable(id, "its state is \(f.state.rawValue); only a held file can be released")
        }
        if let newer = try newerApplied(than: f) {
            throw BufferError.notReleasable(id, "the newer snapshot \(newer.path) (file \(newer.id)) of its scope is already applied; applying this one would roll the scope back")
        }
        try db.transaction {
            _ = try transition(id, .released, set: [("guard_released", .integer(1)), ("last_error", .null)])
        }
        return try file(id: id) ?? f
    }

    /// What `retry(id:)` did with a rejected file.
    public enum RetryResult: Sendable, Equatable {
        /// Rows are staged: the next `resume` or `flush` forwards the file.
        case pending
        /// The file never staged (bad input): it must be read again from the extract.
        case needsRestage(LedgerFile)
    }

    /// Puts a rejected file back in line.
    ///
    /// Refused for a superseded file (its rows were dropped when a newer snapshot won; applying it
    /// would roll its scope back, or, with no rows, soft-delete the whole scope) and for a rejected
    /// version that is no longer the newest: of its path, or of its scope in the LMS-DS.
    public func retry(id: Int64) throws -> RetryResult {
        guard let f = try file(id: id) else { throw BufferError.noSuchFile(id) }
        guard f.resource != nil else { throw BufferError.notRetryable(id, "it is not an LMS-DS file") }
        switch f.state {
        case .rejected:
            if let newer = try newerVersion(than: f) {
                throw BufferError.notRetryable(id, "\(f.path) has a newer version in the buffer (file \(newer.id), \(newer.state.rawValue)); the file on disk is that one")
            }
            if let newer = try newerApplied(than: f) {
                throw BufferError.notRetryable(id, "the newer snapshot \(newer.path) (file \(newer.id)) of its scope is already applied; applying this one would roll the scope back")
            }
            if f.stagedAt == nil || f.isUnreadable {
                // Bad input: forget this version so that the next scan reads the file again.
                try db.transaction { try forget(id) }
                return .needsRestage(f)
            }
            if try f.rowCount > 0 && !hasStagedRows(f) {
                throw BufferError.notRetryable(id, "its staged rows are gone; change the file (a new version is staged) or run flush")
            }
            try db.transaction { _ = try transition(id, .retried, set: [("last_error", .null)]) }
            return .pending
        case .superseded:
            throw BufferError.notRetryable(id, "it was superseded (\(f.lastError ?? "a newer snapshot of its scope won")); a superseded snapshot is never applied over a newer one. If the newer data is wrong, correct the extract: a changed file is staged as a new version")
        case .held:
            throw BufferError.notRetryable(id, "it is held by the mass-delete guard; `lms-agent release \(id)` applies it")
        default:
            throw BufferError.notRetryable(id, "its state is \(f.state.rawValue); only a rejected file can be retried")
        }
    }
}
