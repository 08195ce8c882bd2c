import Agent
import Extract
import Testing

/// How one resource's files look in the lifecycle scenario.
struct LifecycleCase: Sendable, CustomStringConvertible {
    var resource: Resource
    /// Path of scope A's snapshot on a day; scope B's (another section, assignment or date folder).
    var pathA: @Sendable (Int) -> String
    var pathB: (@Sendable (Int) -> String)?
    /// A row of scope A or B with a value that a later snapshot changes.
    var make: @Sendable (_ id: String, _ inA: Bool, _ value: String) -> [String: String]
    /// The column `make` sets from `value`.
    var column: String
    /// Rows every snapshot of scope A also carries (the base users or sections).
    var baseA: [[String: String]] = []

    var description: String { resource.rawValue }
    var table: String { resource.schema.table }

    static func ts(_ day: Int) -> String { "2026-09-0\(day)-07-00-00.csv" }

    static let all: [LifecycleCase] = [
        LifecycleCase(resource: .users, pathA: { "users/\(ts($0))" }, pathB: nil,
                      make: { id, _, v in Row.user(id, name: v) }, column: "Name",
                      baseA: (1...4).map { Row.user("u\($0)") }),
        LifecycleCase(resource: .sections, pathA: { "sections/\(ts($0))" }, pathB: nil,
                      make: { id, _, v in Row.section(id, title: v) }, column: "Title",
                      baseA: [Row.section("s1"), Row.section("s2")]),
        LifecycleCase(resource: .sectionAssociations, pathA: { "section=s1/section-associations/\(ts($0))" },
                      pathB: { "section=s2/section-associations/\(ts($0))" },
                      make: { id, a, v in Row.enrollment(id, user: "u1", section: a ? "s1" : "s2", status: v) }, column: "EnrollmentStatus"),
        LifecycleCase(resource: .assignments, pathA: { "section=s1/assignments/\(ts($0))" }, pathB: { "section=s2/assignments/\(ts($0))" },
                      make: { id, a, v in Row.assignment(id, section: a ? "s1" : "s2", title: v) }, column: "Title"),
        LifecycleCase(resource: .submissions, pathA: { "section=s1/assignment=a1/submissions/\(ts($0))" },
                      pathB: { "section=s2/assignment=a2/submissions/\(ts($0))" },
                      make: { id, a, v in Row.submission(id, assignment: a ? "a1" : "a2", user: "u2", status: v) }, column: "SubmissionStatus"),
        LifecycleCase(resource: .attendanceEvents, pathA: { "section=s1/attendance-events/\(ts($0))" },
                      pathB: { "section=s2/attendance-events/\(ts($0))" },
                      make: { id, a, v in Row.attendance(id, user: "u3", section: a ? "s1" : "s2", status: v) }, column: "AttendanceStatus"),
        LifecycleCase(resource: .sectionActivities, pathA: { "section=s1/section-activities/\(ts($0))" },
                      pathB: { "section=s2/section-activities/\(ts($0))" },
                      make: { id, a, v in Row.sectionActivity(id, user: "u4", section: a ? "s1" : "s2", status: v) }, column: "ActivityStatus"),
        LifecycleCase(resource: .systemActivities, pathA: { "system-activities/date=2026-09-01/\(ts($0))" },
                      pathB: { "system-activities/date=2026-08-31/\(ts($0))" },
                      make: { id, _, v in Row.systemActivity(id, user: "u1", status: v) }, column: "ActivityStatus"),
    ]
}

