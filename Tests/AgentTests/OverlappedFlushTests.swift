@testable import Agent
import Buffer
import Extract
import Foundation
import SampleExtract
import Stores
import Testing

/// `flush` stages and forwards at once (two threads, two buffer connections): the LMS-DS and the
/// buffer must end exactly as a flush that stages everything first leaves them.
@Suite("Overlapped flush")
struct OverlappedFlushTests {
    static func sample(day: Int) -> SampleOptions { .sized(users: 150, sections: 8, assignmentsPerSection: 4, day: day) }

    /// What a run did, in the counts that must not depend on how it was scheduled.
    static func outcome(_ run: RunSummary) -> [String] {
        let t = run.forward.total, s = run.stage
        return ["exit \(run.exitCode)", "staged \(s?.staged ?? -1) rows \(s?.stagedRows ?? -1) unchanged \(s?.unchanged ?? -1) rejected \(s?.rejected ?? -1)",
                "files \(t.files) rows \(t.rows) +\(t.inserted) ~\(t.updated) restored \(t.restored) -\(t.softDeleted)",
                "waiting \(t.waitingRows) refused \(t.rejectedFiles) superseded \(t.supersededFiles) held \(t.heldFiles) deltas \(t.deltaFiles)",
                "pending \(run.pendingFiles) waiting rows \(run.waitingRows)"]
    }

    /// The first lines that only one of two dumps has (with the first dump's marked `<`).
    static func difference(_ a: [String], _ b: [String]) -> [String] {
        let x = Set(a), y = Set(b)
        return (x.subtracting(y).map { "< " + $0 } + y.subtracting(x).map { "> " + $0 }).sorted().prefix(8).map { String($0.prefix(300)) }
    }

    /// The ledger: every version's path, state and waiting rows.
    static func ledger(_ w: World) throws -> [String] {
        try w.buffer().files().map { "\($0.path) \($0.state.rawValue) \($0.waitingRows)" }.sorted()
    }

