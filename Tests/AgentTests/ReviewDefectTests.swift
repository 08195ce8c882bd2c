@testable import Agent
import Buffer
import Extract
import Foundation
@testable import PostgresDB
@testable import SQLiteDB
@testable import Stores
import Testing

/// Regression tests of the defects a review of main found (issue 7, section 1). Each failed on the
/// code before its fix.
@Suite("Review defects: nothing lost, nothing applied twice")
struct ReviewDefectTests {
    static let ts1 = "2026-09-01-06-00-00.csv"

    // MARK: defect 1

    /// v1 of a users file staged, rewritten as v2, v2 forwarded: retrying v1 must be refused (it
    /// was superseded and has no rows; before the fix, resume then soft-deleted all ten users).
    @Test(arguments: TestEngine.available)
    func retryOfASupersededVersionIsRefusedAndDeletesNothing(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.write("users/\(Self.ts1)", .users, (1...10).map { Row.user("u\($0)", name: "v1") })
        _ = try w.agent().scanAndStage()   // the target was down: v1 only staged
        try w.write("users/\(Self.ts1)", .users, (1...10).map { Row.user("u\($0)", name: "v2") })
        #expect(try w.flush().exitCode == .success)
        let versions = try w.buffer().files(ofResource: .users)
        #expect(versions.map(\.state) == [.superseded, .forwarded])

        #expect(throws: BufferError.self) { _ = try w.buffer().retry(id: versions[0].id) }
        let run = try w.resume()
        #expect(run.forward.total.softDeleted == 0)
        #expect(try w.count("LMSUser") == 10)
        #expect(Set(try w.snapshot("LMSUser", "Name").values) == ["v2"])
    }

    /// Even a ledger put back to `staged` by hand (or by any future bug) never applies an older
    /// version of a path over the newer one already applied, nor a snapshot whose rows are gone.
    @Test(arguments: TestEngine.available)
    func theForwarderNeverAppliesAnOlderVersionOverANewerOne(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.write("users/\(Self.ts1)", .users, (1...10).map { Row.user("u\($0)", name: "v1") })
        _ = try w.agent().scanAndStage()
        try w.write("users/\(Self.ts1)", .users, (1...10).map { Row.user("u\($0)", name: "v2") })
        try w.flush()
        let v1 = try w.buffer().files(ofResource: .users)[0]
        let raw = try SQLiteDatabase(path: w.dir + "/buffer.sqlite")
        try raw.run("UPDATE files SET state = 'staged' WHERE id = ?", [.integer(v1.id)])

        let run = try w.resume()
        #expect(run.forward.total.softDeleted == 0)
        #expect(try w.count("LMSUser") == 10)
        #expect(Set(try w.snapshot("LMSUser", "Name").values) == ["v2"])
        #expect(try w.buffer().file(id: v1.id)?.state == .superseded)
    }

    /// A rejected version that is no longer the newest of its scope is not put back in line: applying
    /// it would roll the scope back to older content.
    @Test(arguments: TestEngine.available)
    func retryOfARejectedOlderSnapshotIsRefused(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        w.migrationsDir = try Self.refusingMigration(w, name: "refuse-me")
        try w.write("users/2026-09-01-06-00-00.csv", .users, [Row.user("u1", name: "refuse-me"), Row.user("u2", name: "old")])
        try w.write("users/2026-09-02-06-00-00.csv", .users, [Row.user("u1", name: "new"), Row.user("u2", name: "new")])
        #expect(try w.flush().exitCode == .rejectedFiles)
        let files = try w.buffer().files(ofResource: .users)
        #expect(files.map(\.state) == [.rejected, .forwarded])
        #expect(throws: BufferError.self) { _ = try w.buffer().retry(id: files[0].id) }
        #expect(Set(try w.snapshot("LMSUser", "Name").values) == ["new"])
    }

    // MARK: defect 2

    /// A late older snapshot is recorded in ProcessedFiles without being applied. A crash before the
    /// buffer marked it superseded left it `staged`; the next pass took the record for an applied
    /// file, made its orphan row `waiting`, and inserted it once the parent arrived, although the
    /// newer applied snapshot lacks it.
    @Test(arguments: TestEngine.available)
    func aSupersededRecordIsNeverTakenForAnAppliedFile(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase(day: 2)
        #expect(try w.flush().exitCode == .success)
        // The late, older snapshot of s1's enrollments, with an orphan (u9 is not a user yet).
        try w.write("section=s1/section-associations/2026-09-01-06-00-00.csv", .sectionAssociations,
                    (1...4).map { Row.enrollment("e-s1-u\($0)", user: "u\($0)", section: "s1") }
                        + [Row.enrollment("e-s1-u9", user: "u9", section: "s1")])
        let agent = try w.agent()
        _ = try agent.scanAndStage()
        let late = try #require(try agent.buffer.pendingFiles().first { $0.resource == .sectionAssociations })
        // What the forwarder commits to the LMS-DS for it before the crash; the buffer's update is lost.
        let store = try agent.openStore()
        let forwarder = Forwarder(buffer: agent.buffer, store: store, root: agent.root, logger: w.logger)
        try store.recordWithoutApplying(try forwarder.request(for: late, mode: .snapshot))

        #expect(try w.resume().exitCode == .success)
        #expect(try w.buffer().file(id: late.id)?.state == .superseded)
        // u9 arrives: the stale enrollment must not come with it.
        try w.write("users/2026-09-03-06-00-00.csv", .users, (1...4).map { Row.user("u\($0)") } + [Row.user("u9")])
        #expect(try w.flush().exitCode == .success)
        #expect(try w.count("LMSUserLMSSectionAssociation") == 8)
        #expect(try w.snapshot("LMSUserLMSSectionAssociation", "EnrollmentStatus")["e-s1-u9"] == nil)
    }

