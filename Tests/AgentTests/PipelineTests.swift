import Agent
import Buffer
import Extract
import Foundation
import Stores
import Testing

@Suite("flush, resume and the ledger")
struct PipelineTests {
    @Test(arguments: TestEngine.available)
    func orphansWaitAndAreAppliedWhenTheirParentsArrive(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.write("section=s1/assignment=a1/submissions/2026-09-01-07-00-00.csv", .submissions,
                    [Row.submission("sub1", assignment: "a1", user: "u1"), Row.submission("sub9", assignment: "a1", user: "u9")])
        var run = try w.flush()
        #expect(run.exitCode == .waitingRows)
        #expect(run.waitingRows == 1)
        #expect(try w.snapshot("AssignmentSubmission").keys.sorted() == ["sub1"])
        let waiting = try w.buffer().waitingFiles()
        #expect(waiting.count == 1 && waiting[0].waitingRows == 1)

        // Nothing changes while the parent is missing.
        run = try w.flush()
        #expect(run.exitCode == .waitingRows)

        // The user arrives in a later users snapshot: the waiting row is applied, and kept live.
        try w.write("users/2026-09-02-06-00-00.csv", .users, (1...4).map { Row.user("u\($0)") } + [Row.user("u9")])
        run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(try w.snapshot("AssignmentSubmission") == ["sub1": "2026-09-01 08:00:00", "sub9": "2026-09-01 08:00:00"])
        #expect(try w.buffer().waitingFiles().isEmpty)
    }

    @Test(arguments: TestEngine.available)
    func waitingRowsOfAnOlderSnapshotAreReplacedByANewerOne(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.write("section=s1/assignment=a1/submissions/2026-09-01-07-00-00.csv", .submissions,
                    [Row.submission("sub9", assignment: "a1", user: "u9")])
        try w.flush()
        // The next snapshot no longer has sub9: it must never be inserted, even when u9 arrives.
        try w.write("section=s1/assignment=a1/submissions/2026-09-02-07-00-00.csv", .submissions,
                    [Row.submission("sub1", assignment: "a1", user: "u1")])
        try w.write("users/2026-09-02-06-00-00.csv", .users, (1...4).map { Row.user("u\($0)") } + [Row.user("u9")])
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(try w.snapshot("AssignmentSubmission").keys.sorted() == ["sub1"])
        let states = try w.buffer().files(ofResource: .submissions).map(\.state)
        #expect(states == [.superseded, .forwarded])
    }

    @Test(arguments: TestEngine.available)
    func anOlderSnapshotArrivingLateIsSuperseded(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.write("users/2026-09-05-06-00-00.csv", .users, [Row.user("u1", name: "New", modified: "2026-09-05 00:00:00")])
        try w.flush()
        try w.write("users/2026-09-04-06-00-00.csv", .users, [Row.user("u1", name: "Old"), Row.user("u2")])
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(run.forward.byResource["users"]?.supersededFiles == 1)
        #expect(try w.snapshot("LMSUser", "Name") == ["u1": "New"])
        // Recorded, so that the upstream loader sharing this database does not apply it either.
        #expect(try w.value("SELECT count(*) FROM \(w.t("ProcessedFiles")) WHERE FullPath LIKE '%2026-09-04-06-00-00.csv'") == "1")
        let old = try w.buffer().versions(of: "users/2026-09-04-06-00-00.csv")
        #expect(old.first?.state == .superseded)
    }

    @Test(arguments: TestEngine.available)
    func headerOnlyFiles(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.write("section=s1/section-activities/2026-09-01-07-00-00.csv", .sectionActivities,
                    [Row.sectionActivity("act1", user: "u1", section: "s1")])
        try w.write("section=s2/section-activities/2026-09-01-07-00-00.csv", .sectionActivities,
                    [Row.sectionActivity("act2", user: "u1", section: "s2")])
        try w.flush()
        // A header-only section file says "this section has none now" (upstream deletes nothing, D6).
        try w.write("section=s1/section-activities/2026-09-02-07-00-00.csv", .sectionActivities, [])
        // A header-only users file deletes nothing: more likely a failed extract than an empty LMS.
        try w.write("users/2026-09-02-06-00-00.csv", .users, [])
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(try w.snapshot("LMSSectionActivity") == ["act1": "2026-09-01 08:00:00 deleted", "act2": "2026-09-01 08:00:00"])
        #expect(try w.count("LMSUser") == 4)
        #expect(try w.value("SELECT NumberOfRows FROM \(w.t("ProcessedFiles")) WHERE FullPath LIKE '%users/2026-09-02-06-00-00.csv'") == "0")
    }

