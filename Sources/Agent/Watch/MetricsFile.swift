import Buffer
import Foundation
import Logging

/// Prometheus text-format metrics, written atomically (temporary file, then rename) for
/// node_exporter's textfile collector.
///
/// Written by hand rather than through swift-metrics and swift-prometheus's registry (their sources
/// at 2.13.0 and 2.4.1, read against this file's content): the metrics factory that swift-metrics bootstraps
/// (once per process, a global) makes every metric with an empty help text, so the `# HELP` lines
/// would go; the registry prints every gauge as a Double (`lms_agent_backlog_files 0.0`), keeps a
/// `{state,resource}` series that has left the ledger until it is unregistered by hand, and emits
/// the metrics in its dictionary's order, which changes from one start to the next. Most of these
/// numbers are a snapshot of the ledger read at write time, not events to count, which is what a
/// registry is for. Idle CPU would not have changed either way: the file is written after a round only.
final class MetricsFile {
    let path: String
    private var rounds = 0
    private var failedRounds = 0
    private var errors = 0
    private var lastSuccess: Double?
    private var lastForwardSeconds: Double?
    private var harmonization: HarmonizationPass?
    /// When this process last harmonized (Unix time); nil: not yet (the pass then comes from the buffer).
    private var harmonizedAt: Double?

    init(path: String) { self.path = path }

    /// The last harmonization pass and when this process ran it (nil: recorded by an earlier run).
    func recordHarmonization(_ pass: HarmonizationPass?, at time: Double?) {
        guard let pass else { return }
        harmonization = pass
        if let time { harmonizedAt = time }
    }

    func recordRound(success: Bool, forwardSeconds: Double?, errors: Int) {
        rounds += 1
        if success { lastSuccess = Date().timeIntervalSince1970 } else { failedRounds += 1 }
        self.errors += errors
        if let forwardSeconds { lastForwardSeconds = forwardSeconds }
    }

    func write(buffer: Buffer, targetUp: Bool, logger: Logger) {
        var out = ""
        func metric(_ name: String, _ help: String, _ type: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        let counts = (try? buffer.stateCounts()) ?? []
        metric("lms_agent_files", "File versions in the buffer's ledger, by state and resource.", "gauge")
        for c in counts { out += "lms_agent_files{state=\"\(c.state)\",resource=\"\(c.resource)\"} \(c.files)\n" }
        metric("lms_agent_rows", "Rows of those files, by state and resource.", "gauge")
        for c in counts { out += "lms_agent_rows{state=\"\(c.state)\",resource=\"\(c.resource)\"} \(c.rows)\n" }
        metric("lms_agent_waiting_rows", "Rows waiting for parents not yet in the LMS-DS.", "gauge")
        out += "lms_agent_waiting_rows \(counts.reduce(0) { $0 + $1.waitingRows })\n"
        metric("lms_agent_backlog_files", "Files staged or waiting, not yet fully forwarded.", "gauge")
        out += "lms_agent_backlog_files \(counts.filter { $0.state == "staged" || $0.state == "waiting" }.reduce(0) { $0 + $1.files })\n"
        metric("lms_agent_rounds_total", "Forwarding rounds since start.", "counter")
        out += "lms_agent_rounds_total \(rounds)\n"
        metric("lms_agent_failed_rounds_total", "Rounds whose forwarding failed (LMS-DS unavailable) since start.", "counter")
        out += "lms_agent_failed_rounds_total \(failedRounds)\n"
        metric("lms_agent_errors_total", "Errors since start (rejected files, failed rounds).", "counter")
        out += "lms_agent_errors_total \(errors)\n"
        metric("lms_agent_target_up", "1 when the LMS-DS was reachable at the last attempt.", "gauge")
        out += "lms_agent_target_up \(targetUp ? 1 : 0)\n"
        if let lastSuccess {
            metric("lms_agent_last_success_timestamp_seconds", "When a round last forwarded successfully (Unix time).", "gauge")
            out += "lms_agent_last_success_timestamp_seconds \(Int(lastSuccess))\n"
        }
        if let lastForwardSeconds {
            metric("lms_agent_forward_duration_seconds", "Duration of the last successful round.", "gauge")
            out += String(format: "lms_agent_forward_duration_seconds %.3f\n", lastForwardSeconds)
        }
        if let pass = harmonization {
            if let harmonizedAt {
                metric("lms_agent_harmonization_last_timestamp_seconds", "When this process last ran a harmonization pass (Unix time).", "gauge")
                out += "lms_agent_harmonization_last_timestamp_seconds \(Int(harmonizedAt))\n"
            }
            metric("lms_agent_harmonization_failed", "1 when a procedure of the last harmonization pass failed or the pass could not finish.", "gauge")
            out += "lms_agent_harmonization_failed \(pass.failed ? 1 : 0)\n"
            if let e = pass.exceptions {
                metric("lms_agent_harmonization_unmatched", "After the last pass: LMS rows not linked to the ODS (the lmsx exception views), and missing descriptors.", "gauge")
                for (kind, n) in [("users", e.unmatchedUsers), ("sections", e.unmatchedSections), ("assignments", e.unmatchedAssignments),
                                  ("submissions", e.unmatchedSubmissions), ("descriptors", e.missingDescriptors)] {
                    out += "lms_agent_harmonization_unmatched{kind=\"\(kind)\"} \(n)\n"
                }
            }
        }
        let tmp = path + ".tmp"
        do {
            try out.write(toFile: tmp, atomically: false, encoding: .utf8)
            if rename(tmp, path) != 0 { logger.warning("cannot write metrics to \(path)") }
        } catch {
            logger.warning("cannot write metrics to \(path): \(error)")
        }
    }
}
