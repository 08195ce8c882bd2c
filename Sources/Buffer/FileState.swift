import Extract

/// The life of one version of one file, as the ledger records it.
///
/// ```
/// seen -> staged -> forwarded
///            |  \-> waiting   (some rows wait for parents; retried every round)
///            |  \-> rejected  (the LMS-DS refused it; kept with the error, retried by `retry`)
///            \----> superseded (a newer snapshot of the same scope was applied first)
/// seen -> rejected (bad input: file, line, column) | ignored (4 bytes or less: "no data")
/// ```
public enum FileState: String, CaseIterable, Sendable, Codable {
    case staged, waiting, forwarded, rejected, superseded, ignored

    /// Still has work for the forwarder.
    public var isPending: Bool { self == .staged || self == .waiting }
}

/// One row of the ledger: one version (path + checksum) of one file.
public struct LedgerFile: Sendable, Codable, Equatable {
    public var id: Int64
    public var path: String
    public var sha256: String
    public var resource: Resource?
    public var scope: Scope
    public var snapshot: String
    public var size: Int64
    public var mtimeNs: Int64
    public var rowCount: Int
    public var waitingRows: Int
    public var sourceSystems: [String]
    /// Names of the schema columns the file's header had.
    public var presentColumns: [String]
    public var state: FileState
    public var attempts: Int
    public var lastError: String?
    public var errorLine: Int?
    public var errorColumn: String?
    public var warnings: String?
    public var firstSeenAt: String
    public var stagedAt: String?
    public var forwardedAt: String?
    public var updatedAt: String

    /// The file as the extract classifies it (nil for ledger rows of unclassifiable paths).
    public var extractFile: ExtractFile? {
        resource.map { ExtractFile(relativePath: path, resource: $0, scope: scope, snapshot: snapshot) }
    }
}