    @Test(arguments: TestEngine.available)
    func twoFlushesInARowChangeNothing(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.write("section=s1/assignment=a1/submissions/2026-09-01-07-00-00.csv", .submissions, [Row.submission("sub1", assignment: "a1", user: "u1")])
        try w.flush()
        let before = try w.dump()
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(run.stage?.staged == 0)
        #expect(run.stage?.unchanged == run.stage?.seen)
        #expect(run.forward.total.files == 0)
        #expect(try w.dump() == before)
    }

    @Test(arguments: TestEngine.available)
    func aRewrittenFileIsReloaded(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.flush()
        let path = "users/2026-09-01-06-00-00.csv"
        try w.write(path, .users, (1...4).map { Row.user("u\($0)", name: $0 == 2 ? "Renamed" : nil) })
        let run = try w.flush()
        #expect(run.stage?.staged == 1)
        #expect(try w.snapshot("LMSUser", "Name")["u2"] == "Renamed")
        let versions = try w.buffer().versions(of: path)
        #expect(versions.map(\.state) == [.forwarded, .forwarded])
        #expect(Set(versions.map(\.sha256)).count == 2)
        // ProcessedFiles holds the new checksum.
        #expect(try w.value("SELECT Checksum FROM \(w.t("ProcessedFiles")) WHERE FullPath LIKE '%\(path)'") == versions[1].sha256)
    }

    @Test(arguments: TestEngine.available)
    func resumeWorksAfterTheExtractIsDeleted(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        // Stage only (as if the LMS-DS had been down), then lose the extract.
        let report = try w.agent().scanAndStage()
        #expect(report.staged == 6)
        try FileManager.default.removeItem(atPath: w.root)
        let run = try w.resume()
        #expect(run.exitCode == .success)
        #expect(try w.count("LMSUser") == 4)
        #expect(try w.count("Assignment") == 2)
        #expect(try w.value("SELECT FullPath FROM \(w.t("ProcessedFiles")) WHERE ResourceName = 'users'") == w.root + "/users/2026-09-01-06-00-00.csv")
    }

    @Test(arguments: TestEngine.available)
    func anUnavailableTargetKeepsEverythingStaged(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        var s = w.settings
        switch engine {
        case .sqlite: s.dbname = "/proc/lms-ds.sqlite"  // a file that cannot be opened
        case .postgresql: s.password = "not-the-password"  // authentication fails
        }
        let run = try LMSAgent(settings: s, logger: w.logger, requireExtract: true).run(scan: true)
        #expect(run.exitCode == .targetUnavailable)
        #expect(run.pendingFiles == 6)
        // The message says what failed, and never carries the password.
        #expect(run.unavailable?.contains("not-the-password") == false)
        if engine == .postgresql {
            #expect(run.unavailable?.contains("password authentication failed") == true)
            // An unreachable server is the same kind of outage.
            var closed = w.settings
            closed.port = 1
            let again = try LMSAgent(settings: closed, logger: w.logger, requireExtract: true).run(scan: true)
            #expect(again.exitCode == .targetUnavailable)
            #expect(again.unavailable?.contains(TestPostgres.password) == false)
        }
        let resumed = try w.resume()
        #expect(resumed.exitCode == .success)
        #expect(try w.count("LMSUserLMSSectionAssociation") == 8)
    }

