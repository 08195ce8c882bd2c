import Agent
import ArgumentParser
import Extract
import Foundation

struct Flush: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan the extract, stage new or changed files, forward everything pending, print a summary.")

    @OptionGroup var options: CommonOptions
    @Flag(help: "Print the summary as JSON.") var json = false

    func run() throws {
        try runReportingErrors {
            let settings = try options.settings()
            let agent = try LMSAgent(settings: settings, logger: try options.logger(settings), requireExtract: true)
            let summary = try agent.run(scan: true)
            try printSummary(summary, agent: agent, json: json)
            return summary.exitCode
        }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forward what is already staged in the buffer, without reading the extract (it may be gone).")

    @OptionGroup var options: CommonOptions
    @Flag(help: "Print the summary as JSON.") var json = false

    func run() throws {
        try runReportingErrors {
            let settings = try options.settings()
            let agent = try LMSAgent(settings: settings, logger: try options.logger(settings), requireExtract: false)
            let summary = try agent.run(scan: false)
            try printSummary(summary, agent: agent, json: json)
            return summary.exitCode
        }
    }
}

func printSummary(_ s: RunSummary, agent: LMSAgent, json: Bool) throws {
    if json {
        struct Out: Encodable { var summary: RunSummary; var exitCode: Int32 }
        try printJSON(Out(summary: s, exitCode: s.exitCode.rawValue))
        return
    }
    let target = (try? agent.openStore(migrate: false).location) ?? agent.settings.engine.rawValue
    print("extract: \(agent.root)")
    print("buffer:  \(agent.buffer.path)")
    print("target:  \(target)")
    if let st = s.stage {
        print("scan:    \(st.seen) files seen: \(st.staged) staged (\(st.stagedRows) rows), \(st.unchanged) unchanged, \(st.rejected) rejected, \(st.ignored) ignored (no data)\(st.changing > 0 ? ", \(st.changing) still changing" : "")")
        for e in st.errors { print("  rejected: \(e)") }
        for e in st.skipped { print("  skipped: \(e)") }
    }
    var t = TextTable("resource", "files", "rows", "inserted", "updated", "restored", "deleted", "waiting", "rejected", "superseded")
    for r in Resource.allCases {
        guard let x = s.forward.byResource[r.rawValue] else { continue }
        t.add([r.rawValue, "\(x.files)", "\(x.rows)", "\(x.inserted)", "\(x.updated)", "\(x.restored)", "\(x.softDeleted)", "\(x.waitingRows)", "\(x.rejectedFiles)", "\(x.supersededFiles)"])
    }
    let total = s.forward.total
    if t.rows.isEmpty {
        print("forward: nothing to do")
    } else {
        t.add(["total", "\(total.files)", "\(total.rows)", "\(total.inserted)", "\(total.updated)", "\(total.restored)", "\(total.softDeleted)", "\(total.waitingRows)", "\(total.rejectedFiles)", "\(total.supersededFiles)"])
        print(t.render())
        for e in s.forward.errors { print("  rejected by the LMS-DS: \(e)") }
    }
    let verdict: String
    switch s.exitCode {
    case .success: verdict = "everything applied"
    case .rejectedFiles: verdict = "\(s.outstandingRejected) file(s) rejected: see `lms-agent inspect errors`"
    case .waitingRows: verdict = "\(s.waitingRows) row(s) wait for their parents: see `lms-agent inspect waiting`"
    case .targetUnavailable: verdict = "the LMS-DS is unavailable (\(s.unavailable ?? "")); staged files are kept: run `lms-agent resume` later"
    case .fatal: verdict = "failed"
    }
    print(String(format: "result:  %@ (exit %d, %.2f s)", verdict, s.exitCode.rawValue, s.seconds))
}
