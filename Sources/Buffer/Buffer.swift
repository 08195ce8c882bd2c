import Extract
import Glibc
import SQLiteDB

/// The local SQLite buffer: the file ledger and the staged rows. Only this type touches the file.
///
/// One buffer belongs to one extract directory. It is opened in WAL mode with mode 0600, and every
/// change of state is one transaction, so a crash at any point leaves a ledger that a restart reads
/// correctly.
///
/// This file is the buffer file itself: opening, migrating, the meta table and batches of commits.
/// The rest is by concern: `Ledger.swift` (reading ledger rows and moving their state),
/// `Staging.swift`, `Forwarding.swift`, `RetryRelease.swift`, `Inspection.swift`,
/// `BufferIntegrity.swift` and `BufferError.swift`.
public final class Buffer: @unchecked Sendable {
    /// The buffer file.
    public let path: String
    /// The resources whose files this buffer stages (one staged-rows table each).
    public let registry: ResourceRegistry
    let db: SQLiteDatabase

    /// Opens or creates the buffer at `path`. `extractRoot` is recorded on first use, and a buffer
    /// made for another extract directory is refused (its ledger would not describe this tree).
    /// With `create` false (the read-only commands), a missing buffer is an error, not a new file.
    public init(path: String, extractRoot: String?, create: Bool = true, registry: ResourceRegistry = .standard) throws {
        self.path = path
        self.registry = registry
        if !create && access(path, F_OK) != 0 {
            throw BufferError.io("no buffer at \(path): run flush or watch first")
        }
        // Created 0600 in folders made 0700, never wider; an older buffer's wider mode is taken back.
        db = try SQLiteDatabase(path: path, fileMode: 0o600, restrictExisting: true, create: create)
        try db.execute("PRAGMA journal_mode = WAL")
        // FULL: a committed stage survives power loss, so the extract may be deleted after staging.
        try db.execute("PRAGMA synchronous = FULL")
        try migrate()
        if let extractRoot {
            if let recorded = try meta("extract_root") {
                guard recorded == extractRoot else {
                    throw BufferError.otherExtract(buffer: path, recorded: recorded, requested: extractRoot)
                }
            } else if create {
                try setMeta("extract_root", extractRoot)
            }
        }
    }

    /// Checkpoints and closes the buffer file (see `SQLiteDatabase.close`).
    public func close() { db.close() }

    private func migrate() throws {
        let version = Int(try db.scalar("PRAGMA user_version")?.integer ?? 0)
        // A newer agent's format is not read half-way (its tables would fail statement by statement).
        guard version <= BufferSchema.version else {
            throw BufferError.io("the buffer at \(path) has format \(version), written by a newer lms-agent; this one reads format \(BufferSchema.version) at most: run the newer agent, or move the buffer aside to stage the extract again")
        }
        if version < BufferSchema.version {
            try db.transaction {
                if version == 0 {
                    for s in BufferSchema.statements { try db.execute(s) }
                } else {
                    for v in version..<BufferSchema.version {
                        for s in BufferSchema.upgrades[v] ?? [] { try db.execute(s) }
                    }
                }
                try db.execute("PRAGMA user_version = \(BufferSchema.version)")
            }
        }
        // Staged-rows tables of an older format, by their columns rather than the buffer's version: a
        // table of a resource this agent did not have when the buffer was upgraded is upgraded once
        // an agent has it.
        let older = try registry.schemas.compactMap { s -> (ResourceSchema, Set<String>)? in
            let columns = Set(try db.query("SELECT name FROM pragma_table_info(?)", [.text(BufferSchema.rowsTable(s.resource))]).compactMap { $0.first?.text })
            return columns.isEmpty || columns.contains("scope_id") ? nil : (s, columns)
        }
        if !older.isEmpty {
            try db.transaction {
                for (s, columns) in older {
                    if !columns.contains("row_hash") {
                        for statement in BufferSchema.addRowHash(s.resource) { try db.execute(statement) }
                    }
                    for statement in BufferSchema.rebuildAsVersions(s) { try db.execute(statement) }
                }
            }
        }
        // Only the missing ones: a read-only command on a buffer a watcher writes to writes nothing.
        let existing = try rowsTables()
        let missing = registry.schemas.filter { !existing.contains(BufferSchema.rowsTable($0.resource)) }
        if !missing.isEmpty {
            try db.transaction { for s in missing { for statement in BufferSchema.createRowsTable(s) { try db.execute(statement) } } }
        }
    }

