import Agent
import ArgumentParser

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show where the buffer and LMS-DS are, files and rows per state and resource, and the last errors.",
        discussion: exitCodesHelp)

    @OptionGroup var options: StatusOptions
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        try options.withAgent(for: .status) { agent in
            let s = try agent.status()
            if json { try printJSON(s); return .success }
            print("extract: \(s.extract)")
            print("buffer:  \(s.buffer)")
            print("target:  \(s.target)\(s.targetError.map { " (unavailable: \($0))" } ?? "")")
            print("watcher: \(s.watcherPid.map { "running (pid \($0))" } ?? "not running")")
            print("")
            var t = TextTable("state", "resource", "files", "rows", "waiting rows")
            for c in s.counts { t.add([c.state, c.resource, "\(c.files)", "\(c.rows)", "\(c.waitingRows)"]) }
            print(s.counts.isEmpty ? "The buffer is empty." : t.render())
            print("")
            if let o = s.oldestPending {
                print("oldest pending: file \(o.id) \(o.path) (\(o.state.rawValue) since \(o.firstSeenAt))")
            } else {
                print("oldest pending: none")
            }
            print("rejected files outstanding: \(s.outstandingRejected); rows waiting for parents: \(s.waitingRows); held by the mass-delete guard: \(s.heldFiles)")
            for h in s.held {
                print("  held: file \(h.id) \(h.path): \(h.lastError ?? "")")
            }
            print("")
            if let h = s.harmonization {
                print("harmonization: last pass \(h.at) (\(h.trigger.rawValue), \(String(format: "%.2f", h.seconds)) s)\(h.failed ? ", FAILED" : ""): \(h.summary)")
            } else {
                print("harmonization: no pass yet")
            }
            if s.harmonizationDue { print("  data changed since the last pass that succeeded: the next flush, resume or watch round harmonizes") }
            if !s.tables.isEmpty {
                print("")
                var tt = TextTable("LMS-DS table", "live", "deleted")
                for x in s.tables { tt.add([x.table, "\(x.live)", "\(x.deleted)"]) }
                print(tt.render())
            }
            if !s.lastErrors.isEmpty {
                print("")
                print("last errors:")
                for e in s.lastErrors { print("  \(e.at) [\(e.phase)] file \(e.fileId.map(String.init) ?? "-"): \(e.message)") }
            }
            return .success
        }
    }
}
