import Agent
import Buffer
import Extract
import Foundation
import PropertyBased
import Stores
import Testing

/// The ledger, stager and forwarder against a simple model of what a users table must hold after
/// any sequence of extractor writes, rewrites, deletions, flushes, stage-only runs, resumes and
/// crashes between the LMS-DS commit and the buffer update.
@Suite("Ledger against a model")
struct LedgerModelTests {
    enum Op: CustomStringConvertible {
        case newDay(rows: Int, value: Int)
        case rewriteNewest(rows: Int, value: Int)
        case rewriteOldest(rows: Int, value: Int)
        case flush, stageOnly, resume, deleteOldest, crashAfterCommit

        init(_ n: Int) {
            let p = n / 8
            switch n % 8 {
            case 0: self = .newDay(rows: p % 8, value: p / 8 % 3)
            case 1: self = .rewriteNewest(rows: p % 8, value: p / 8 % 3)
            case 2: self = .rewriteOldest(rows: p % 8, value: p / 8 % 3)
            case 3: self = .flush
            case 4: self = .stageOnly
            case 5: self = .resume
            case 6: self = .deleteOldest
            default: self = .crashAfterCommit
            }
        }

        var description: String {
            switch self {
            case .newDay(let r, let v): return "newDay(\(r),\(v))"
            case .rewriteNewest(let r, let v): return "rewriteNewest(\(r),\(v))"
            case .rewriteOldest(let r, let v): return "rewriteOldest(\(r),\(v))"
            case .flush: return "flush"
            case .stageOnly: return "stageOnly"
            case .resume: return "resume"
            case .deleteOldest: return "deleteOldest"
            case .crashAfterCommit: return "crashAfterCommit"
            }
        }
    }

    /// A users snapshot: which of u0...u5 it has (bit set) and their names' variant.
    struct Content: Equatable { var rows: Int; var value: Int }

    struct Model {
        var files: [String: Content] = [:]
        var seen: [String: [Content]] = [:]
        var latestSeen: [String: Content] = [:]
        var pending: [(name: String, content: Content)] = []
        /// Applied to the LMS-DS by a "crash" run, still staged in the buffer.
        var committed: [(name: String, content: Content)] = []
        var lastApplied: String?
        var table: [String: String] = [:]   // id -> "name" or "name deleted"

        mutating func stage() {
            for name in files.keys.sorted() {
                let c = files[name]!
                if latestSeen[name] == c { continue }
                latestSeen[name] = c
                pending.removeAll { $0.name == name }
                committed.removeAll { $0.name == name }
                pending.append((name, c))
            }
        }

        mutating func apply(_ name: String, _ c: Content) {
            let ids = (0..<6).filter { c.rows & (1 << $0) != 0 }.map { "u\($0)" }
            for id in ids { table[id] = "v\(c.value)" }
            if !ids.isEmpty {
                for (id, v) in table where !ids.contains(id) && !v.hasSuffix(" deleted") { table[id] = v + " deleted" }
            }
            lastApplied = max(lastApplied ?? name, name)
        }

        mutating func forward() {
            let order = pending.enumerated().sorted { ($0.element.name, $0.offset) < ($1.element.name, $1.offset) }.map(\.element)
            for p in order where p.name >= (lastApplied ?? "") { apply(p.name, p.content) }
            pending = []
            committed = []
        }
    }

    static func write(_ w: World, _ name: String, _ c: Content) throws {
        let rows = (0..<6).filter { c.rows & (1 << $0) != 0 }.map { Row.user("u\($0)", name: "v\(c.value)") }
        try w.write("users/\(name)", .users, rows)
    }

    @Test func agentMatchesTheModel() async throws {
        await propertyCheck(count: 150, input: Gen.int(in: 0...(8 * 64 * 3 - 1)).array(of: 1...24)) { codes in
            let ops = codes.map(Op.init)
            do {
                let w = try World()
                var m = Model()
                var day = 0
                for op in ops {
                    switch op {
                    case .newDay(let r, let v):
                        day += 1
                        let name = String(format: "2026-10-%02d-06-00-00.csv", day)
                        m.files[name] = Content(rows: r, value: v)
                        try Self.write(w, name, m.files[name]!)
                    case .rewriteNewest(let r, let v), .rewriteOldest(let r, let v):
                        let names = m.files.keys.sorted()
                        guard let name = { if case .rewriteNewest = op { return names.last } else { return names.first } }() else { continue }
                        m.files[name] = Content(rows: r, value: v)
                        try Self.write(w, name, m.files[name]!)
                    case .deleteOldest:
                        guard let name = m.files.keys.sorted().first else { continue }
                        m.files[name] = nil
                        try w.remove("users/\(name)")
                    case .flush:
                        m.stage(); m.forward()
                        _ = try w.flush()
                    case .stageOnly:
                        m.stage()
                        _ = try w.agent().scanAndStage()
                    case .resume:
                        // Before the first flush there is no buffer, and resume says so.
                        guard FileManager.default.fileExists(atPath: w.dir + "/buffer.sqlite") else { continue }
                        m.forward()
                        _ = try w.resume()
                    case .crashAfterCommit:
                        m.stage()
                        let agent = try w.agent()
                        _ = try agent.scanAndStage()
                        // The forwarder's first file: the smallest snapshot still staged, crashed ones included.
                        let candidates = (m.pending.map { ($0.name, $0.content, false) } + m.committed.map { ($0.name, $0.content, true) })
                        guard let first = try agent.buffer.pendingFiles().first,
                              let mFirst = candidates.min(by: { $0.0 < $1.0 }), first.snapshot == mFirst.0,
                              mFirst.0 >= (m.lastApplied ?? "") else { continue }
                        let store = try agent.openStore()
                        let f = Forwarder(buffer: agent.buffer, store: store, root: agent.root, logger: w.logger)
                        _ = try store.apply(try f.request(for: first, mode: .snapshot)) { body in try agent.buffer.rows(of: first, body) }
                        // The model: that version is applied now; the next forward only marks it.
                        if !mFirst.2 {
                            m.apply(mFirst.0, mFirst.1)
                            m.pending.removeAll { $0.name == mFirst.0 }
                            m.committed.append((mFirst.0, mFirst.1))
                        }
                    }
                    if case .flush = op { try #require(try w.snapshot("LMSUser", "Name") == m.table, "after \(ops)") }
                    if case .resume = op { try #require(try w.snapshot("LMSUser", "Name") == m.table, "after \(ops)") }
                }
                m.stage(); m.forward()
                _ = try w.flush()
                #expect(try w.snapshot("LMSUser", "Name") == m.table, "after \(ops)")
                #expect(try w.buffer().pendingFiles().isEmpty)
            } catch {
                Issue.record("\(error) after \(ops)")
            }
        }
    }
}