    // MARK: defect 3

    /// After the LMS-DS refused one file, the next file of the same resource in the same session
    /// must load (PostgreSQL lost its staging table with the rollback: "relation does not exist").
    @Test(arguments: TestEngine.available)
    func aRefusedFileDoesNotBreakTheNextFileOfItsResource(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        w.migrationsDir = try Self.refusingMigration(w, name: "refuse-me")
        try w.write("users/2026-09-01-06-00-00.csv", .users, [Row.user("u1", name: "refuse-me")])
        try w.write("users/2026-09-02-06-00-00.csv", .users, [Row.user("u1"), Row.user("u2")])
        let run = try w.flush()
        #expect(run.exitCode == .rejectedFiles)
        #expect(run.forward.byResource["users"]?.rejectedFiles == 1)
        #expect(try w.buffer().files(ofResource: .users).map(\.state) == [.rejected, .forwarded])
        #expect(try w.count("LMSUser") == 2)
        #expect(run.forward.errors.count == 1)
        #expect(run.forward.errors[0].contains("2026-09-01-06-00-00.csv"))
    }

    // MARK: defect 4 (the real disk-full runs are in the fault tests)

    @Test func theEnginesClassifyFaultsOfTheEnvironmentAsUnavailable() throws {
        func isUnavailable(_ e: any Error) -> Bool { (e as? StoreError)?.cause == .unavailable }
        func isRejected(_ e: any Error) -> Bool { (e as? StoreError)?.cause == .dataRefused }
        // SQLite primary codes: 13 FULL, 10 IOERR, 8 READONLY, 14 CANTOPEN, 3 PERM, 5 BUSY, 11 CORRUPT; 19 CONSTRAINT, 20 MISMATCH, 18 TOOBIG.
        for code: Int32 in [13, 10, 8, 14, 3, 5, 11, 1, 10 | (4 << 8)] {
            #expect(isUnavailable(SQLiteStore.classify(SQLiteError(code: code, message: "x", sql: nil))), "code \(code)")
        }
        for code: Int32 in [19, 20, 18, 19 | (6 << 8)] {
            #expect(isRejected(SQLiteStore.classify(SQLiteError(code: code, message: "x", sql: nil))), "code \(code)")
        }
        // SQLSTATE: disk full, I/O, shutdown, permission, undefined table, connection: not the data's.
        for state in ["53100", "58030", "57P01", "42501", "42P01", "08006", "40001"] {
            #expect(isUnavailable(PostgresStore.classify(PostgresError(sqlState: state, message: "x", connectionLost: false))), "\(state)")
        }
        for state in ["22007", "22001", "23505", "23514", "54000"] {
            #expect(isRejected(PostgresStore.classify(PostgresError(sqlState: state, message: "x", connectionLost: false))), "\(state)")
        }
    }

    // MARK: defect 6

    /// A file of one byte at the stat, filled before the read (an extractor rewriting in place): it
    /// must not be recorded `ignored` with the checksum of its full content (it would never load).
    @Test func aTinyFileThatFillsUpBeforeTheReadIsStagedNotIgnored() throws {
        let w = try World(engine: .sqlite)
        try w.writeRaw("users/\(Self.ts1)", "\n")
        let agent = try w.agent()
        let full = w.root + "/users/\(Self.ts1)"
        var stager = Stager(root: agent.root, buffer: agent.buffer, logger: w.logger)
        let world = UncheckedBox(w)
        stager.beforeRead = { path in
            guard path == full, (Scanner.fileStat(path)?.size ?? 0) <= 4 else { return }
            try? world.value.write("users/\(Self.ts1)", .users, [Row.user("u1"), Row.user("u2")])
        }
        let candidate = try #require(try Scanner.scan(root: w.root).first)
        let result = try stager.stage(candidate)
        if case .staged(_, let rows) = result { #expect(rows == 2) } else { Issue.record("expected staged, got \(result)") }
        #expect(try w.flush().exitCode == .success)
        #expect(try w.count("LMSUser") == 2)
    }

    // MARK: helpers

    /// A user migration that makes the LMS-DS refuse a user named `name` (a refusal only the server
    /// makes: the agent's validation lets the value through).
    static func refusingMigration(_ w: World, name: String) throws -> String {
        try w.refusingScript(table: "LMSUser", column: "Name", value: name)
    }
}

/// Hands a non-Sendable test object to a `@Sendable` hook that runs on the same thread.
final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
