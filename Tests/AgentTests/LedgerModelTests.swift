import Agent
import Buffer
import Extract
import Foundation
import PropertyBased
import Stores
import Testing

/// The ledger, stager and forwarder against a simple model of what every resource's table and the
/// ledger must hold after any sequence of extractor writes, rewrites, deletions, flushes,
/// stage-only runs, resumes and crashes between the LMS-DS commit and the buffer update.
///
/// Each resource is a lane: one scope folder, its own ids x0...x2. A base snapshot of every lane
/// (all three ids, flushed first) gives the children their parents (u0, s0, e0, a0), so no row ever
/// waits; a parent soft-deleted later still resolves, as the merge resolves parents by natural key.
@Suite("Ledger against a model")
struct LedgerModelTests {
    /// One resource's files: where they live and what a row looks like.
    struct Lane {
        let resource: Resource
        let folder: String
        let prefix: String

        static let all: [Lane] = [
            Lane(resource: .users, folder: "users", prefix: "u"),
            Lane(resource: .sections, folder: "sections", prefix: "s"),
            Lane(resource: .sectionAssociations, folder: "section=s0/section-associations", prefix: "e"),
            Lane(resource: .assignments, folder: "section=s0/assignments", prefix: "a"),
            Lane(resource: .submissions, folder: "section=s0/assignment=a0/submissions", prefix: "b"),
            Lane(resource: .attendanceEvents, folder: "section=s0/attendance-events", prefix: "t"),
            Lane(resource: .sectionActivities, folder: "section=s0/section-activities", prefix: "c"),
            Lane(resource: .systemActivities, folder: "system-activities/date=2026-10-01", prefix: "y"),
        ]

        /// A row of this lane; `value` is its LastModifiedDate's variant (the compared column).
        func row(_ id: String, value: Int) -> [String: String] {
            let base: [String: String]
            switch resource {
            case .users: base = Row.user(id)
            case .sections: base = Row.section(id)
            case .sectionAssociations: base = Row.enrollment(id, user: "u0", section: "s0")
            case .assignments: base = Row.assignment(id, section: "s0")
            case .submissions: base = Row.submission(id, assignment: "a0", user: "u0")
            case .attendanceEvents: base = Row.attendance(id, user: "u0", section: "s0")
            case .sectionActivities: base = Row.sectionActivity(id, user: "u0", section: "s0")
            case .systemActivities: base = Row.systemActivity(id, user: "u0")
            default: preconditionFailure("no lane rows for \(resource)")
            }
            return base.merging(["LastModifiedDate": Lane.modified(value)]) { $1 }
        }

        static func modified(_ value: Int) -> String { "2026-09-01 08:00:0\(value)" }

        func path(_ name: String) -> String { "\(folder)/\(name)" }
    }

    enum Op: CustomStringConvertible {
        case newDay(lane: Int, rows: Int, value: Int)
        case rewriteNewest(lane: Int, rows: Int, value: Int)
        case rewriteOldest(lane: Int, rows: Int, value: Int)
        case flush, stageOnly, resume
        case deleteOldest(lane: Int)
        case crashAfterCommit

        /// Codes 0 ..< 8 * 8 * 8 * 3: kind, lane, which of x0...x2 (a bit mask), value.
        static let codes = 8 * 8 * 8 * 3

        init(_ n: Int) {
            let p = n / 8
            let lane = p % 8, rows = p / 8 % 8, value = p / 64 % 3
            switch n % 8 {
            case 0: self = .newDay(lane: lane, rows: rows, value: value)
            case 1: self = .rewriteNewest(lane: lane, rows: rows, value: value)
            case 2: self = .rewriteOldest(lane: lane, rows: rows, value: value)
            case 3: self = .flush
            case 4: self = .stageOnly
            case 5: self = .resume
            case 6: self = .deleteOldest(lane: lane)
            default: self = .crashAfterCommit
            }
        }

        var description: String {
            func l(_ i: Int) -> String { Lane.all[i].resource.rawValue }
            switch self {
            case .newDay(let i, let r, let v): return "newDay(\(l(i)),\(r),\(v))"
            case .rewriteNewest(let i, let r, let v): return "rewriteNewest(\(l(i)),\(r),\(v))"
            case .rewriteOldest(let i, let r, let v): return "rewriteOldest(\(l(i)),\(r),\(v))"
            case .flush: return "flush"
            case .stageOnly: return "stageOnly"
            case .resume: return "resume"
            case .deleteOldest(let i): return "deleteOldest(\(l(i)))"
            case .crashAfterCommit: return "crashAfterCommit"
            }
        }
    }

