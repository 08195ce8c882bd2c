import Buffer
import Extract

// The ledger's and the extract's types as the commands name them: a command imports `Agent` alone.
// They stay declared where they belong (Buffer, Extract); these are the same types under one roof.

/// A file version in the buffer's ledger.
public typealias LedgerFile = Buffer::LedgerFile
/// Where a file version is in its life: seen, staged, waiting, forwarded, rejected, held, superseded...
public typealias FileState = Buffer::FileState
/// A row staged in the buffer, with its line in the file.
public typealias StagedRow = Buffer::StagedRow
/// One entry of the buffer's error log.
public typealias ErrorEntry = Buffer::ErrorEntry
/// One of the LMS-DS resources an extract holds (users, sections, ...).
public typealias Resource = Extract::Resource
/// What the agent knows of a resource (its columns, table, folder, ...).
public typealias ResourceSchema = Extract::ResourceSchema

/// A file whose rows wait for their parents, with the first of those rows.
public struct WaitingFile: Sendable {
    /// The file version; `waitingRows` counts all its waiting rows.
    public var file: LedgerFile
    /// Its first waiting rows, in line order (as many as asked for).
    public var rows: [StagedRow]
}

/// The read-only queries behind `inspect`: what the buffer has seen, staged, forwarded, rejected or
/// keeps waiting, and why. They read the buffer only (no lock, no LMS-DS).
extension LMSAgent {
    /// Every file version in the ledger, in id order; only those in `state` when it is given.
    public func files(in state: FileState? = nil) throws -> [LedgerFile] {
        let all = try buffer.files()
        guard let state else { return all }
        return all.filter { $0.state == state }
    }

    /// The file version with this id; throws `BufferError.noSuchFile` when the ledger has none.
    public func file(id: Int64) throws -> LedgerFile {
        guard let f = try buffer.file(id: id) else { throw BufferError.noSuchFile(id) }
        return f
    }

    /// The file version with this id and at most `limit` of its staged rows, in line order (none
    /// once a newer snapshot of its scope is applied).
    public func stagedRows(ofFile id: Int64, limit: Int) throws -> (file: LedgerFile, rows: [StagedRow]) {
        let f = try file(id: id)
        return (f, try buffer.stagedRows(of: f, limit: limit))
    }

    /// The error log, newest first, at most `limit` entries.
    public func errors(limit: Int) throws -> [ErrorEntry] {
        try buffer.lastErrors(limit: limit)
    }

    /// Every file with rows waiting for their parents, in id order, each with at most
    /// `limitPerFile` of those rows.
    public func waiting(limitPerFile: Int) throws -> [WaitingFile] {
        try buffer.waitingFiles().map { f in
            WaitingFile(file: f, rows: try buffer.stagedRows(of: f, waitingOnly: true, limit: limitPerFile))
        }
    }
}
