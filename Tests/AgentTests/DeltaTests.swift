import Agent
import Buffer
import Extract
import Foundation
import SampleExtract
import Stores
import Testing

/// Delta snapshots: a snapshot whose scope's previous applied snapshot is in the buffer sends only
/// the rows that changed and the keys it lost, and the LMS-DS ends exactly as a whole merge leaves it.
@Suite("Delta snapshots")
struct DeltaTests {
    static func sample(day: Int) -> SampleOptions { .sized(users: 120, sections: 5, assignmentsPerSection: 3, day: day) }

    @Test(arguments: TestEngine.available)
    func deltasAndWholeMergesEndTheSameOverFiveDays(_ engine: TestEngine) throws {
        let delta = try World(engine: engine), whole = try World(engine: engine)
        whole.fullMerge = true
        for day in 1...5 {
            for w in [delta, whole] { _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: day)) }
            let d = try delta.flush(), f = try whole.flush()
            #expect(d.exitCode == .success && f.exitCode == .success, "day \(day)")
            #expect(f.forward.total.deltaFiles == 0)
            if day > 1 {
                #expect(d.forward.total.deltaFiles > 0, "day \(day)")
                #expect(d.forward.total.unchangedRows > 0, "day \(day)")
            }
            // The same counts of what changed, and the same tables, row for row.
            #expect(d.forward.total.inserted == f.forward.total.inserted, "day \(day)")
            #expect(d.forward.total.softDeleted == f.forward.total.softDeleted, "day \(day)")
            #expect(d.forward.total.restored == f.forward.total.restored, "day \(day)")
            let a = try delta.dumpWithoutTimes(), b = try whole.dumpWithoutTimes()
            #expect(a == b, "day \(day): \(Array(Set(a).symmetricDifference(Set(b))).sorted().prefix(6))")
        }
    }

    @Test(arguments: TestEngine.available)
    func aDeltaSendsOnlyWhatChanged(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.write("users/2026-09-01-06-00-00.csv", .users, (1...200).map { Row.user("u\($0)") })
        #expect(try w.flush().exitCode == .success)
        var day2 = (1...201).filter { $0 != 7 }.map { Row.user("u\($0)") }
        day2[4] = Row.user("u5", name: "changed")
        try w.write("users/2026-09-02-06-00-00.csv", .users, day2)
        let run = try w.flush()
        let users = try #require(run.forward.byResource["users"])
        #expect(users.deltaFiles == 1)
        #expect(users.unchangedRows == 198)
        #expect(users.inserted == 1 && users.updated == 1 && users.softDeleted == 1)
        #expect(try w.count("LMSUser") == 200)
        #expect(try w.snapshot("LMSUser", "Name")["u5"] == "changed")
        #expect(try w.value("SELECT count(*) FROM \(w.t("LMSUser")) WHERE SourceSystemIdentifier = 'u7' AND DeletedAt IS NOT NULL") == "1")
    }

    @Test(arguments: TestEngine.available)
    func rowsThatWaitedAndRowsThatCameBackAreSent(_ engine: TestEngine) throws {
        let delta = try World(engine: engine), whole = try World(engine: engine)
        whole.fullMerge = true
        let enrollments = [Row.enrollment("e1", user: "u1", section: "s1"), Row.enrollment("e9", user: "u9", section: "s1")]
        let users: [[String]] = [["u1", "u2", "u3"], ["u1", "u3", "u9"], ["u1", "u2", "u3", "u9"]]
        for (n, ids) in users.enumerated() {
            for w in [delta, whole] {
                let stamp = "2026-09-0\(n + 1)-06-00-00"
                try w.write("users/\(stamp).csv", .users, ids.map { Row.user($0) })
                try w.write("sections/\(stamp).csv", .sections, [Row.section("s1")])
                // The same enrollments every day: on day 2 e9's user arrives, with e9 unchanged.
                try w.write("section=s1/section-associations/\(stamp).csv", .sectionAssociations, enrollments)
                _ = try w.flush()
            }
            #expect(try delta.dumpWithoutTimes() == whole.dumpWithoutTimes(), "day \(n + 1)")
        }
        // e9 waited on day 1 (its user was missing) and was applied on day 2 although unchanged.
        #expect(try delta.value("SELECT count(*) FROM \(delta.t("LMSUserLMSSectionAssociation")) WHERE SourceSystemIdentifier = 'e9' AND DeletedAt IS NULL") == "1")
        // u2, dropped on day 2, came back on day 3 with the values it had on day 1: restored.
        #expect(try delta.value("SELECT count(*) FROM \(delta.t("LMSUser")) WHERE SourceSystemIdentifier = 'u2' AND DeletedAt IS NULL") == "1")
        #expect(try delta.buffer().waitingFiles().isEmpty)
    }

    @Test(arguments: TestEngine.available)
    func aSnapshotAfterOneThatDeletedNothingIsMergedWhole(_ engine: TestEngine) throws {
        // Found by the ledger model: a header-only users file names no source system and deletes
        // nothing, so the rows it lacks stay live; a delta against it would leave u2 live too.
        let delta = try World(engine: engine), whole = try World(engine: engine)
        whole.fullMerge = true
        for w in [delta, whole] {
            try w.write("users/2026-09-01-06-00-00.csv", .users, ["u1", "u2", "u3"].map { Row.user($0) })
            _ = try w.flush()
            try w.write("users/2026-09-02-06-00-00.csv", .users, [])
            _ = try w.flush()
            try w.write("users/2026-09-03-06-00-00.csv", .users, ["u1", "u3"].map { Row.user($0) })
            #expect(try w.flush().exitCode == .success)
        }
        #expect(try delta.value("SELECT count(*) FROM \(delta.t("LMSUser")) WHERE SourceSystemIdentifier = 'u2' AND DeletedAt IS NOT NULL") == "1")
        #expect(try delta.dumpWithoutTimes() == whole.dumpWithoutTimes())
    }

    @Test(arguments: TestEngine.available)
    func wholeMergesWhenTheBufferCannotVouchForTheLMSDS(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 1))
        #expect(try w.flush().forward.total.deltaFiles == 0)  // nothing to compare with
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 2))
        #expect(try w.flush().forward.total.deltaFiles > 0)

        // Another loader recorded a file: the LMS-DS may hold what this buffer never sent.
        try w.execute("INSERT INTO \(w.t("ProcessedFiles")) (FullPath, ResourceName, NumberOfRows, UploadDateTime) VALUES ('/elsewhere/users/x.csv', 'users', 1, '2026-09-03 07:00:00')")
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 3))
        let afterOther = try w.flush()
        #expect(afterOther.exitCode == .success)
        #expect(afterOther.forward.total.deltaFiles == 0)
        #expect(afterOther.forward.total.files > 0)
        // Its own last load is the mark again: deltas resume.
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 4))
        #expect(try w.flush().forward.total.deltaFiles > 0)

        // --full.
        w.fullMerge = true
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 5))
        let full = try w.flush()
        #expect(full.forward.total.deltaFiles == 0 && full.forward.total.files > 0)
        w.fullMerge = false

        // A rebuilt buffer has no mark.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: w.dir + "/buffer.sqlite" + suffix) }
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 6))
        let rebuilt = try w.flush()
        #expect(rebuilt.exitCode == .success)
        #expect(rebuilt.forward.total.deltaFiles == 0)
    }
}
