import Buffer
import Extract
import Logging

/// What staging one candidate did.
public enum StageResult: Sendable, Equatable {
    case staged(id: Int64, rows: Int)
    case unchanged
    case rejected(id: Int64, error: ExtractError)
    case ignored(reason: String)
    /// The file kept changing while it was read; it is left for a later pass.
    case changing
}

/// Reads extract files into the buffer: streams, validates, checksums, stages in one transaction.
public struct Stager {
    public let root: String
    public let buffer: Buffer
    public let logger: Logger

    public init(root: String, buffer: Buffer, logger: Logger) {
        self.root = root
        self.buffer = buffer
        self.logger = logger
    }

    struct FileChanged: Error {}

    /// Upstream ignores files of 4 bytes or less: extractors write a lone newline for "no data".
    static let noDataSize: Int64 = 4

    public func stage(_ candidate: Candidate) throws -> StageResult {
        guard case .file(let file) = candidate.classification else {
            if case .ignored(let why) = candidate.classification { return .ignored(reason: why) }
            return .ignored(reason: "not an LMS-DS file")
        }
        let full = root + "/" + candidate.relativePath
        // Fast path: this exact size and mtime were already read.
        if let latest = try buffer.latestVersion(of: candidate.relativePath),
           latest.size == candidate.size, latest.mtimeNs == candidate.mtimeNs {
            return .unchanged
        }
        for _ in 0..<3 {
            guard let before = Scanner.fileStat(full) else { return .ignored(reason: "the file disappeared") }
            if before.size <= Stager.noDataSize {
                let sha = try Stager.checksum(of: full)
                try buffer.record(candidate.relativePath, file: file, sha256: sha, size: before.size, mtimeNs: before.mtimeNs,
                                  state: .ignored, error: nil, reason: "\(before.size) bytes: no data (extractors write this for an empty resource)")
                return .ignored(reason: "no data")
            }
            do {
                let outcome = try buffer.stage(file, size: before.size, mtimeNs: before.mtimeNs) { sink in
                    let source = try FileChunkReader(path: full)
                    var reader = try ResourceFileReader(source: source, path: candidate.relativePath, schema: file.resource.schema)
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
            } catch let error as ExtractError {
                let sha = try Stager.checksum(of: full)
                guard let after = Scanner.fileStat(full), after == before else { continue }
                let id = try buffer.record(candidate.relativePath, file: file, sha256: sha, size: after.size, mtimeNs: after.mtimeNs,
                                           state: .rejected, error: error)
                return .rejected(id: id, error: error)
            }
        }
        return .changing
    }

    /// SHA-256 of a whole file, streamed.
    static func checksum(of path: String) throws -> String {
        let r = try FileChunkReader(path: path)
        while try r.nextChunk({ _ in }) {}
        return r.finalizeChecksum()
    }
}
