import Agent
import Buffer
import Extract
import Foundation
import Stores
import Testing

/// The mass-delete guard: a snapshot that would soft-delete more than a set share of a large scope
/// is held, not applied, until an operator releases it or a newer snapshot replaces it.
@Suite("Mass-delete guard")
struct DeleteGuardTests {
    static func users(_ n: ClosedRange<Int>, name: String = "x") -> [[String: String]] { n.map { Row.user("u\($0)", name: name) } }

    @Test(arguments: TestEngine.available)
    func aSnapshotThatDropsMostOfALargeScopeIsHeldThenReleased(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.write("users/2026-09-01-06-00-00.csv", .users, Self.users(1...200))
        #expect(try w.flush().exitCode == .success)
        // A half-failed extractor: 3 of 200 users, and one of them changed.
        try w.write("users/2026-09-02-06-00-00.csv", .users, Self.users(1...3, name: "changed"))
        let run = try w.flush()
        #expect(run.exitCode == .heldFiles)
        #expect(run.heldFiles == 1)
        #expect(run.forward.byResource["users"]?.heldFiles == 1)
        // Nothing of it was applied: not the deletions, not the changes.
        #expect(try w.count("LMSUser") == 200)
        #expect(try w.snapshot("LMSUser", "Name")["u1"] == "x")
        let held = try #require(try w.buffer().heldFiles().first)
        #expect(held.path == "users/2026-09-02-06-00-00.csv")
        #expect(held.lastError?.contains("197 of the 200 live rows") == true)
        let status = try w.agent(csvPath: false).status()
        #expect(status.heldFiles == 1)
        // Still held on the next run; nothing else changes.
        #expect(try w.flush().exitCode == .heldFiles)

        // The operator says the deletions are real.
        let released = try w.buffer().release(id: held.id)
        #expect(released.state == .staged && released.guardReleased)
        #expect(try w.resume().exitCode == .success)
        #expect(try w.count("LMSUser") == 3)
        #expect(try w.count("LMSUser", live: false) == 200)
        #expect(try w.snapshot("LMSUser", "Name")["u1"] == "changed")
    }

    @Test(arguments: TestEngine.available)
    func aNewerSnapshotThatPassesTheGuardReplacesAHeldOne(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.write("users/2026-09-01-06-00-00.csv", .users, Self.users(1...200))
        try w.flush()
        try w.write("users/2026-09-02-06-00-00.csv", .users, Self.users(1...3))
        #expect(try w.flush().exitCode == .heldFiles)
        try w.write("users/2026-09-03-06-00-00.csv", .users, Self.users(1...199))
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(try w.count("LMSUser") == 199)
        let states = try w.buffer().files(ofResource: .users).map(\.state)
        #expect(states == [.forwarded, .superseded, .forwarded])
        // Recorded, as not applied, so that no loader applies the stale file later.
        let record = try w.store().processedRecord(fullPath: w.root + "/users/2026-09-02-06-00-00.csv")
        guard case .recordedNotApplied = record else { Issue.record("expected recordedNotApplied, got \(record)"); return }
        // A replaced file cannot be released any more.
        let replaced = try w.buffer().files(ofResource: .users)[1]
        #expect(throws: BufferError.self) { _ = try w.buffer().release(id: replaced.id) }
    }

    @Test(arguments: TestEngine.available)
    func aSectionScopeIsGuardedToo(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.write("users/2026-09-01-06-00-00.csv", .users, Self.users(1...150))
        try w.write("sections/2026-09-01-06-00-00.csv", .sections, [Row.section("s1")])
        try w.write("section=s1/section-associations/2026-09-01-06-00-00.csv", .sectionAssociations,
                    (1...150).map { Row.enrollment("e\($0)", user: "u\($0)", section: "s1") })
        #expect(try w.flush().exitCode == .success)
        try w.write("section=s1/section-associations/2026-09-02-06-00-00.csv", .sectionAssociations,
                    (1...10).map { Row.enrollment("e\($0)", user: "u\($0)", section: "s1") })
        #expect(try w.flush().exitCode == .heldFiles)
        #expect(try w.count("LMSUserLMSSectionAssociation") == 150)
    }