    /// A snapshot: which of x0...x2 it has (bit set) and their LastModifiedDate's variant.
    struct Content: Equatable {
        var rows: Int
        var value: Int
        /// A file without rows is its header alone, whatever the variant: the same bytes.
        init(rows: Int, value: Int) { self.rows = rows; self.value = rows == 0 ? 0 : value }
    }

    /// What one lane's files, ledger rows and table must be.
    struct LaneModel {
        let lane: Lane
        var files: [String: Content] = [:]
        var latestSeen: [String: Content] = [:]
        /// Every version of every path, oldest first, with its ledger state.
        var versions: [String: [(content: Content, state: FileState)]] = [:]
        /// Applied to the LMS-DS by a "crash" run, still staged in the buffer.
        var committed: [String: Content] = [:]
        var lastApplied: String?
        /// The content of the snapshot applied last (what a previous-snapshot scope deletes against).
        var lastContent: Content?
        var table: [String: String] = [:]   // id -> LastModifiedDate, or that and " deleted"

        var staged: [(name: String, content: Content)] {
            versions.keys.sorted().compactMap { name in
                versions[name]!.last.flatMap { $0.state == .staged && committed[name] == nil ? (name, $0.content) : nil }
            }
        }

        mutating func stage() {
            for name in files.keys.sorted() {
                let c = files[name]!
                if latestSeen[name] == c { continue }
                latestSeen[name] = c
                committed[name] = nil
                var list = versions[name] ?? []
                // An earlier content that came back: its old ledger row makes way for the new version.
                list.removeAll { $0.content == c }
                for i in list.indices where list[i].state == .staged { list[i].state = .superseded }
                list.append((c, .staged))
                versions[name] = list
            }
        }

        func ids(_ c: Content) -> [String] { (0..<3).filter { c.rows & (1 << $0) != 0 }.map { "\(lane.prefix)\($0)" } }

        mutating func apply(_ name: String, _ c: Content) {
            let ids = ids(c)
            for id in ids { table[id] = Lane.modified(c.value) }
            func delete(_ id: String) { if let v = table[id], !v.hasSuffix(" deleted") { table[id] = v + " deleted" } }
            switch lane.resource.schema.deleteScope {
            case .sourceSystem:
                // A top-level file with no rows names no source system: it deletes nothing.
                if !ids.isEmpty { for id in table.keys where !ids.contains(id) { delete(id) } }
            case .section, .assignment:
                // The folder names the scope: a header-only file empties it.
                for id in table.keys where !ids.contains(id) { delete(id) }
            case .previousSnapshot:
                if !ids.isEmpty, let previous = lastContent { for id in self.ids(previous) where !ids.contains(id) { delete(id) } }
            }
            lastApplied = max(lastApplied ?? name, name)
            lastContent = c
        }

        /// What the forwarder finds already in the LMS-DS is marked forwarded. `flush` does this
        /// before it stages (its stager runs beside the forwarder, after that recovery), so a
        /// version a crashed run committed stays forwarded when its path has a newer one.
        mutating func recover() {
            for name in committed.keys { setLastState(name, .forwarded) }
            committed = [:]
        }

        mutating func forward() {
            recover()
            for (name, c) in staged {
                if name >= (lastApplied ?? "") {
                    apply(name, c)
                    setLastState(name, .forwarded)
                } else {
                    setLastState(name, .superseded)
                }
            }
        }

        mutating func setLastState(_ name: String, _ state: FileState) {
            versions[name]![versions[name]!.count - 1].state = state
        }

        /// Ledger states by path, as the buffer should list them.
        var ledger: [String: [FileState]] {
            Dictionary(uniqueKeysWithValues: versions.map { (lane.path($0.key), $0.value.map(\.state)) })
        }
    }

    struct Model {
        var lanes = Lane.all.map { LaneModel(lane: $0) }
        mutating func stage() { for i in lanes.indices { lanes[i].stage() } }
        mutating func recover() { for i in lanes.indices { lanes[i].recover() } }
        /// `flush`: recovery, staging beside forwarding, forwarding.
        mutating func flush() { recover(); stage(); forward() }
        mutating func forward() { for i in lanes.indices { lanes[i].forward() } }
        var ledger: [String: [FileState]] { lanes.reduce(into: [:]) { $0.merge($1.ledger) { a, _ in a } } }
    }

    static func write(_ w: World, _ lane: Lane, _ name: String, _ c: Content) throws {
        let rows = (0..<3).filter { c.rows & (1 << $0) != 0 }.map { lane.row("\(lane.prefix)\($0)", value: c.value) }
        try w.write(lane.path(name), lane.resource, rows)
    }

