import Agent
import ArgumentParser
import Foundation

struct Flush: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan the extract, stage new or changed files, forward everything pending, print a summary.",
        discussion: exitCodesHelp)

    @OptionGroup var options: CommonOptions
    @Flag(help: "Print the summary as JSON.") var json = false
    @Option(name: .customLong("settle-seconds"), help: "Skip files modified less than this many seconds ago (still being written); files open for writing are always skipped. Default 0.")
    var settleSeconds: Double = 0

    func run() throws {
        try options.withAgent(for: .flush, adjust: { $0.flushSettleSeconds = settleSeconds }) { agent in
            try runAndReport(agent, scan: true, options: options, json: json)
        }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forward what is already staged in the buffer, without reading the extract (it may be gone).",
        discussion: exitCodesHelp)

    @OptionGroup var options: CommonOptions
    @Flag(help: "Print the summary as JSON.") var json = false

    func run() throws {
        try options.withAgent(for: .resume) { agent in
            try runAndReport(agent, scan: false, options: options, json: json)
        }
    }
}

/// `flush` and `resume`: the header when the work starts, progress while it runs (redrawn on a
/// terminal, a periodic log line elsewhere), SIGTERM/SIGINT finishing the file in hand, the summary.
func runAndReport(_ agent: LMSAgent, scan: Bool, options: CommonOptions, json: Bool) throws -> ExitStatus {
    try agent.prepareToForward()   // a misconfigured target stops before the header
    if !json {
        print("extract: \(agent.root)")
        print("buffer:  \(agent.buffer.path)")
        print("target:  \(agent.boundTarget ?? TargetIdentity.of(agent.settings).text)")
        fflush(nil)
    }
    let terminal = !json && options.effectiveLogFormat == "text" && TerminalProgress.isTerminal
    // Off a terminal, a progress line every LMS_AGENT_PROGRESS_SECONDS (default 5).
    let every = Double(ProcessInfo.processInfo.environment["LMS_AGENT_PROGRESS_SECONDS"] ?? "") ?? 5
    agent.progress = terminal ? TerminalProgress() : LoggedProgress(logger: agent.logger, every: .milliseconds(Int(max(every, 0.1) * 1000)))
    let summary = try agent.run(scan: scan, shouldStop: LMSAgent.stopOnSignals())
    try printSummary(summary, json: json)
    return summary.exitCode
}

func printSummary(_ s: RunSummary, json: Bool) throws {
    if json {
        struct Out: Encodable { var summary: RunSummary; var exitCode: Int32 }
        try printJSON(Out(summary: s, exitCode: s.exitCode.rawValue))
        return
    }
    if let st = s.stage {
        print("scan:    \(st.seen) files seen: \(st.staged) staged (\(st.stagedRows) rows), \(st.unchanged) unchanged, \(st.rejected) rejected, \(st.ignored) ignored (no data)\(st.changing > 0 ? ", \(st.changing) still changing" : "")\(st.stillWriting > 0 ? ", \(st.stillWriting) still being written (taken on the next run)" : "")")
        for e in st.errors { print("  rejected: \(e)") }
        for e in st.skipped { print("  skipped: \(e)") }
    }
    var t = TextTable("resource", "files", "rows", "inserted", "updated", "restored", "deleted", "waiting", "rejected", "superseded", "held")
    // Forward order: the standard resources' order, then any other by name.
    for r in s.forward.byResource.keys.map(Resource.init(rawValue:)).sorted() {
        guard let x = s.forward.byResource[r.rawValue] else { continue }
        t.add([r.rawValue, "\(x.files)", "\(x.rows)", "\(x.inserted)", "\(x.updated)", "\(x.restored)", "\(x.softDeleted)", "\(x.waitingRows)", "\(x.rejectedFiles)", "\(x.supersededFiles)", "\(x.heldFiles)"])
    }
    let total = s.forward.total
    if t.rows.isEmpty {
        if s.unavailable != nil && s.pendingFiles > 0 {
            print("forward: \(s.pendingFiles) file(s) staged, target unavailable")
        } else if s.pendingFiles > 0 {
            print("forward: \(s.pendingFiles) file(s) still pending")
        } else {
            print("forward: nothing to do")
        }
    } else {
        t.add(["total", "\(total.files)", "\(total.rows)", "\(total.inserted)", "\(total.updated)", "\(total.restored)", "\(total.softDeleted)", "\(total.waitingRows)", "\(total.rejectedFiles)", "\(total.supersededFiles)", "\(total.heldFiles)"])
        print(t.render())
        for e in s.forward.errors { print("  \(e.contains("mass-delete guard") ? "held" : "rejected by the LMS-DS"): \(e)") }
    }
    if let h = s.harmonization { print("harmonize: \(h.summary)") }
    let verdict: String
    switch s.exitCode {
    case .success: verdict = "everything applied"
    case .rejectedFiles: verdict = "\(s.outstandingRejected) file(s) rejected: see `lms-agent inspect errors`"
    case .interrupted: verdict = "stopped by a signal after the file in hand; what was done is kept: run `lms-agent resume` or flush again"
    case .heldFiles: verdict = "\(s.heldFiles) file(s) held by the mass-delete guard: see `lms-agent inspect files --state held`, then `lms-agent release ID` if the deletions are real"
    case .waitingRows: verdict = "\(s.waitingRows) row(s) wait for their parents: see `lms-agent inspect waiting`"
    case .targetUnavailable:
        // A fault of the buffer names the buffer itself ("the buffer ... cannot be written: ...").
        if let m = s.unavailable, m.hasPrefix("the buffer ") {
            verdict = "\(m); what was staged is kept: run `lms-agent flush` again once it is fixed"
        } else {
            verdict = "the LMS-DS is unavailable (\(s.unavailable ?? "")); staged files are kept: run `lms-agent resume` later"
        }
    case .harmonizationFailed:
        verdict = "everything applied, but harmonization failed (\(s.harmonization?.summary ?? "")): see the log; the next flush, resume or `lms-agent harmonize` tries again"
    case .fatal: verdict = "failed"
    }
    print(String(format: "result:  %@ (exit %d, %.2f s)", verdict, s.exitCode.rawValue, s.seconds))
}
