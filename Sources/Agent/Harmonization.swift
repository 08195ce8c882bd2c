import Buffer
import Extract
import Foundation
import Logging
import Stores

/// One harmonization pass as the agent ran it, or why it ran nothing: what `flush` and `harmonize`
/// print, what `status` shows of the last one (kept in the buffer's meta), and what the exit code
/// weighs (a failed pass is exit 7 unless a higher code applies).
public struct HarmonizationPass: Sendable, Codable, Equatable {
    /// What started a pass, as `status` and the log show it.
    public enum Trigger: String, Sendable, Codable {
        /// After a `flush`, `resume` or `watch` round that changed LMS-DS data (or after one that
        /// was owed: a run stopped or failed before its pass).
        case changedData = "changed data"
        /// `watch`, every `--harmonize-interval`: the ODS changes without any LMS change.
        case interval
        /// `lms-agent harmonize`.
        case command
    }

    /// When the pass began (UTC, ISO 8601).
    public var at: String
    /// What started it.
    public var trigger: Trigger
    /// The source systems harmonized, in the upstream order.
    public var sourceSystems: [String]
    /// Why nothing ran: the target has no ODS (the embedded SQLite LMS-DS, a database without the
    /// `edfi`/`lmsx` tables), or no source system of the extract has harmonize procedures.
    public var skipped: String?
    /// The procedures called, and the exception counts read after them.
    public var report: HarmonizeReport?
    /// A failure outside a procedure: the LMS-DS went away during the pass, or the exceptions
    /// report could not be written.
    public var failure: String?
    /// The exceptions report files written (`--exceptions-report-directory`).
    public var reportFiles: [String] = []
    /// How long it took, in seconds.
    public var seconds: Double = 0

    /// A procedure failed, or the pass could not finish.
    public var failed: Bool { failure != nil || !(report?.failures.isEmpty ?? true) }
    /// The exception counts read after the procedures (nil when they could not be read, or nothing ran).
    public var exceptions: ExceptionCounts? { report?.exceptions }

    /// One line for summaries: `Canvas: 8 procedure calls, 1 failed (lms.harmonize_assignment (Canvas): ...)`.
    public var summary: String {
        if let skipped { return "skipped: \(skipped)" }
        var parts: [String] = []
        if let report {
            let failures = report.failures
            parts.append("\(sourceSystems.joined(separator: ", ")): \(report.steps.count) procedure call(s), \(failures.count) failed"
                + (failures.isEmpty ? "" : " (" + failures.map { "\($0.name): \($0.failure ?? "")" }.joined(separator: "; ") + ")"))
        }
        if let failure { parts.append(failure) }
        if let e = exceptions {
            parts.append("not linked: \(e.unmatchedUsers) user(s), \(e.unmatchedSections) section(s), \(e.unmatchedAssignments) assignment(s), "
                + "\(e.unmatchedSubmissions) submission(s); \(e.missingDescriptors) missing descriptor(s)")
        }
        if !reportFiles.isEmpty { parts.append("reports: \(reportFiles.joined(separator: ", "))") }
        return parts.joined(separator: "; ")
    }
}

extension HarmonizeReport.Step {
    /// `lms.harmonize_assignment (Canvas)`, or the bare procedure for the parameterless ones.
    public var name: String { procedure + (sourceSystem.map { " (\($0))" } ?? "") }
}

extension LMSAgent {
    /// The source systems upstream's harmonizer has procedures for, in its order (spec section 2).
    public static let harmonizedSourceSystems = ["Canvas", "Google", "Schoology"]

    /// Buffer meta: "1" while a pass is owed (data changed and no pass has succeeded since), and the
    /// last pass as JSON.
    static let harmonizeDueKey = "harmonize_due"
    static let lastHarmonizationKey = "last_harmonization"

    /// Data of this target changed: a pass is owed until one succeeds. Kept in the buffer, so that
    /// a run stopped by a signal, or whose pass failed, harmonizes at the next run.
    func noteDataChanged() throws { try buffer.setMeta(LMSAgent.harmonizeDueKey, "1") }

    /// Whether a pass is owed (data changed since the last pass that succeeded).
    public var harmonizationDue: Bool { ((try? buffer.meta(LMSAgent.harmonizeDueKey)) ?? nil) == "1" }

    /// The last pass recorded in the buffer (nil: none yet, or unreadable).
    public var lastHarmonization: HarmonizationPass? {
        guard let text = (try? buffer.meta(LMSAgent.lastHarmonizationKey)) ?? nil else { return nil }
        return try? JSONDecoder().decode(HarmonizationPass.self, from: Data(text.utf8))
    }

    /// `lms-agent harmonize`: opens the target (its schema scripts, the operator's included), then
    /// one pass, whatever changed. Nil with the reason when the LMS-DS cannot be reached (exit 4).
    public func harmonizeNow() throws -> (pass: HarmonizationPass?, unavailable: String?) {
        try prepareToForward()
        let store: any LMSDataStore
        do { store = try openStore() } catch let e as StoreError where e.cause == .unavailable {
            logger.error("the LMS-DS is unavailable: \(e.message)")
            return (nil, e.message)
        }
        return (harmonize(store: store, trigger: .command), nil)
    }