    @Test(arguments: TestEngine.available)
    func smallScopesAndADisabledGuardApplyEverything(_ engine: TestEngine) throws {
        // 60 live rows is below the minimum scope of 100: losing 57 of them is applied.
        let w = try World(engine: engine)
        try w.write("users/2026-09-01-06-00-00.csv", .users, Self.users(1...60))
        try w.flush()
        try w.write("users/2026-09-02-06-00-00.csv", .users, Self.users(1...3))
        #expect(try w.flush().exitCode == .success)
        #expect(try w.count("LMSUser") == 3)

        // Exactly half of a large scope is allowed; the guard is "more than".
        let h = try World(engine: engine)
        try h.write("users/2026-09-01-06-00-00.csv", .users, Self.users(1...200))
        try h.flush()
        try h.write("users/2026-09-02-06-00-00.csv", .users, Self.users(1...100))
        #expect(try h.flush().exitCode == .success)
        #expect(try h.count("LMSUser") == 100)

        // --max-delete-share 100 turns it off.
        let off = try World(engine: engine)
        try off.write("users/2026-09-01-06-00-00.csv", .users, Self.users(1...200))
        try off.flush()
        try off.write("users/2026-09-02-06-00-00.csv", .users, Self.users(1...3))
        var settings = off.settings
        settings.deleteGuard = nil
        #expect(try LMSAgent(settings: settings, logger: off.logger, requireExtract: true).run(scan: true).exitCode == .success)
        #expect(try off.count("LMSUser") == 3)
    }

    @Test func theGuardSettingsComeFromTheCommandLineOrTheEnvironment() throws {
        var o = CommandLineOptions()
        #expect(try Settings.resolve(o, environment: [:], dotEnvPath: "/nonexistent").deleteGuard == .standard)
        o.maxDeleteShare = "20%"
        o.minGuardedScope = "1000"
        #expect(try Settings.resolve(o, environment: [:], dotEnvPath: "/nonexistent").deleteGuard == DeleteGuard(maxShare: 0.2, minimumScope: 1000))
        o = CommandLineOptions()
        #expect(try Settings.resolve(o, environment: ["LMS_AGENT_MAX_DELETE_SHARE": "100"], dotEnvPath: "/nonexistent").deleteGuard == nil)
        o.maxDeleteShare = "half"
        #expect(throws: AgentError.self) { try Settings.resolve(o, environment: [:], dotEnvPath: "/nonexistent") }
    }
}

@Suite("Ledger state machine")
struct LedgerStateMachineTests {
    /// The whole table of legal moves; everything not listed is refused.
    @Test func exactlyTheListedMovesAreLegal() {
        let legal: [FileState: [LedgerEvent: FileState]] = [
            .staged: [.applied(waiting: false): .forwarded, .applied(waiting: true): .waiting, .held: .held,
                      .superseded: .superseded, .refused: .rejected],
            .waiting: [.waitingRowsApplied(remaining: true): .waiting, .waitingRowsApplied(remaining: false): .forwarded,
                       .superseded: .superseded, .refused: .rejected],
            .held: [.released: .staged, .superseded: .superseded],
            .rejected: [.retried: .staged],
        ]
        let events: [LedgerEvent] = [.applied(waiting: false), .applied(waiting: true), .waitingRowsApplied(remaining: true),
                                     .waitingRowsApplied(remaining: false), .held, .released, .superseded, .refused, .retried]
        for state in FileState.allCases {
            for event in events {
                #expect(state.after(event) == legal[state]?[event], "\(state) after \(event)")
            }
        }
        // Terminal states.
        for state in [FileState.forwarded, .superseded, .ignored] {
            #expect(events.allSatisfy { state.after($0) == nil })
        }
    }

    @Test func theBufferRefusesAnIllegalMove() throws {
        let w = try World(engine: .sqlite)
        try w.write("users/2026-09-01-06-00-00.csv", .users, [Row.user("u1")])
        #expect(try w.flush().exitCode == .success)
        let buffer = try w.buffer()
        let f = try #require(try buffer.files().first)
        #expect(throws: BufferError.self) { _ = try buffer.retry(id: f.id) }
        #expect(throws: BufferError.self) { _ = try buffer.release(id: f.id) }
        #expect(throws: IllegalTransition.self) { try buffer.markRejected(f, error: "x") }
        #expect(try buffer.file(id: f.id)?.state == .forwarded)
    }
}


