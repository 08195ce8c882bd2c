import Extract

/// One file's worth of work for a target LMS-DS.
public struct ApplyRequest: Sendable {
    /// What applying the file does.
    public enum Mode: Sendable, Equatable {
        /// A whole snapshot: merge, soft-delete what its scope no longer has, record in ProcessedFiles.
        case snapshot
        /// Only rows that waited for their parents: insert or update them, nothing else.
        case waitingRows
    }

    /// The resource's schema (from the agent's registry): the merge is generated from it.
    public var schema: ResourceSchema
    /// A whole snapshot, or only the rows that waited for their parents.
    public var mode: Mode
    /// `ProcessedFiles.FullPath`: the absolute path as upstream spells it.
    public var fullPath: String
    /// The SHA-256 of the file's bytes, recorded in `ProcessedFiles.Checksum`.
    public var checksum: String
    /// Rows in the file (upstream's `NumberOfRows`), whatever the merge did with them.
    public var rowCount: Int
    /// The scope the file's folder names: what a snapshot's soft delete is limited to.
    public var scope: Scope
    /// Schema columns the file's header had; absent columns are left untouched on update.
    public var presentColumns: Set<String>
    /// Source systems whose rows this snapshot may soft-delete (empty: it deletes nothing).
    public var deleteSourceSystems: [String]
    /// For `previousSnapshot` scopes: the natural keys the previous snapshot had and this one lacks.
    public var droppedKeys: [NaturalKey]
    /// The mass-delete guard for this file (nil: it may delete anything, e.g. released by an operator).
    public var deleteGuard: DeleteGuard?
    /// A delta snapshot: the rows are only those that differ from the scope's previous applied
    /// snapshot (or waited for parents in it), and `droppedKeys` are the keys it lost. The soft
    /// delete then touches only those keys' rows (still limited to the file's scope) instead of
    /// comparing the whole scope; the LMS-DS ends the same as after the whole snapshot's merge.
    public var delta: Bool

    /// A request; `droppedKeys` and `deleteGuard` default to none, `delta` to a whole snapshot.
    public init(schema: ResourceSchema, mode: Mode, fullPath: String, checksum: String, rowCount: Int, scope: Scope,
                presentColumns: Set<String>, deleteSourceSystems: [String], droppedKeys: [NaturalKey] = [],
                deleteGuard: DeleteGuard? = nil, delta: Bool = false) {
        self.schema = schema
        self.mode = mode
        self.fullPath = fullPath
        self.checksum = checksum
        self.rowCount = rowCount
        self.scope = scope
        self.presentColumns = presentColumns
        self.deleteSourceSystems = deleteSourceSystems
        self.droppedKeys = droppedKeys
        self.deleteGuard = deleteGuard
        self.delta = delta
    }

    /// Whether the snapshot's soft delete is driven by `droppedKeys` rather than by its whole scope.
    var deletesByKeys: Bool { delta || schema.deleteScope == .previousSnapshot }
}

/// The mass-delete guard: an extractor that fails half-way can write a users file with 3 of 5,000
/// users, and applied, it would soft-delete 4,997 students. A snapshot that would soft-delete more
/// than `maxShare` of its scope's live rows, in a scope of at least `minimumScope` live rows, is
/// not applied (the store rolls it back and throws a `StoreError` of cause `.guarded`).
public struct DeleteGuard: Sendable, Equatable, Codable {
    /// The largest share (0...1) of a scope's live rows one snapshot may soft-delete.
    public var maxShare: Double
    /// Scopes smaller than this are not guarded: a section of 12 losing 7 students is ordinary.
    public var minimumScope: Int

    /// The default: a snapshot may soft-delete at most half of a scope of 100 live rows or more.
    public static let standard = DeleteGuard(maxShare: 0.5, minimumScope: 100)

    /// A guard with these limits (from `--max-delete-share` and `--min-guarded-scope`).
    public init(maxShare: Double, minimumScope: Int) {
        self.maxShare = maxShare
        self.minimumScope = minimumScope
    }

    /// Whether soft-deleting `deleted` of `live` rows (live before the file) is too much.
    func refuses(deleting deleted: Int, ofLive live: Int) -> Bool {
        live >= minimumScope && Double(deleted) > maxShare * Double(live)
    }

    /// Below this many deletions no scope can trip the guard, so the scope is not even counted.
    var leastRefused: Int { Int((maxShare * Double(minimumScope)).rounded(.down)) + 1 }
}

/// A row's natural key: unique per table, and how a row of another file names it.
public struct NaturalKey: Sendable, Hashable {
    /// `SourceSystemIdentifier`: the LMS's own id of the row.
    public var sourceSystemIdentifier: String
    /// `SourceSystem`: the LMS (`Canvas`, `Schoology`, `Google`).
    public var sourceSystem: String
    /// A key from its two parts.
    public init(_ sourceSystemIdentifier: String, _ sourceSystem: String) {
        self.sourceSystemIdentifier = sourceSystemIdentifier
        self.sourceSystem = sourceSystem
    }
}