    /// One pass on `store` for the extract's source systems: the procedures in the upstream order
    /// (the store runs each in its own transaction; one that fails is reported and the others still
    /// run), the exceptions report when a directory is set, the summary in the log, the pass
    /// recorded in the buffer for `status`. Never throws: a failure is in the pass, and loading
    /// is never undone or blocked by it.
    /// `quietSkip`: a skip goes to the debug log only, for a caller whose summary says it (flush,
    /// resume: their progress line on a terminal is not broken by a log line after it).
    public func harmonize(store: any LMSDataStore, trigger: HarmonizationPass.Trigger, quietSkip: Bool = false) -> HarmonizationPass {
        // The wall time names the pass and its report files; the monotonic clock times it.
        let wall = Date()
        let started = ContinuousClock.now
        var pass = HarmonizationPass(at: Timestamp.format(seconds: Int(wall.timeIntervalSince1970), style: .iso8601), trigger: trigger, sourceSystems: [])
        run(&pass, on: store, at: wall, quietSkip: quietSkip)
        pass.seconds = (ContinuousClock.now - started).seconds
        record(pass)
        return pass
    }

    private func run(_ pass: inout HarmonizationPass, on store: any LMSDataStore, at wall: Date, quietSkip: Bool) {
        let started = ContinuousClock.now
        let harmonizer = store as? any Harmonizing
        var support = HarmonizeSupport.unavailable(reason: "\(store.location) has no harmonize procedures")
        if let harmonizer {
            do { support = try harmonizer.harmonizeSupport() } catch {
                pass.failure = "cannot tell whether \(store.location) has the Ed-Fi ODS: \(error)"
                logger.error("harmonization: \(pass.failure!)")
                return
            }
        }
        guard let harmonizer, support == .ready else {
            if case .unavailable(let reason) = support { pass.skipped = reason }
            sayOnce("harmonization skipped: \(pass.skipped ?? ""); loading is not affected", quiet: quietSkip)
            return
        }
        let present = Set((try? buffer.extractSourceSystems()) ?? [])
        pass.sourceSystems = LMSAgent.harmonizedSourceSystems.filter(present.contains)
        guard !pass.sourceSystems.isEmpty else {
            pass.skipped = present.isEmpty
                ? "no source system in the extract yet"
                : "no source system of the extract (\(present.sorted().joined(separator: ", "))) has harmonize procedures (\(LMSAgent.harmonizedSourceSystems.joined(separator: ", ")))"
            sayOnce("harmonization skipped: \(pass.skipped!)", quiet: quietSkip)
            return
        }
        logger.debug("harmonization: \(pass.sourceSystems.joined(separator: ", ")) (\(pass.trigger.rawValue))")
        do {
            let report = try harmonizer.harmonize(sourceSystems: pass.sourceSystems)
            pass.report = report
            for step in report.failures { logger.error("harmonization: \(step.name) failed: \(step.failure ?? "")") }
        } catch {
            pass.failure = "the pass stopped: \(error)"
            logger.error("harmonization: \(pass.failure!)")
            return
        }
        if let directory = settings.exceptionsReportDirectory {
            do {
                pass.reportFiles = try harmonizer.writeExceptionReports(to: directory, at: wall)
                logger.info("harmonization: exceptions report written: \(pass.reportFiles.joined(separator: ", "))")
            } catch {
                pass.failure = "the exceptions report could not be written to \(directory): \(error)"
                logger.error("harmonization: \(pass.failure!)")
            }
        }
        logExceptionSummary(pass.exceptions)
        logger.info("harmonization: \(pass.sourceSystems.joined(separator: ", ")): \(pass.report?.steps.count ?? 0) procedure call(s), \(pass.report?.failures.count ?? 0) failed (\(String(format: "%.2f", (ContinuousClock.now - started).seconds)) s)")
    }

    /// Upstream's summary (spec section 7): three lines, each a warning when its numbers are not 0.
    private func logExceptionSummary(_ counts: ExceptionCounts?) {
        guard let e = counts else {
            logger.warning("harmonization: the exception counts could not be read")
            return
        }
        func say(_ any: Bool, _ message: String) {
            if any { logger.warning("harmonization: \(message)") } else { logger.debug("harmonization: \(message)") }
        }
        say(e.unmatchedUsers + e.unmatchedSections > 0,
            "\(e.unmatchedUsers) LMS user(s) and \(e.unmatchedSections) section(s) are not linked to the ODS (lmsx.exceptions_lmsuser, lmsx.exceptions_lmssection)")
        say(e.unmatchedAssignments + e.unmatchedSubmissions > 0,
            "\(e.unmatchedAssignments) assignment(s) and \(e.unmatchedSubmissions) submission(s) are not in lmsx (lmsx.assignments_exceptions, lmsx.assignment_submissions_exceptions)")
        say(e.missingDescriptors > 0,
            "\(e.missingDescriptors) assignment categor(ies) and submission status(es) have no descriptor (lmsx.missing_assignment_category_descriptors, lmsx.missing_assignment_submission_status_descriptors)")
    }

    /// A skip is said once per process (a watcher would otherwise say it every round), again when
    /// the reason changes.
    private func sayOnce(_ message: String, quiet: Bool) {
        if quiet { logger.debug("\(message)"); return }
        guard harmonizeSkipSaid != message else { return }
        harmonizeSkipSaid = message
        logger.notice("\(message)")
    }

    /// Keeps the pass for `status`; a pass that succeeded, or had nothing to do, pays what was owed.
    private func record(_ pass: HarmonizationPass) {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try buffer.setMeta(LMSAgent.lastHarmonizationKey, String(decoding: try encoder.encode(pass), as: UTF8.self))
            if !pass.failed { try buffer.setMeta(LMSAgent.harmonizeDueKey, "0") }
        } catch {
            logger.warning("harmonization: the pass could not be recorded in the buffer (status will not show it): \(error)")
        }
    }
}

extension ForwardReport {
    /// Whether the pass changed LMS-DS data: rows inserted, updated or deleted, or files found
    /// already committed (by a run that stopped before recording them: what they changed is new).
    public var changedData: Bool {
        let t = total
        return t.inserted + t.updated + t.softDeleted > 0 || t.alreadyApplied > 0
    }
}