    private func rowsTables() throws -> Set<String> {
        Set(try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.text })
    }

    /// The schema of a ledger file's resource; a resource this buffer's registry does not hold
    /// (staged by an agent that had it registered) cannot be read.
    public func schema(of resource: Resource) throws -> ResourceSchema {
        guard let s = registry[resource] else {
            throw BufferError.io("the resource \(resource) is not registered in this agent (its rows were staged by an agent that has it)")
        }
        return s
    }

    // MARK: batches

    private var batchStarted: ContinuousClock.Instant? = nil
    private var batchUnits = 0
    private var holdsTurn = false
    /// Told before (`done` false) and after (`done` true) each commit of a batch, with the units it
    /// holds. The agent logs these at DEBUG; the crash torture (scripts/torture.sh) aims kills by them.
    public var onBatchCommit: (@Sendable (_ units: Int, _ done: Bool) -> Void)?
    /// Shared with another connection to this buffer that writes at the same time (`flush` stages
    /// and forwards at once): each batch transaction takes its turn first (nil: the only writer).
    public var writeTurn: WriteTurn? {
        didSet { db.writeGate = writeTurn }
    }
    /// A batch open longer than this is committed at its next `batchTick`.
    public var batchSeconds: Double = 1
    /// The batch is committed at its next `batchTick` when the other connection waits for the
    /// write turn (the stager's long batches let the forwarder's short ones in at the next file).
    public var yieldsTurn = false

    /// Groups many per-file units of work into fewer commits (fsyncs). Each unit stays atomic (a
    /// savepoint); what a crash takes back from an open batch is safe to lose: unstaged files are
    /// read again from the extract, and files applied to the LMS-DS but not yet marked are found in
    /// its ProcessedFiles by the next pass. `body` may call `batchTick()` after each unit.
    public func batch<T>(_ body: () throws -> T) throws -> T {
        guard batchStarted == nil else { return try body() }
        try beginBatch()
        defer { batchStarted = nil }
        do {
            let result = try body()
            try commitBatch()
            return result
        } catch {
            // Units already done are kept: commit them, then report the error.
            if db.inTransaction { _ = try? db.run("COMMIT") }
            giveTurn()
            throw error
        }
    }

    /// Commits the open batch when it holds many units, is older than `batchSeconds`, or (with
    /// `yieldsTurn`) the other connection waits for its turn. Returns whether it committed.
    @discardableResult
    public func batchTick() throws -> Bool {
        guard let started = batchStarted else { return false }
        batchUnits += 1
        guard batchUnits >= 200 || (ContinuousClock.now - started).seconds > batchSeconds
                || (yieldsTurn && writeTurn?.othersWaiting == true) else {
            return false
        }
        try commitBatch()
        try beginBatch()
        return true
    }

    private func beginBatch() throws {
        if let writeTurn, !holdsTurn {
            writeTurn.take()
            holdsTurn = true
        }
        do { try db.run("BEGIN IMMEDIATE") } catch {
            giveTurn()
            throw error
        }
        batchStarted = .now
        batchUnits = 0
    }

    private func commitBatch() throws {
        onBatchCommit?(batchUnits, false)
        try db.run("COMMIT")
        giveTurn()
        onBatchCommit?(batchUnits, true)
    }

    private func giveTurn() {
        guard holdsTurn else { return }
        holdsTurn = false
        writeTurn?.give()
    }

    // MARK: meta

    /// A value of the buffer's `meta` table (what the buffer records about itself: `extract_root`,
    /// the `target` it forwards to), nil when unset.
    public func meta(_ key: String) throws -> String? {
        try db.scalar("SELECT value FROM meta WHERE key = ?", [.text(key)])?.text
    }

    /// Sets a value of the `meta` table, replacing an earlier one.
    public func setMeta(_ key: String, _ value: String) throws {
        try db.transaction {
            _ = try db.run("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [.text(key), .text(value)])
        }
    }

    /// The extract directory this buffer belongs to.
    public var extractRoot: String? { (try? meta("extract_root")) ?? nil }
}