/// What applying one file did to the LMS-DS.
public struct ApplyResult: Sendable, Equatable {
    /// `ProcessedFiles` already had this file with this checksum: nothing was changed
    /// (`waitingRowIds` still tells which rows lack parents, so a crash does not lose them).
    public var alreadyApplied = false
    /// Rows new to the table.
    public var inserted = 0
    /// Rows changed, restored ones included.
    public var updated = 0
    /// Soft-deleted rows the file brought back (counted in `updated` too).
    public var restored = 0
    /// Live rows of the scope the snapshot no longer has, now soft-deleted.
    public var softDeleted = 0
    /// The ids (`ResourceRow.id`) of the rows whose parents (or, for attendance, enrollment) are
    /// not in the LMS-DS yet.
    public var waitingRowIds: [Int64] = []
    /// A result of nothing done yet.
    public init() {}
}

/// What applying a batch did: one result per file, and the mark `ProcessedFiles` had when the batch
/// committed (see `LMSDataStore.processedFilesMark()`).
public struct AppliedBatch: Sendable, Equatable {
    /// One result per file of the batch, in its order.
    public var results: [ApplyResult]
    /// `ProcessedFiles`' mark inside the batch's transaction, after its files were recorded.
    public var processedFilesMark: String?
    /// A batch's outcome.
    public init(results: [ApplyResult], processedFilesMark: String?) {
        self.results = results
        self.processedFilesMark = processedFilesMark
    }
}

/// Why a store could not do its work: a typed cause to switch on, the engine's own code when an
/// engine error was behind it, and the words for the operator. Each engine maps its errors to these
/// in one place (`SQLiteStore.classify`, `PostgresStore.classify`): only a fault of the data
/// rejects a file.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure it is; the agent decides what to do with the file by it.
    public enum Cause: Sendable, Equatable {
        /// A fault of the environment, not of the data: the LMS-DS cannot be reached, its disk is
        /// full, an I/O or permission error, a lock timeout, a missing table. Staged work waits and
        /// is retried.
        case unavailable
        /// The LMS-DS refused this file's data (constraint, type, value). The file is rejected;
        /// others go on.
        case dataRefused
        /// The schema scripts could not be applied.
        case migration
        /// The mass-delete guard stopped the file: it would soft-delete `deleting` of the `live`
        /// rows its scope had. Nothing of it was applied.
        case guarded(deleting: Int, live: Int)
    }

    /// What kind of failure it is.
    public let cause: Cause
    /// The engine's code for the error behind this one (nil when the store itself found the fault).
    public let engineCode: EngineCode?
    /// What went wrong, without the cause's prefix (the buffer's rejection reason, `status`).
    public let message: String

    /// An error of `cause`; `engineCode` when an engine error was behind it.
    public init(_ cause: Cause, _ message: String, engineCode: EngineCode? = nil) {
        self.cause = cause
        self.message = message
        self.engineCode = engineCode
    }

    /// The LMS-DS cannot be reached or used now: the file stays staged and is retried.
    public static func unavailable(_ message: String, engineCode: EngineCode? = nil) -> StoreError {
        StoreError(.unavailable, message, engineCode: engineCode)
    }

    /// The LMS-DS refused this file's data: the file is rejected.
    public static func dataRefused(_ message: String, engineCode: EngineCode? = nil) -> StoreError {
        StoreError(.dataRefused, message, engineCode: engineCode)
    }

    /// A schema script could not be loaded or applied.
    public static func migration(_ message: String, engineCode: EngineCode? = nil) -> StoreError {
        StoreError(.migration, message, engineCode: engineCode)
    }

    /// The mass-delete guard stopped a file that would soft-delete `deleting` of `live` rows.
    public static func guarded(deleting: Int, live: Int) -> StoreError {
        StoreError(.guarded(deleting: deleting, live: live),
                   "it would soft-delete \(deleting) of the \(live) live rows of its scope (\(live > 0 ? 100 * deleting / live : 0) %)")
    }

    /// The message with its cause's prefix (`LMS-DS unavailable: ...`), for logs and the operator.
    public var description: String {
        switch cause {
        case .unavailable: return "LMS-DS unavailable: \(message)"
        case .dataRefused: return "LMS-DS refused the data: \(message)"
        case .migration: return "migration failed: \(message)"
        case .guarded: return message
        }
    }
}

/// An engine's own code for an error, as its documentation lists it.
public enum EngineCode: Sendable, Hashable, CustomStringConvertible {
    /// SQLite's extended result code (2067 is SQLITE_CONSTRAINT_UNIQUE, 13 SQLITE_FULL).
    case sqlite(Int32)
    /// PostgreSQL's five-character SQLSTATE (23505 is unique_violation, 53100 disk_full).
    case sqlState(String)

    /// `SQLite 2067`, `SQLSTATE 23505`.
    public var description: String {
        switch self {
        case .sqlite(let code): return "SQLite \(code)"
        case .sqlState(let state): return "SQLSTATE \(state)"
        }
    }
}