    @Test(arguments: TestEngine.available)
    func aCrashAfterTheLMSDSCommitIsNotAppliedTwice(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        let agent = try w.agent()
        _ = try agent.scanAndStage()
        // Apply the users file straight through the store, as a forwarder would, then "crash"
        // before the buffer records it.
        let store = try agent.openStore()
        let users = try agent.buffer.pendingFiles().first { $0.resource == .users }!
        let forwarder = Forwarder(buffer: agent.buffer, store: store, root: agent.root, logger: w.logger)
        let request = try forwarder.request(for: users, mode: .snapshot)
        _ = try store.apply(request) { body in try agent.buffer.rows(of: users, body) }
        #expect(try agent.buffer.file(id: users.id)?.state == .staged)

        let run = try w.resume()
        #expect(run.exitCode == .success)
        #expect(run.forward.byResource["users"]?.alreadyApplied == 1)
        #expect(run.forward.byResource["users"]?.inserted == 0)
        #expect(try w.count("LMSUser", live: false) == 4)
    }

    @Test(arguments: TestEngine.available)
    func upstreamRecordedFilesAreNotReloaded(_ engine: TestEngine) throws {
        // The upstream loader records FullPath without a checksum; the agent honours its record.
        let w = try World(engine: engine)
        try w.writeBase()
        _ = try w.agent().openStore()
        try w.execute("INSERT INTO \(w.t("ProcessedFiles")) (FullPath, ResourceName, NumberOfRows) VALUES ('\(w.root)/users/2026-09-01-06-00-00.csv', 'users', 4)")
        let run = try w.flush()
        #expect(run.forward.byResource["users"]?.alreadyApplied == 1)
        #expect(try w.count("LMSUser", live: false) == 0)
    }

    @Test(arguments: TestEngine.available)
    func upperCaseAssignmentFoldersLoadAndAreRecordedInLowerCase(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.write("section=s1/Assignment=a1/submissions/2026-09-01-07-00-00.csv", .submissions, [Row.submission("sub1", assignment: "a1", user: "u1")])
        #expect(try w.flush().exitCode == .success)
        #expect(try w.count("AssignmentSubmission") == 1)
        #expect(try w.value("SELECT FullPath FROM \(w.t("ProcessedFiles")) WHERE ResourceName = 'submissions'") == w.root + "/section=s1/assignment=a1/submissions/2026-09-01-07-00-00.csv")
    }

    @Test(arguments: TestEngine.available)
    func duplicateKeysInOneFileKeepTheLastRow(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.write("users/2026-09-01-06-00-00.csv", .users, [Row.user("u1", name: "First"), Row.user("u2"), Row.user("u1", name: "Second")])
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(try w.snapshot("LMSUser", "Name") == ["u1": "Second", "u2": "User u2"])
        #expect(try w.buffer().files().first?.warnings?.contains("lines 2, 4") == true)
    }

    @Test(arguments: TestEngine.available)
    func retryForwardsARejectedFileAgain(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        // A value the LMS-DS refuses, simulated with a trigger from the user's own migration folder.
        let extra = w.dir + "/migrations"
        try FileManager.default.createDirectory(atPath: extra, withIntermediateDirectories: true)
        let refuse = engine == .sqlite
            ? "CREATE TRIGGER no_bad BEFORE INSERT ON LMSSection WHEN NEW.Title = 'bad' BEGIN SELECT RAISE(ABORT, 'bad title'); END;"
            : "ALTER TABLE lms.LMSSection ADD CONSTRAINT bad_title CHECK (Title <> 'bad');"
        try refuse.write(toFile: extra + "/9001_refuse_bad_titles.sql", atomically: true, encoding: .utf8)
        var s = w.settings
        s.migrationsDir = extra
        try w.write("sections/2026-09-01-06-00-00.csv", .sections, [Row.section("s1", title: "bad"), Row.section("s2")])
        var run = try LMSAgent(settings: s, logger: w.logger, requireExtract: true).run(scan: true)
        #expect(run.exitCode == .rejectedFiles)
        #expect(try w.count("LMSSection", live: false) == 0)
        let rejected = try w.buffer().outstandingRejected()
        #expect(rejected.count == 1 && rejected[0].lastError?.contains("bad") == true)
        // Fixed by the user, then retried.
        try w.execute(engine == .sqlite ? "DROP TRIGGER no_bad" : "ALTER TABLE lms.LMSSection DROP CONSTRAINT bad_title")
        #expect(try w.buffer().retry(id: rejected[0].id) == .pending)
        run = try w.resume()
        #expect(run.exitCode == .success)
        #expect(try w.count("LMSSection") == 2)
    }
}

