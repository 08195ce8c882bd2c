import Buffer
import Extract
import Logging

/// What staging one candidate did.
public enum StageResult: Sendable, Equatable {
    /// A new version is staged with this ledger id and row count.
    case staged(id: Int64, rows: Int)
    /// The ledger already has this version.
    case unchanged
    /// Bad input: recorded as rejected with this ledger id, and where in the file.
    case rejected(id: Int64, error: ExtractError)
    /// Not loaded: no LMS-DS file, 4 bytes or less, or gone before it was read.
    case ignored(reason: String)
    /// The file kept changing while it was read; it is left for a later pass.
    case changing
}

/// Reads extract files into the buffer: streams, validates, checksums, stages in one transaction.
public struct Stager {
    /// The absolute extract root; files are opened beneath it, never through a link.
    public let root: String
    /// The buffer the rows go into.
    public let buffer: Buffer
    /// Where staging logs.
    public let logger: Logger

    /// A stager of `root`'s files into `buffer`.
    public init(root: String, buffer: Buffer, logger: Logger) {
        self.root = root
        self.buffer = buffer
        self.logger = logger
    }

    struct FileChanged: Error {}

    /// Runs between the stat that decides how a file is read and the read itself: a test's window
    /// onto the race with an extractor that rewrites the file in place.
    var beforeRead: (@Sendable (String) -> Void)? = nil

    /// Upstream ignores files of 4 bytes or less: extractors write a lone newline for "no data".
    static let noDataSize: Int64 = 4

    /// Stages one file in one buffer transaction. A readable file whose size and modification time
    /// match its latest version is not read again; a file that changes while it is read is left for later
    /// (`.changing`).
    public func stage(_ candidate: Candidate) throws -> StageResult {
        guard case .file(let file) = candidate.classification else {
            if case .ignored(let why) = candidate.classification { return .ignored(reason: why) }
            return .ignored(reason: "not an LMS-DS file")
        }
        let full = root + "/" + candidate.relativePath
        // Fast path: this exact size and mtime were already read (a file that could not be read at
        // all is tried again every time: its permission may have been fixed).
        if let latest = try buffer.latestVersion(of: candidate.relativePath), !latest.isUnreadable,
           latest.size == candidate.size, latest.mtimeNs == candidate.mtimeNs {
            return .unchanged
        }
        logger.debug("stage: \(candidate.relativePath)")
        // The file's reader in the last attempt, kept for the checksum of a file refused half-way.
        var opened: FileChunkReader? = nil
        for _ in 0..<3 {
            guard let before = Scanner.fileStat(full) else { return .ignored(reason: "the file disappeared") }
            beforeRead?(full)
            do {
                if before.size <= Stager.noDataSize, let result = try stageNoData(candidate, file, full: full, before: before) {
                    return result
                }
                opened = nil
                let outcome = try buffer.stage(file, size: before.size, mtimeNs: before.mtimeNs) { sink in
                    let source = try FileChunkReader(beneath: root, relativePath: candidate.relativePath)
                    opened = source
                    var reader = try ResourceFileReader(source: source, path: candidate.relativePath, schema: try buffer.schema(of: file.resource))
                    while let row = try reader.next() { try sink.append(row) }
                    let sha = source.finalizeChecksum()
                    // The checksum covers exactly the bytes parsed; a file rewritten meanwhile is read again.
                    guard let after = Scanner.fileStat(full), after == before, Int64(source.bytesRead) == after.size else {
                        throw FileChanged()
                    }
                    return StagedContent(sha256: sha, present: reader.present, rowCount: reader.rowCount)
                }
                switch outcome {
                case .unchanged: return .unchanged
                case .staged(let id, let rows, let warnings):
                    for w in warnings { logger.warning("\(w)") }
                    return .staged(id: id, rows: rows)
                }
            } catch is FileChanged {
                continue
            } catch let error as ExtractError where error.isUnreadable {
                // Not the file's content: it cannot be opened or read (permission, I/O). It is held
                // back with its path and reason, the rest of the extract goes on, and the next pass
                // tries it again.
                let named = ExtractError(path: candidate.relativePath, message: error.message, isUnreadable: true)
                let id = try buffer.record(candidate.relativePath, file: file, sha256: LedgerFile.unreadableChecksum,
                                           size: before.size, mtimeNs: before.mtimeNs, state: .rejected, error: named)
                return .rejected(id: id, error: named)
            } catch let error as ExtractError {
                // Bad content: recorded with the checksum of the content that was refused, so that
                // the same content is not read again, and a corrected file is. The reader that found
                // the error reads on to the end: the file is read once, and the checksum covers it all.
                guard let source = opened, (try? Stager.drain(source)) != nil, let after = Scanner.fileStat(full), after == before,
                      Int64(source.bytesRead) == after.size else { continue }
                let sha = source.finalizeChecksum()
                let id = try buffer.record(candidate.relativePath, file: file, sha256: sha, size: after.size, mtimeNs: after.mtimeNs,
                                           state: .rejected, error: error)
                return .rejected(id: id, error: error)
            }
        }
        return .changing
    }

    /// A file of 4 bytes or less is "no data" (upstream ignores it). Its bytes are read once and the
    /// checksum covers exactly those bytes; if the file grew or changed meanwhile (an extractor that
    /// truncates and rewrites in place), nil: it is staged as an ordinary file instead, or read again.
    private func stageNoData(_ candidate: Candidate, _ file: ExtractFile, full: String,
                             before: (size: Int64, mtimeNs: Int64)) throws -> StageResult? {
        let source = try FileChunkReader(beneath: root, relativePath: candidate.relativePath, chunkSize: 4096)
        var bytes = 0
        while try source.nextChunk({ bytes += $0.count }) {
            if bytes > Stager.noDataSize { return nil }
        }
        guard let after = Scanner.fileStat(full), after == before, Int64(bytes) == after.size else { throw FileChanged() }
        try buffer.record(candidate.relativePath, file: file, sha256: source.finalizeChecksum(), size: after.size, mtimeNs: after.mtimeNs,
                          state: .ignored, error: nil, reason: "\(after.size) bytes: no data (extractors write this for an empty resource)")
        return .ignored(reason: "no data")
    }

    /// Reads the rest of a file through its reader (for the checksum of all of it).
    static func drain(_ source: FileChunkReader) throws {
        while try source.nextChunk({ _ in }) {}
    }
}
