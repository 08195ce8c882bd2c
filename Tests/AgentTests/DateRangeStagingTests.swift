import Agent
import Buffer
import Extract
import Foundation
import Testing

/// Defect 9: `0001-01-01T00:00:00+01:00` is year 0 once converted to UTC. It passed validation, was
/// stored as `0000-12-31 23:00:00` by SQLite and refused by PostgreSQL at forwarding time (where the
/// refusal also poisoned the session, defect 3). It must be refused at staging, on every engine, with
/// the file, line and column, and the rest of the extract must load.
@Suite("A date out of range once converted to UTC is refused at staging")
struct DateRangeStagingTests {
    @Test(arguments: TestEngine.available, ["0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00"])
    func refusedAtStagingWithFileLineAndColumn(_ engine: TestEngine, _ value: String) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.flush()
        let before = try w.snapshot("LMSUser")

        let path = "users/2026-09-02-06-00-00.csv"
        var bad = Row.user("u5")
        bad["CreateDate"] = value
        try w.write(path, .users, [Row.user("u1", name: "Renamed"), bad])
        try w.write("section=s2/section-activities/2026-09-02-07-00-00.csv", .sectionActivities,
                    [Row.sectionActivity("act1", user: "u1", section: "s2")])
        let run = try w.flush()

        #expect(run.exitCode == .rejectedFiles)
        #expect(run.stage?.rejected == 1, "refused at staging, not later by the LMS-DS")
        #expect(run.forward.errors.isEmpty, "\(run.forward.errors)")
        let error = try #require(run.stage?.errors.first)
        #expect(error.contains("\(path):3: column 'CreateDate'"), "\(error)")
        #expect(error.contains("once converted to UTC"), "\(error)")
        let ledger = try #require(try w.buffer().latestVersion(of: path))
        #expect(ledger.state == .rejected)

        // Nothing of the file applied (u1 keeps its name, no u5), the other file loaded.
        #expect(try w.snapshot("LMSUser") == before)
        #expect(try w.value("SELECT Name FROM \(w.t("LMSUser")) WHERE SourceSystemIdentifier = 'u1'") == "User u1")
        #expect(try w.count("LMSSectionActivity") == 1)
    }
}