    /// Every table and the ledger against the model.
    static func check(_ w: World, _ m: Model, _ ops: [Op]) throws {
        let buffer = try w.buffer()
        var ledger = m.ledger
        ledger.removeAll()
        for f in try buffer.files() { ledger[f.path, default: []].append(f.state) }
        try #require(ledger == m.ledger, "ledger after \(ops)")
        for lm in m.lanes {
            try #require(try w.snapshot(lm.lane.resource.schema.table) == lm.table, "\(lm.lane.resource.schema.table) after \(ops)")
        }
    }

    @Test func agentMatchesTheModel() async throws {
        await propertyCheck(count: 50, input: Gen.int(in: 0...(Op.codes - 1)).array(of: 1...24)) { codes in
            let ops = codes.map(Op.init)
            do {
                let w = try World()
                var m = Model()
                // The base: every id of every lane, applied before anything else.
                let base = "2026-09-30-06-00-00.csv"
                for i in m.lanes.indices {
                    m.lanes[i].files[base] = Content(rows: 7, value: 0)
                    try Self.write(w, m.lanes[i].lane, base, Content(rows: 7, value: 0))
                }
                m.stage(); m.forward()
                _ = try w.flush()
                try Self.check(w, m, [])
                var day = 0
                for op in ops {
                    switch op {
                    case .newDay(let i, let r, let v):
                        day += 1
                        let name = String(format: "2026-10-%02d-06-00-00.csv", day)
                        m.lanes[i].files[name] = Content(rows: r, value: v)
                        try Self.write(w, m.lanes[i].lane, name, m.lanes[i].files[name]!)
                    case .rewriteNewest(let i, let r, let v), .rewriteOldest(let i, let r, let v):
                        let names = m.lanes[i].files.keys.sorted()
                        guard let name = { if case .rewriteNewest = op { return names.last } else { return names.first } }() else { continue }
                        m.lanes[i].files[name] = Content(rows: r, value: v)
                        try Self.write(w, m.lanes[i].lane, name, m.lanes[i].files[name]!)
                    case .deleteOldest(let i):
                        guard let name = m.lanes[i].files.keys.sorted().first else { continue }
                        m.lanes[i].files[name] = nil
                        try w.remove(m.lanes[i].lane.path(name))
                    case .flush:
                        m.flush()
                        _ = try w.flush()
                    case .stageOnly:
                        m.stage()
                        _ = try w.agent().scanAndStage()
                    case .resume:
                        m.forward()
                        _ = try w.resume()
                    case .crashAfterCommit:
                        m.stage()
                        let agent = try w.agent()
                        _ = try agent.scanAndStage()
                        // The forwarder's first file (load order: resource, then snapshot), crashed ones included.
                        guard let first = try agent.buffer.pendingFiles().first,
                              let i = m.lanes.firstIndex(where: { $0.lane.resource == first.resource }) else { continue }
                        let lm = m.lanes[i]
                        let candidates = lm.staged.map { ($0.name, $0.content, false) } + lm.committed.map { ($0.key, $0.value, true) }
                        guard let mFirst = candidates.min(by: { $0.0 < $1.0 }), first.snapshot == mFirst.0,
                              mFirst.0 >= (lm.lastApplied ?? "") else { continue }
                        // Applied as the forwarder applies it (the dropped keys of a previous-snapshot
                        // scope included), then the process dies before the buffer records it.
                        let store = try agent.openStore()
                        let f = Forwarder(buffer: agent.buffer, store: store, root: agent.root, logger: w.logger)
                        var dropped: [NaturalKey] = []
                        if first.resource!.schema.deleteScope == .previousSnapshot, let previous = try agent.buffer.latestApplied(like: first) {
                            dropped = try agent.buffer.keysDropped(from: previous, to: first).map { NaturalKey($0.0, $0.1) }
                        }
                        _ = try store.apply(try f.request(for: first, mode: .snapshot, droppedKeys: dropped)) { body in try agent.buffer.rows(of: first, body) }
                        // The model: that version is applied now; the next forward only marks it.
                        if !mFirst.2 {
                            m.lanes[i].apply(mFirst.0, mFirst.1)
                            m.lanes[i].committed[mFirst.0] = mFirst.1
                        }
                    }
                    switch op {
                    case .flush, .resume, .stageOnly, .crashAfterCommit: try Self.check(w, m, ops)
                    default: break
                    }
                }
                m.flush()
                _ = try w.flush()
                try Self.check(w, m, ops)
                #expect(try w.buffer().pendingFiles().isEmpty)
            } catch {
                Issue.record("\(error) after \(ops)")
            }
        }
    }
}
