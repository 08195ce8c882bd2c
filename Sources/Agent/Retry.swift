import Buffer
import Extract

/// What `retry` did with a rejected or superseded file.
public enum RetryOutcome: Sendable, Equatable {
    /// Its rows were still staged: it is back in line, and the next `resume`, flush or watch round
    /// forwards it.
    case requeued
    /// It never staged (bad input), and `path` is no longer in the extract: nothing was read.
    case goneFromExtract(path: String)
    /// It never staged; `path` was read again and staged as the new file version `id`.
    case restaged(path: String, id: Int64, rows: Int)
    /// It never staged; `path` was read again and rejected again, as the file version `id`.
    case rejectedAgain(path: String, id: Int64, error: ExtractError)
    /// It never staged; reading `path` again found nothing to stage (unchanged, no data, or still
    /// changing).
    case notStaged(path: String, StageResult)
}

/// `retry` and `release`: the two commands that change a file's state in the ledger by hand.
/// They run with the buffer's lock (`BufferLock.Command.retry`, `.release`) and never touch the
/// LMS-DS: the next `resume`, flush or watch round does the forwarding.
extension LMSAgent {
    /// Puts a rejected (or superseded) file back in line. A file whose rows are staged is queued
    /// again as it is; one that never staged (its input was bad) is read again from the extract,
    /// where it may have been fixed meanwhile. The buffer refuses (`BufferError.notRetryable`) a
    /// file that is not the newest of its path or scope.
    public func retry(id: Int64) throws -> RetryOutcome {
        switch try buffer.retry(id: id) {
        case .pending:
            return .requeued
        case .needsRestage(let f):
            guard let st = Scanner.fileStat(root + "/" + f.path) else { return .goneFromExtract(path: f.path) }
            let candidate = Candidate(relativePath: f.path, classification: buffer.registry.classify(f.path),
                                      size: st.size, mtimeNs: st.mtimeNs)
            let result = try Stager(root: root, buffer: buffer, logger: logger).stage(candidate)
            switch result {
            case .staged(let newId, let rows): return .restaged(path: f.path, id: newId, rows: rows)
            case .rejected(let newId, let error): return .rejectedAgain(path: f.path, id: newId, error: error)
            default: return .notStaged(path: f.path, result)
            }
        }
    }

    /// Releases a file the mass-delete guard holds: the next `resume`, flush or watch round applies
    /// it, deletions included. Returns the released file. The buffer refuses
    /// (`BufferError.notReleasable`) a file that is not held, or whose scope has a newer snapshot
    /// applied already.
    public func release(id: Int64) throws -> LedgerFile {
        try buffer.release(id: id)
    }
}