/// A path's row in `ProcessedFiles`.
public enum ProcessedRecord: Sendable, Equatable {
    /// No row for the path.
    case none
    /// Written by the upstream loader (no checksum); it never reads a recorded file again, and the
    /// agent honours that, so that the two can take turns on one database.
    case upstream
    /// Merged into the LMS-DS with this content.
    case applied(checksum: String)
    /// Recorded without being merged: a superseded snapshot, recorded so that no loader applies the
    /// stale file later. Never to be mistaken for an applied one (its rows are not in the LMS-DS).
    case recordedNotApplied(checksum: String)
}

extension LMSDataStore {
    /// Applies one file in one transaction: a batch of one.
    public func apply(_ request: ApplyRequest, rows: RowStream) throws -> ApplyResult {
        try withoutActuallyEscaping(rows) { rows in try apply(batch: [request]) { _, body in try rows(body) }.results[0] }
    }

    /// What `ProcessedFiles` records for a path.
    public func processedRecord(fullPath: String) throws -> ProcessedRecord {
        try processedRecords(fullPaths: [fullPath])[fullPath] ?? .none
    }
}

extension ProcessedRecord {
    /// The file is merged with this checksum, or recorded by the upstream loader.
    func isApplied(checksum: String) -> Bool {
        switch self {
        case .none, .recordedNotApplied: return false
        case .upstream: return true
        case .applied(let c): return c == checksum
        }
    }

    /// Reads a `ProcessedFiles` row: its `Checksum` and `Applied` columns. `Applied` is NULL on rows
    /// written before the column existed, which were all merged.
    init(checksum: String?, applied: String?) {
        guard let checksum else { self = .upstream; return }
        switch applied?.lowercased() {
        case "0", "f", "false": self = .recordedNotApplied(checksum: checksum)
        default: self = .applied(checksum: checksum)
        }
    }
}

/// Rows handed to a store: the store calls `body` once per row, inside its transaction.
public typealias RowStream = ((ResourceRow) throws -> Void) throws -> Void

/// The rows of a batch's files: the store calls it once per file, with the file's index in the
/// batch, inside the batch's transaction; it calls `body` once per row of that file.
public typealias BatchRows = (_ file: Int, _ body: (ResourceRow) throws -> Void) throws -> Void

/// A batch the store will not apply as one: its files share natural keys, some (not all) of them
/// are already in `ProcessedFiles`, or they differ in columns. Nothing was changed; the caller
/// applies the files one by one instead, which gives the same result.
public struct BatchMustBeSplit: Error, CustomStringConvertible, Sendable {
    /// Why, for the debug log.
    public let reason: String
    /// A refusal for `reason`.
    public init(_ reason: String) { self.reason = reason }
    /// The reason.
    public var description: String { "the batch must be applied file by file: \(reason)" }
}

/// A target LMS data store. Each engine (SQLite, PostgreSQL, SQL Server) implements this contract:
///
/// - `apply(batch:)` is one transaction: it takes the store's lock, checks `ProcessedFiles` (a file
///   already recorded with this checksum is not applied twice), bulk-loads every file's rows into
///   staging with the file's number, runs the set-based merge generated from the schema for its
///   dialect once for the whole batch (each file's soft delete limited to its own scope), records
///   every file, commits. It applies all of the batch or none of it, and the result equals
///   applying its files one by one in order.
public protocol LMSDataStore: AnyObject, Sendable {
    /// Where the data goes, for `status` and logs. Never contains a password.
    var location: String { get }
    /// Applies the engine's schema scripts that the journal does not list yet.
    func migrate() throws
    /// Applies a batch of files of one resource, all in the same mode with the same columns and
    /// each of its own scope, in one transaction (see the protocol's note); returns one result per
    /// file. Throws a `StoreError` or `BatchMustBeSplit`, having changed nothing.
    func apply(batch requests: [ApplyRequest], rows: BatchRows) throws -> AppliedBatch
    /// What `ProcessedFiles` records for each of many paths, in one query (paths it lacks are absent).
    func processedRecords(fullPaths: [String]) throws -> [String: ProcessedRecord]
    /// A summary of `ProcessedFiles` (its row count and latest upload time) that changes whenever
    /// any loader records a file. The agent compares it with the mark of its own last batch: a
    /// difference means that another loader changed the LMS-DS, and deltas are not trusted.
    func processedFilesMark() throws -> String
    /// Records a file in `ProcessedFiles` without merging it (a superseded snapshot), so that the
    /// upstream loader, sharing the database, does not apply the stale file either. Returns
    /// `ProcessedFiles`' mark after it, as `apply(batch:)` does.
    @discardableResult
    func recordWithoutApplying(_ request: ApplyRequest) throws -> String
    /// Row counts per table: (live, soft-deleted).
    func tableCounts() throws -> [(table: String, live: Int, deleted: Int)]
    /// Ends the connection; an embedded database checkpoints its log into its file first.
    func close()
}
