import Buffer
import Extract
import Stores

/// Everything `status` shows: where things are, what the ledger holds, what went wrong last.
public struct StatusReport: Sendable, Codable {
    /// One table of the LMS-DS: its live and soft-deleted rows.
    public struct Table: Sendable, Codable { public var table: String; public var live: Int; public var deleted: Int }
    /// The extract directory.
    public var extract: String
    /// The buffer file.
    public var buffer: String
    /// The LMS-DS: the open store's `location`, else the target the buffer is bound to.
    public var target: String
    /// Why the LMS-DS's tables could not be counted (unreachable, or not the buffer's target).
    public var targetError: String?
    /// Files and rows per state and resource.
    public var counts: [StateCount]
    /// The pending file seen first.
    public var oldestPending: LedgerFile?
    /// Files whose newest version is rejected.
    public var outstandingRejected: Int
    /// Rows waiting for their parents.
    public var waitingRows: Int
    /// Files the mass-delete guard holds, with why (release them with `lms-agent release ID`).
    public var heldFiles: Int
    /// The files the mass-delete guard holds.
    public var held: [LedgerFile]
    /// The newest five entries of the buffer's error log.
    public var lastErrors: [ErrorEntry]
    /// Row counts of the LMS-DS's tables.
    public var tables: [Table]
    /// The pid of a `watch` running on this buffer, if any.
    public var watcherPid: String?
    /// The last harmonization pass (when, what failed, what is not linked), as the buffer recorded it.
    public var harmonization: HarmonizationPass?
    /// Data changed since the last pass that succeeded: the next run harmonizes.
    public var harmonizationDue: Bool
}

extension LMSAgent {
    /// What `status` shows. Opens the store without migrating; the LMS-DS's tables are counted only
    /// when the settings name the buffer's target.
    public func status() throws -> StatusReport {
        // The target the buffer is bound to; its tables are counted only when the settings name it.
        let named = TargetIdentity.of(settings).text
        var target = boundTarget ?? named
        var targetError: String? = nil
        var tables: [StatusReport.Table] = []
        if let bound = boundTarget, bound != named {
            targetError = "the settings name \(named); this buffer forwards to \(bound): name it to see its tables"
        } else {
            do {
                let store = try openStore(migrate: false)
                target = store.location
                tables = try store.tableCounts().map { StatusReport.Table(table: $0.table, live: $0.live, deleted: $0.deleted) }
            } catch {
                targetError = "\(error)"
            }
        }
        return StatusReport(
            extract: root, buffer: buffer.path, target: target, targetError: targetError,
            counts: try buffer.stateCounts(), oldestPending: try buffer.oldestPending(),
            outstandingRejected: try buffer.outstandingRejected().count,
            waitingRows: try buffer.waitingFiles().reduce(0) { $0 + $1.waitingRows },
            heldFiles: try buffer.heldFiles().count, held: try buffer.heldFiles(),
            lastErrors: try buffer.lastErrors(limit: 5), tables: tables, watcherPid: BufferLock.holder(bufferPath: buffer.path).flatMap { $0.command == BufferLock.Command.watch.rawValue ? $0.pid : nil },
            harmonization: lastHarmonization, harmonizationDue: harmonizationDue)
    }
}
