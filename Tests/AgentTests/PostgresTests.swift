import Agent
import Buffer
import Extract
import Foundation
import LMSSQLScripts
import PostgresDB
import Stores
import Testing

@Suite("PostgreSQL: sharing a database with the upstream loader and with another agent",
       .enabled(if: TestPostgres.configured, "PostgreSQL is not configured"))
struct PostgresTests {
    static let upstreamScripts = [
        "0001_initialize_lms_database", "0002_create_user_tables", "0003_create_processed_files_table",
        "0004_create_section_tables", "0005_create_assignment_tables", "0006_create_section_association_tables",
        "0007_create_assignment_submission_tables", "0008_create_section_activity_tables",
        "0009_create_system_activity_tables", "0010_create_attendance_tables",
    ]

    @Test func aDatabaseTheUpstreamLoaderCreatedIsRecognised() throws {
        let w = try World(engine: .postgresql)
        // Build what the upstream loader leaves: its ten scripts journaled, its rows, and its
        // ProcessedFiles record (no checksum column at all).
        let c = try PostgresConnection(parameters: [("host", TestPostgres.host), ("port", TestPostgres.port), ("user", TestPostgres.user),
                                                    ("password", TestPostgres.password), ("dbname", w.database)])
        for script in try SQLScripts.scripts(engine: "postgresql") where Self.upstreamScripts.contains(script.name) {
            try c.executeBatch(script.sql)
            try c.execute("INSERT INTO lms.migrationjournal (script) VALUES ($1)", [script.name])
        }
        for u in 1...4 {
            try c.execute("""
                INSERT INTO lms.lmsuser (sourcesystemidentifier, sourcesystem, userrole, name, emailaddress, createdate, lastmodifieddate)
                VALUES ($1, 'TestLMS', 'student', 'Loaded by upstream', 'u@example.org', '2026-08-01', '2026-09-01 08:00:00')
                """, ["u\(u)"])
        }
        try w.writeBase()
        try c.execute("INSERT INTO lms.processedfiles (fullpath, resourcename, numberofrows) VALUES ($1, 'users', 4)",
                      [w.root + "/users/2026-09-01-06-00-00.csv"])

        let run = try w.flush()
        #expect(run.exitCode == .success)
        // Only the agent's own script ran.
        let journal = try w.query("SELECT script FROM lms.migrationjournal ORDER BY script").map { $0[0]! }
        #expect(journal == Self.upstreamScripts + ["1001_lms_agent_processed_files_checksum", "1002_lms_agent_processed_files_applied"])
        // The users file upstream recorded is not applied again; everything else is.
        #expect(run.forward.byResource["users"]?.alreadyApplied == 1)
        #expect(Set(try w.snapshot("LMSUser", "Name").values) == ["Loaded by upstream"])
        #expect(try w.count("LMSUserLMSSectionAssociation") == 8)
        #expect(try w.count("LMSSection") == 2)
        #expect(try w.value("SELECT count(*) FROM lms.processedfiles WHERE checksum IS NULL") == "1")
        // The upstream loader, taking its turn, finds every file recorded under the path it builds
        // itself, and all its scripts in the journal.
        let recorded = Set(try w.query("SELECT fullpath FROM lms.processedfiles").map { $0[0]! })
        let onDisk = Set(try Scanner.scan(root: w.root).map { w.root + "/" + $0.relativePath })
        #expect(recorded == onDisk)
    }

