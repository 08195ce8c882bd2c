import Agent
import Buffer
import Extract
import Foundation
import Stores
import Testing

/// Many files in one LMS-DS transaction, with one set-based merge: the same result as file by
/// file, and a refused or held file never takes its batch-mates down with it.
@Suite("Forwarding in batches")
struct ForwardBatchTests {
    /// Users u1...u4, sections s1...sN, and one assignments file per section (one scope each).
    static func writeSections(_ w: World, _ n: Int, day: Int = 1, title: (Int) -> String = { "A\($0)" }) throws {
        let stamp = "2026-09-0\(day)-06-00-00"
        try w.write("users/\(stamp).csv", .users, (1...4).map { Row.user("u\($0)") })
        try w.write("sections/\(stamp).csv", .sections, (1...n).map { Row.section("s\($0)") })
        for i in 1...n {
            try w.write("section=s\(i)/assignments/\(stamp).csv", .assignments,
                        [Row.assignment("a\(i)", section: "s\(i)", title: title(i)), Row.assignment("b\(i)", section: "s\(i)")])
        }
    }

    @Test(arguments: TestEngine.available)
    func manyScopesGoInOneTransactionWithTheSameResultAsOneByOne(_ engine: TestEngine) throws {
        let batched = try World(engine: engine), single = try World(engine: engine)
        single.batchLimits = .oneFileEach
        for w in [batched, single] {
            try Self.writeSections(w, 7)
            #expect(try w.flush().exitCode == .success)
            // Day 2: one assignment moves to another section's file, one is dropped, one changes.
            try w.write("section=s1/assignments/2026-09-02-06-00-00.csv", .assignments, [Row.assignment("a1", section: "s1", title: "new")])
            try w.write("section=s2/assignments/2026-09-02-06-00-00.csv", .assignments,
                        [Row.assignment("a2", section: "s2"), Row.assignment("b2", section: "s2"), Row.assignment("b1", section: "s2")])
            #expect(try w.flush().exitCode == .success)
        }
        let run = try batched.flush()
        #expect(run.exitCode == .success)
        #expect(try batched.dumpWithoutTimes() == single.dumpWithoutTimes())
        #expect(try batched.value("SELECT Title FROM \(batched.t("Assignment")) WHERE SourceSystemIdentifier = 'a1'") == "new")
        // b1 left s1's file and is in s2's: live, in s2.
        #expect(try batched.value("SELECT count(*) FROM \(batched.t("Assignment")) WHERE SourceSystemIdentifier = 'b1' AND DeletedAt IS NULL") == "1")
    }

    @Test(arguments: TestEngine.available)
    func theLimitsCutBatches(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        w.batchLimits = BatchLimits(files: 2, rows: 100_000, seconds: 60)
        try Self.writeSections(w, 7)
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(run.forward.byResource["assignments"]?.files == 7)
        #expect(run.forward.byResource["assignments"]?.batches == 4)
        #expect(try w.count("Assignment") == 14)

        let byRows = try World(engine: engine)
        byRows.batchLimits = BatchLimits(files: 1_000, rows: 4, seconds: 60)
        try Self.writeSections(byRows, 7)
        let run2 = try byRows.flush()
        // Two files of two rows reach the budget of four rows.
        #expect(run2.forward.byResource["assignments"]?.batches == 4)
        #expect(try byRows.count("Assignment") == 14)
    }

    @Test(arguments: TestEngine.available)
    func aFileTheLMSDSRefusesInTheMiddleOfABatchIsRejectedAlone(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        w.migrationsDir = try w.refusingScript(table: "Assignment", column: "Title", value: "refuse-me")
        try Self.writeSections(w, 5) { $0 == 3 ? "refuse-me" : "A\($0)" }
        let run = try w.flush()
        #expect(run.exitCode == .rejectedFiles)
        #expect(run.forward.byResource["assignments"]?.rejectedFiles == 1)
        #expect(run.forward.errors.count == 1)
        #expect(run.forward.errors.first?.contains("section=s3/assignments/") == true)
        let states = try w.buffer().files(ofResource: .assignments).sorted { $0.path < $1.path }.map(\.state)
        #expect(states == [.forwarded, .forwarded, .rejected, .forwarded, .forwarded])
        #expect(try w.count("Assignment") == 8)
        let rejected = try #require(try w.buffer().files(inState: .rejected).first)
        #expect(rejected.lastError?.isEmpty == false)
    }

