@testable import Agent
import Foundation
import Logging
import Stores
import Testing

/// When the agent harmonizes, and what it says when it cannot (agent level; the procedures
/// themselves are the stores' and are tested with them).
@Suite struct HarmonizationTests {
    /// The embedded SQLite LMS-DS has no ODS: one plain line in the summary (no log line, which would
    /// come after a terminal's progress line), exit 0, the data loaded, the skipped pass for `status`.
    @Test func theSQLiteTargetSaysInOneLineThatItDoesNotHarmonize() throws {
        let w = try World(engine: .sqlite)
        let log = LogCapture()
        w.logger = log.logger
        try w.writeBase()
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(try w.count("LMSUser") == 4)
        #expect(run.harmonization?.skipped?.contains("SQLite") == true, "\(String(describing: run.harmonization))")
        #expect(log.messages(atLeast: .info).filter { $0.contains("harmonization") }.isEmpty)
        let status = try w.agent(csvPath: false).status()
        #expect(status.harmonization?.skipped != nil && status.harmonizationDue == false)
        // Nothing changed: no pass.
        #expect(try w.flush().harmonization == nil)
        // Through the binary: one line on standard output, nothing on standard error, exit 0.
        try w.write("users/2026-09-02-06-00-00.csv", .users, (1...5).map { Row.user("u\($0)") })
        let cli = try w.runAgent(["flush"], logLevel: "INFO")
        #expect(cli.code == 0)
        #expect(cli.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("harmonize: skipped: the embedded SQLite LMS-DS has no Ed-Fi ODS") }.count == 1, "\(cli.stdout)")
        #expect(!cli.stderr.contains("harmonization"), "\(cli.stderr)")
        let text = try w.runAgent(["status"], logLevel: "INFO")
        #expect(text.stdout.contains("harmonization: last pass") && text.stdout.contains("skipped: the embedded SQLite LMS-DS"))
    }

    /// `--no-harmonize`: no pass; what changed is owed, and the next run that harmonizes does it.
    @Test func noHarmonizeSkipsThePassAndLeavesItOwed() throws {
        let w = try World(engine: .sqlite)
        try w.writeBase()
        var s = w.settings
        s.harmonize = false
        let run = try LMSAgent(settings: s, logger: w.logger, requireExtract: true).run(scan: true)
        #expect(run.exitCode == .success && run.harmonization == nil)
        #expect(try w.agent(csvPath: false).status().harmonizationDue)
        // Nothing new, but a pass is owed.
        #expect(try w.flush().harmonization != nil)
        #expect(try w.agent(csvPath: false).status().harmonizationDue == false)
        #expect(try w.flush().harmonization == nil)
    }

    /// Exit 7 only when nothing weightier happened.
    @Test func aFailedPassIsExitSevenUnlessAHigherCodeApplies() throws {
        var failed = HarmonizationPass(at: "2026-12-02T07:00:00Z", trigger: .changedData, sourceSystems: ["Canvas"])
        failed.report = HarmonizeReport(steps: [.init(procedure: "lms.harmonize_lmsuser_canvas", failure: "boom", seconds: 0)], exceptions: nil)
        var s = RunSummary(stage: nil, forward: ForwardReport(), unavailable: nil, outstandingRejected: 0, heldFiles: 0, waitingRows: 0,
                           pendingFiles: 0, seconds: 0, stageSeconds: 0, forwardSeconds: 0, peakResidentBytes: 0)
        #expect(s.exitCode == .success)
        s.harmonization = failed
        #expect(s.exitCode == .harmonizationFailed && s.exitCode.rawValue == 7)
        s.waitingRows = 1
        #expect(s.exitCode == .waitingRows)
        s.outstandingRejected = 1
        #expect(s.exitCode == .rejectedFiles)
        s.heldFiles = 1
        #expect(s.exitCode == .heldFiles)
        s.unavailable = "down"
        #expect(s.exitCode == .targetUnavailable)
        s.interrupted = true
        #expect(s.exitCode == .interrupted)
    }
}
