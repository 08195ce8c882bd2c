import Extract

/// The life of one version of one file, as the ledger records it. Every change of state goes through
/// `FileState.after(_:)`, the one list of legal moves; the buffer refuses any other.
///
/// ```
///                    ┌──────────── refused ───────────┐
///  new ─▶ staged ──applied──▶ forwarded               ▼
///   │       │  └──applied, rows wait──▶ waiting ──▶ rejected ──retried──▶ staged
///   │       ├──guard──▶ held ──released──▶ staged
///   │       └──superseded / newer version──▶ superseded   (held and waiting too)
///   ├─▶ rejected (bad input: file, line, column)
///   └─▶ ignored  (4 bytes or less: "no data")
/// ```
public enum FileState: String, CaseIterable, Sendable, Codable {
    /// Rows are in the buffer; the forwarder has not applied them yet.
    case staged
    /// Applied, except rows whose parents are not in the LMS-DS yet; those are retried every round.
    case waiting
    /// The mass-delete guard stopped it: applying it would soft-delete too much of its scope.
    case held
    /// Applied to the LMS-DS (and recorded in its `ProcessedFiles`).
    case forwarded
    /// Bad input, or the LMS-DS refused its data. Kept with its error; `retry` or a new version helps.
    case rejected
    /// Not applied, and never will be: a newer snapshot of its scope (or version of its path) won.
    case superseded
    /// Nothing to load (4 bytes or less).
    case ignored

    /// Still has work for the forwarder.
    public var isPending: Bool { FileState.pending.contains(self) }

    /// The states with work for the forwarder.
    public static let pending: [FileState] = [.staged, .waiting]

    /// The states of a file the LMS-DS holds (waiting: all but the rows whose parents are missing).
    public static let applied: [FileState] = [.forwarded, .waiting]

    /// States a new ledger row may start in.
    public static let initial: Set<FileState> = [.staged, .rejected, .ignored]

    /// The state after `event`, or nil when the move is not legal from this state.
    public func after(_ event: LedgerEvent) -> FileState? {
        switch (self, event) {
        case (.staged, .applied(let waiting)): return waiting ? .waiting : .forwarded
        case (.waiting, .waitingRowsApplied(let remaining)): return remaining ? .waiting : .forwarded
        case (.staged, .held): return .held
        case (.held, .released): return .staged
        case (.staged, .superseded), (.waiting, .superseded), (.held, .superseded): return .superseded
        case (.staged, .refused), (.waiting, .refused): return .rejected
        case (.rejected, .retried): return .staged
        default: return nil
        }
    }

    /// Every state from which `event` is legal (for set-based updates of many files).
    public static func sources(of event: LedgerEvent) -> [FileState] {
        allCases.filter { $0.after(event) != nil }
    }
}

/// What can happen to a file version after it entered the ledger.
public enum LedgerEvent: Sendable, Hashable {
    /// The LMS-DS committed the file; `waiting` when some rows lack their parents.
    case applied(waiting: Bool)
    /// Waiting rows were retried; `remaining` when some still lack parents.
    case waitingRowsApplied(remaining: Bool)
    /// The mass-delete guard stopped it.
    case held
    /// An operator released a held file.
    case released
    /// A newer snapshot of its scope, or a newer version of its path, makes it stale.
    case superseded
    /// The LMS-DS refused its data.
    case refused
    /// An operator put a rejected file back in line.
    case retried
}

/// A move the state machine does not allow (a bug, or a ledger changed under us by another process).
public struct IllegalTransition: Error, CustomStringConvertible, Sendable {
    /// The ledger row the move was asked for.
    public let fileId: Int64
    /// Its state when the move was refused (nil: no such row).
    public let state: FileState?
    /// The refused event.
    public let event: LedgerEvent
    /// The file, the event and the state it is not allowed from.
    public var description: String {
        "file \(fileId): \(event) is not allowed from state \(state?.rawValue ?? "(no such file)")"
    }
}

/// One row of the ledger: one version (path + checksum) of one file.
public struct LedgerFile: Sendable, Codable, Equatable {
    /// The ledger id, as `inspect`, `retry` and `release` name it.
    public var id: Int64
    /// The path relative to the extract root, as on disk.
    public var path: String
    /// The SHA-256 of the bytes read (with `path`, the version's key), or `unreadableChecksum`.
    public var sha256: String
    /// What the file holds; nil for a ledger row of a path no resource claims.
    public var resource: Resource?
    /// The part of the LMS-DS a snapshot of this file replaces.
    public var scope: Scope
    /// The file name: snapshots of a scope are applied in this order, never an older one over a newer.
    public var snapshot: String
    /// The size when read; with `mtimeNs`, lets an unchanged file be skipped without reading it again.
    public var size: Int64
    /// The modification time when read, in nanoseconds since 1970.
    public var mtimeNs: Int64
    /// Rows in the file (upstream's `ProcessedFiles.NumberOfRows`).
    public var rowCount: Int
    /// Rows that wait for their parents (or, for attendance, their enrollment) to reach the LMS-DS.
    public var waitingRows: Int
    /// The `SourceSystem` values of the file's rows: whose rows a snapshot may soft-delete.
    public var sourceSystems: [String]
    /// Names of the schema columns the file's header had.
    public var presentColumns: [String]
    /// Where the version is in its life.
    public var state: FileState
    /// Forwarding attempts so far, failed ones included (shown by `inspect`).
    public var attempts: Int
    /// Why it was rejected, held or superseded, or the last forwarding failure; cleared when it is
    /// applied, released or retried.
    public var lastError: String?
    /// The line of a bad-input error.
    public var errorLine: Int?
    /// The column of a bad-input error.
    public var errorColumn: String?
    /// What staging dropped without rejecting the file (rows with a repeated natural key: the last one
    /// wins), one line each.
    public var warnings: String?
    /// When the version entered the ledger (UTC, canonical form).
    public var firstSeenAt: String
    /// When its rows were staged.
    public var stagedAt: String?
    /// When the LMS-DS first committed it.
    public var forwardedAt: String?
    /// When its ledger row last changed.
    public var updatedAt: String
    /// An operator released it from the mass-delete guard: it is applied whatever it deletes.
    public var guardReleased: Bool = false

    /// The file as the extract classifies it (nil for ledger rows of unclassifiable paths).
    public var extractFile: ExtractFile? {
        resource.map { ExtractFile(relativePath: path, resource: $0, scope: scope, snapshot: snapshot) }
    }

    /// Staging could not read it (permission, I/O): it is tried again on every pass.
    public var isUnreadable: Bool { sha256 == LedgerFile.unreadableChecksum }

    /// The checksum recorded for a file that could not be read at all.
    public static let unreadableChecksum = "unreadable"
}