    @Test(arguments: TestEngine.available)
    func overlappedAndSequentialFlushesEndTheSame(_ engine: TestEngine) throws {
        let overlapped = try World(engine: engine), sequential = try World(engine: engine)
        sequential.sequential = true
        // Small batches: many LMS-DS transactions, interleaved with the stager's commits.
        for w in [overlapped, sequential] { w.batchLimits = BatchLimits(files: 7, rows: 400, seconds: 2) }
        let log = LogCapture()
        // Days 3 and 4 arrive together (an extractor that ran twice before the agent): two snapshots
        // of every scope in one flush, which the stager commits one after the other.
        for day in [1, 2, 4, 5] {
            for w in [overlapped, sequential] {
                if day == 4 { _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 3)) }
                _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: day))
                switch day {
                case 2:
                    // Bad input: rejected, the rest flows.
                    try w.write("users/2026-10-02-23-00-00.csv", .users, [Row.user("u1", modified: "not a date")])
                case 4:
                    // An old snapshot rewritten: a new version of a path whose scope has newer ones.
                    let first = try #require(try FileManager.default.contentsOfDirectory(atPath: w.root + "/users").sorted().first)
                    try w.write("users/" + first, .users, [Row.user("u1", name: "rewritten")])
                case 5:
                    // A snapshot whose enrollments wait for a user that never comes.
                    try w.write("section=s-orphan/section-associations/2026-10-04-23-00-00.csv", .sectionAssociations,
                                [Row.enrollment("e-orphan", user: "nobody", section: "s-orphan")])
                default: break
                }
            }
            overlapped.logger = log.logger
            let agent = try overlapped.agent()
            agent.overlappedCommitSeconds = 0
            let a = try agent.run(scan: true)
            agent.close()
            let b = try sequential.flush()
            #expect(Self.outcome(a) == Self.outcome(b), "day \(day)")
            let x = try overlapped.dumpByNaturalKeys(), y = try sequential.dumpByNaturalKeys()
            #expect(x.count == y.count && Self.difference(x, y).isEmpty, "day \(day): \(Self.difference(x, y))")
            let l1 = try Self.ledger(overlapped), l2 = try Self.ledger(sequential)
            #expect(Self.difference(l1, l2).isEmpty, "day \(day): \(Self.difference(l1, l2))")
        }
        // The two halves really overlapped: a file was forwarded before the last one was staged.
        let lines = log.messages(atLeast: .debug)
        let firstForward = try #require(lines.firstIndex { $0.hasPrefix("forward: ") && $0.hasSuffix(".csv") })
        let lastStage = try #require(lines.lastIndex { $0.hasPrefix("stage: ") && $0.hasSuffix(".csv") })
        #expect(firstForward < lastStage)
    }

    @Test(arguments: TestEngine.available)
    func anInterruptedOverlappedFlushLosesNothing(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 1))
        // A signal after a few files have been forwarded: both halves stop between files.
        let log = LogCapture()
        w.logger = log.logger
        let agent = try w.agent()
        agent.overlappedCommitSeconds = 0
        let run = try agent.run(scan: true, shouldStop: {
            log.messages(atLeast: .debug).filter { $0.hasPrefix("forward: ") && $0.hasSuffix(".csv") }.count >= 3
        })
        agent.close()
        #expect(run.exitCode == .interrupted)
        // The next flush finishes the job, and the LMS-DS is what one uninterrupted flush makes of it.
        #expect(try w.flush().exitCode == .success)
        let whole = try World(engine: engine)
        _ = try SampleGenerator.write(to: whole.root, options: Self.sample(day: 1))
        #expect(try whole.flush().exitCode == .success)
        let x = try w.dumpByNaturalKeys(), y = try whole.dumpByNaturalKeys()
        #expect(x.count == y.count && Self.difference(x, y).isEmpty, "\(Self.difference(x, y))")
    }

    @Test func aScopeIsReadyOnlyOnceTheStagerHasCommittedAllOfIt() throws {
        let registry = ResourceRegistry.standard
        func candidate(_ path: String) -> Candidate { Candidate(relativePath: path, classification: registry.classify(path), size: 10, mtimeNs: 0) }
        // Given out of order: the watermark sorts them by resource, scope, then snapshot.
        let paths = ["section=s2/section-associations/2026-09-01-06-00-00.csv",
                     "users/2026-09-02-06-00-00.csv",
                     "section=s1/section-associations/2026-09-02-06-00-00.csv",
                     "users/2026-09-01-06-00-00.csv",
                     "section=s1/section-associations/2026-09-01-06-00-00.csv",
                     "sections/2026-09-01-06-00-00.csv"]
        var order = paths.map(candidate)
        let watermark = StagingWatermark(ordering: &order, registry: registry)
        #expect(order.map(\.relativePath) == [
            "users/2026-09-01-06-00-00.csv", "users/2026-09-02-06-00-00.csv", "sections/2026-09-01-06-00-00.csv",
            "section=s1/section-associations/2026-09-01-06-00-00.csv", "section=s1/section-associations/2026-09-02-06-00-00.csv",
            "section=s2/section-associations/2026-09-01-06-00-00.csv"])
        func file(_ path: String) throws -> ExtractFile {
            guard case .file(let f) = registry.classify(path) else { throw CancellationError() }
            return f
        }
        let users = try file("users/2026-09-09-06-00-00.csv")
        let s1 = try file("section=s1/section-associations/2026-09-09-06-00-00.csv")
        let s2 = try file("section=s2/section-associations/2026-09-09-06-00-00.csv")
        let usersRank = registry.forwardRank(of: .users)
        #expect(!watermark.readiness.isReady(users.resource, scope: users.scope.key))
        // One users file committed: the scope still has another file to come.
        watermark.committed(through: 1)
        #expect(!watermark.readiness.isReady(users.resource, scope: users.scope.key) && !watermark.isStaged(rank: usersRank))
        watermark.committed(through: 2)
        #expect(watermark.readiness.isReady(users.resource, scope: users.scope.key) && watermark.isStaged(rank: usersRank))
        #expect(!watermark.readiness.isReady(s1.resource, scope: s1.scope.key))
        // s1's first snapshot is in; its second is not: s1 waits, and so does s2.
        watermark.committed(through: 4)
        #expect(!watermark.readiness.isReady(s1.resource, scope: s1.scope.key) && !watermark.readiness.isReady(s2.resource, scope: s2.scope.key))
        watermark.committed(through: 5)
        #expect(watermark.readiness.isReady(s1.resource, scope: s1.scope.key) && !watermark.readiness.isReady(s2.resource, scope: s2.scope.key))
        #expect(!watermark.isStaged(rank: registry.forwardRank(of: .sectionAssociations)))
        // A readiness is one instant: what it judged stays judged, while the stager goes on (a
        // forwarding round asks once, so it never sees a scope's newer snapshot without its older).
        let before = watermark.readiness
        watermark.committed(through: 6)
        #expect(!before.isReady(s2.resource, scope: s2.scope.key) && watermark.readiness.isReady(s2.resource, scope: s2.scope.key))
        // Stopped or failed before the end: nothing more comes, everything is ready.
        var again = paths.map(candidate)
        let unfinished = StagingWatermark(ordering: &again, registry: registry)
        unfinished.finish(fault: "disk full")
        #expect(unfinished.readiness.isReady(s2.resource, scope: s2.scope.key) && unfinished.isStaged(rank: usersRank))
        #expect(unfinished.stagingFault == "disk full")
    }
}