    @Test func aFreshDatabaseLooksUpstreamShaped() throws {
        let w = try World(engine: .postgresql)
        try w.writeBase()
        #expect(try w.flush().exitCode == .success)
        let journal = try w.query("SELECT script FROM lms.migrationjournal ORDER BY script").map { $0[0]! }
        #expect(Array(journal.prefix(10)) == Self.upstreamScripts)
        // Lower-case names, the staging twins, and the mapping columns, as upstream.
        let tables = Set(try w.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'lms'").map { $0[0]! })
        for t in ["lmsuser", "stg_lmsuser", "lmssection", "stg_lmssection", "assignment", "stg_assignment", "assignmentsubmissiontype",
                  "stg_assignmentsubmissiontype", "assignmentsubmission", "lmsuserlmssectionassociation", "lmssectionactivity",
                  "lmssystemactivity", "lmsuserattendanceevent", "processedfiles", "migrationjournal"] {
            #expect(tables.contains(t), "missing lms.\(t)")
        }
        #expect(try w.value("SELECT data_type FROM information_schema.columns WHERE table_schema = 'lms' AND table_name = 'lmsuser' AND column_name = 'edfistudentid'") == "uuid")
    }

    @Test func twoAgentsAtOnceGiveTheResultOfOne() throws {
        // One agent alone.
        let single = try World(engine: .postgresql)
        try Self.writeDay(single)
        #expect(try single.flush().exitCode == .success)

        // Two agents, each with its own buffer, on one extract and one database, at the same time.
        let w = try World(engine: .postgresql)
        try Self.writeDay(w)
        var second = w.settings
        second.bufferPath = w.dir + "/buffer-2.sqlite"
        let settings = [w.settings, second]
        let logger = w.logger
        let codes = Codes()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            codes.set(i, (try? LMSAgent(settings: settings[i], logger: logger, requireExtract: true).run(scan: true))?.exitCode)
        }
        #expect(codes.values == [Agent.ExitStatus.success, Agent.ExitStatus.success])
        for r in Resource.allCases {
            let table = r.schema.table
            #expect(try w.snapshot(table) == single.snapshot(table), "\(table)")
        }
        #expect(try w.count("AssignmentSubmissionType") == single.count("AssignmentSubmissionType"))
        #expect(try w.value("SELECT count(*) FROM lms.processedfiles") == single.value("SELECT count(*) FROM lms.processedfiles"))
        // Every file was merged once: the second agent found each in ProcessedFiles.
        #expect(try w.value("SELECT count(*) FROM lms.lmsuser") == "4")
    }

    static func writeDay(_ w: World) throws {
        try w.writeBase()
        for a in ["a1", "a2"] {
            let s = a == "a1" ? "s1" : "s2"
            try w.write("section=\(s)/assignment=\(a)/submissions/2026-09-01-07-00-00.csv", .submissions,
                        (1...4).map { Row.submission("\(a)-u\($0)", assignment: a, user: "u\($0)") })
        }
        try w.write("section=s1/attendance-events/2026-09-01-07-00-00.csv", .attendanceEvents,
                    (1...4).map { Row.attendance("att-u\($0)", user: "u\($0)", section: "s1") })
    }

    @Test func anAccountWithoutDDLRightsLoadsWithNoMigrate() throws {
        let w = try World(engine: .postgresql)
        try w.writeBase()
        let role = "loader_" + w.database.suffix(8)
        let admin = try TestPostgres.admin()
        try admin.execute("CREATE ROLE \(role) LOGIN PASSWORD 'loader-secret'")
        defer { _ = try? admin.execute("DROP OWNED BY \(role) CASCADE"); _ = try? admin.execute("DROP ROLE IF EXISTS \(role)") }

        var loader = w.settings
        loader.username = role
        loader.password = "loader-secret"
        loader.noMigrate = true
        // Before an administrator ran the scripts: a clear error, nothing applied, all kept staged.
        let early = try LMSAgent(settings: loader, logger: w.logger, requireExtract: true)
        #expect(throws: StoreError.self) { try early.openStore() }

        // The owner migrates once; the loader gets the documented rights and loads with --no-migrate.
        _ = try w.agent().openStore()
        try w.execute("GRANT USAGE ON SCHEMA lms TO \(role)")
        try w.execute("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA lms TO \(role)")
        try w.execute("GRANT TEMPORARY ON DATABASE \(w.database) TO \(role)")
        let run = try LMSAgent(settings: loader, logger: w.logger, requireExtract: true).run(scan: true)
        #expect(run.exitCode == .success, "\(run.forward.errors) \(run.unavailable ?? "")")
        #expect(try w.count("LMSUserLMSSectionAssociation") == 8)
    }

    @Test func passwordsStayOutOfStatus() throws {
        let w = try World(engine: .postgresql)
        try w.writeBase()
        try w.flush()
        let status = try w.agent().status()
        let text = String(decoding: try JSONEncoder().encode(status), as: UTF8.self)
        #expect(!text.contains(TestPostgres.password))
        #expect(status.target.hasPrefix("postgresql://"))
        #expect(status.tables.first { $0.table == "LMSUser" }?.live == 4)
    }
}

/// Exit codes collected from two threads.
final class Codes: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Int: Agent.ExitStatus?] = [:]
    func set(_ i: Int, _ v: Agent.ExitStatus?) { lock.lock(); stored[i] = v; lock.unlock() }
    var values: [Agent.ExitStatus?] { lock.lock(); defer { lock.unlock() }; return stored.keys.sorted().map { stored[$0]! } }
}