    @Test(arguments: TestEngine.available)
    func aHeldFileInABatchHoldsOnlyItself(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.write("users/2026-09-01-06-00-00.csv", .users, (1...150).map { Row.user("u\($0)") })
        try w.write("sections/2026-09-01-06-00-00.csv", .sections, (1...3).map { Row.section("s\($0)") })
        for s in 1...3 {
            try w.write("section=s\(s)/section-associations/2026-09-01-06-00-00.csv", .sectionAssociations,
                        (1...150).map { Row.enrollment("e\(s)-\($0)", user: "u\($0)", section: "s\(s)") })
        }
        #expect(try w.flush().exitCode == .success)
        // s2 loses most of its enrollments (a half-failed extractor); s1 and s3 change a little.
        for s in 1...3 {
            let kept = s == 2 ? 1...10 : 1...149
            try w.write("section=s\(s)/section-associations/2026-09-02-06-00-00.csv", .sectionAssociations,
                        kept.map { Row.enrollment("e\(s)-\($0)", user: "u\($0)", section: "s\(s)") })
        }
        let run = try w.flush()
        #expect(run.exitCode == .heldFiles)
        #expect(run.forward.byResource["section-associations"]?.heldFiles == 1)
        #expect(try w.count("LMSUserLMSSectionAssociation") == 149 + 150 + 149)
        let held = try #require(try w.buffer().heldFiles().first)
        #expect(held.path.hasPrefix("section=s2/"))
    }

    @Test(arguments: TestEngine.available)
    func aCrashAfterABatchCommitIsRecoveredInOneQueryAndNotAppliedTwice(_ engine: TestEngine) throws {
        // Section ids with the characters that a text[] or JSON list must escape.
        let odd = ["s\"1", "s,2", "s{3}", "s\\4", "s 5"]
        let w = try World(engine: engine)
        try w.write("users/2026-09-01-06-00-00.csv", .users, [Row.user("u1")])
        try w.write("sections/2026-09-01-06-00-00.csv", .sections, odd.map { Row.section($0) })
        try w.flush()
        for (i, s) in odd.enumerated() {
            try w.write("section=\(s)/assignments/2026-09-01-06-00-00.csv", .assignments, [Row.assignment("a\(i)", section: s)])
        }
        let agent = try w.agent()
        _ = try agent.scanAndStage()
        // Apply the five files as one batch straight through the store, then "crash" before the
        // buffer records them.
        let store = try agent.openStore()
        let files = try agent.buffer.pendingFiles().filter { $0.resource == .assignments }
        #expect(files.count == 5)
        let forwarder = Forwarder(buffer: agent.buffer, store: store, root: agent.root, logger: w.logger)
        let requests = try files.map { try forwarder.request(for: $0, mode: .snapshot) }
        let applied = try store.apply(batch: requests) { n, body in try agent.buffer.rows(of: files[n], body) }
        #expect(applied.results.map(\.inserted) == [1, 1, 1, 1, 1])
        let records = try store.processedRecords(fullPaths: requests.map(\.fullPath))
        #expect(records.count == 5)
        #expect(records.values.allSatisfy { if case .applied = $0 { true } else { false } })
        store.close()

        let run = try w.resume()
        #expect(run.exitCode == .success)
        #expect(run.forward.byResource["assignments"]?.alreadyApplied == 5)
        #expect(run.forward.byResource["assignments"]?.inserted == 0)
        #expect(run.forward.byResource["assignments"]?.batches == 1)
        #expect(try w.count("Assignment", live: false) == 5)
        #expect(try w.buffer().files(ofResource: .assignments).allSatisfy { $0.state == .forwarded })
    }

    @Test(arguments: TestEngine.available)
    func twoSnapshotsOfOneScopeNeverShareABatch(_ engine: TestEngine) throws {
        // Day 1 and day 2 staged together: day 2 must be applied after day 1, not beside it.
        let w = try World(engine: engine)
        try Self.writeSections(w, 3)
        try w.write("section=s1/assignments/2026-09-02-06-00-00.csv", .assignments, [Row.assignment("a1", section: "s1", title: "day 2")])
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(try w.value("SELECT Title FROM \(w.t("Assignment")) WHERE SourceSystemIdentifier = 'a1'") == "day 2")
        #expect(try w.value("SELECT count(*) FROM \(w.t("Assignment")) WHERE SourceSystemIdentifier = 'b1' AND DeletedAt IS NULL") == "0")
        #expect(run.forward.byResource["assignments"]?.batches == 2)
    }
}