@Suite("Each resource: insert, update, scoped soft delete, restore")
struct ResourceLifecycleTests {
    @Test(arguments: LifecycleCase.all, TestEngine.available)
    func lifecycle(_ c: LifecycleCase, _ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase(skip: c.resource)
        let schema = c.resource.schema

        // Day 1: three rows in scope A, one in scope B.
        try w.write(c.pathA(1), c.resource, c.baseA + [c.make("r1", true, "v0"), c.make("r2", true, "v0"), c.make("r3", true, "v0")])
        if let pathB = c.pathB { try w.write(pathB(1), c.resource, [c.make("b1", false, "v0")]) }
        var run = try w.flush()
        #expect(run.exitCode == .success, "\(run.forward)")
        var rows = try w.snapshot(c.table, c.column)
        #expect(rows["r1"] == "v0" && rows["r2"] == "v0" && rows["r3"] == "v0")
        if c.pathB != nil { #expect(rows["b1"] == "v0") }

        // Day 2: r1 changes a value but not LastModifiedDate (upstream would miss it), r2 is gone.
        try w.write(c.pathA(2), c.resource, c.baseA + [c.make("r1", true, "v1"), c.make("r3", true, "v0")])
        run = try w.flush()
        #expect(run.exitCode == .success)
        let tally = run.forward.byResource[c.resource.rawValue]
        #expect(tally?.updated == 1)
        #expect(tally?.softDeleted == 1)
        rows = try w.snapshot(c.table, c.column)
        #expect(rows["r1"] == "v1")
        #expect(rows["r2"] == "v0 deleted")
        #expect(rows["r3"] == "v0")
        // Scoped: the other section / assignment / date folder keeps its row.
        if c.pathB != nil { #expect(rows["b1"] == "v0") }

        // Day 3: r2 returns unchanged (same LastModifiedDate): it is restored.
        try w.write(c.pathA(3), c.resource, c.baseA + [c.make("r1", true, "v1"), c.make("r2", true, "v0"), c.make("r3", true, "v0")])
        run = try w.flush()
        #expect(run.forward.byResource[c.resource.rawValue]?.restored == 1)
        rows = try w.snapshot(c.table, c.column)
        #expect(rows["r2"] == "v0")
        #expect(try w.count(c.table, live: false) == (c.pathB == nil ? 3 + c.baseA.count : 4))
        _ = schema
    }

    @Test(arguments: TestEngine.available)
    func parentLinksFollowTheFile(_ engine: TestEngine) throws {
        // Upstream never re-resolves a parent (D17): an assignment moved to another section keeps the old one.
        let w = try World(engine: engine)
        try w.writeBase()
        try w.flush()
        try w.write("section=s1/assignments/2026-09-02-07-00-00.csv", .assignments, [Row.assignment("a1", section: "s1"), Row.assignment("a2", section: "s1")])
        try w.flush()
        let section = try w.value("SELECT s.SourceSystemIdentifier FROM \(w.t("Assignment")) a JOIN \(w.t("LMSSection")) s ON s.LMSSectionIdentifier = a.LMSSectionIdentifier WHERE a.SourceSystemIdentifier = 'a2'")
        #expect(section == "s1")
    }

    @Test(arguments: TestEngine.available)
    func otherSourceSystemsAreNotDeleted(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        var other = Row.user("x1")
        other["SourceSystem"] = "OtherLMS"
        try w.write("users/2026-09-01-06-00-00.csv", .users, [Row.user("u1"), other])
        try w.flush()
        try w.write("users/2026-09-02-06-00-00.csv", .users, [Row.user("u1")])
        try w.flush()
        #expect(try w.snapshot("LMSUser") == ["u1": "2026-09-01 08:00:00", "x1": "2026-09-01 08:00:00"])
    }

    @Test(arguments: TestEngine.available)
    func submissionTypesAreScopedToTheFilesAssignments(_ engine: TestEngine) throws {
        // Upstream D4: every other assignment's types were marked deleted.
        let w = try World(engine: engine)
        try w.writeBase(skip: .assignments)
        try w.write("section=s1/assignments/2026-09-01-07-00-00.csv", .assignments, [Row.assignment("a1", section: "s1", types: "['online_text_entry', 'online_upload']")])
        try w.write("section=s2/assignments/2026-09-01-07-00-00.csv", .assignments, [Row.assignment("a2", section: "s2", types: "online_quiz")])
        try w.flush()
        #expect(try w.count("AssignmentSubmissionType") == 3)
        try w.write("section=s1/assignments/2026-09-02-07-00-00.csv", .assignments, [Row.assignment("a1", section: "s1", types: "online_upload")])
        try w.flush()
        let live = try w.query("SELECT a.SourceSystemIdentifier || ':' || t.SubmissionType FROM \(w.t("AssignmentSubmissionType")) t JOIN \(w.t("Assignment")) a ON a.AssignmentIdentifier = t.AssignmentIdentifier WHERE t.DeletedAt IS NULL ORDER BY 1").map { $0[0]! }
        #expect(live == ["a1:online_upload", "a2:online_quiz"])
        // It comes back when the file lists it again.
        try w.write("section=s1/assignments/2026-09-03-07-00-00.csv", .assignments, [Row.assignment("a1", section: "s1", types: "['online_text_entry', 'online_upload']")])
        try w.flush()
        #expect(try w.count("AssignmentSubmissionType") == 3)
    }
}
