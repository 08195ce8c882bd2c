import Agent
import Buffer
import Extract
import Foundation
import Glibc
import PostgresDB
import SampleExtract
import Testing

/// PostgreSQL killed (`pg_ctl stop -m immediate`) while a file's transaction is open on it, then
/// started again: the agent must end with the LMS-DS of a clean run, nothing lost, nothing twice.
@Suite("outages: PostgreSQL stopped in the middle of a file's transaction", .serialized,
       .enabled(if: TestPostgres.configured, "PostgreSQL is not configured: run scripts/start-postgres.sh"))
struct PostgresCrashTests {
    /// A sample extract whose users file is large (150,400 rows), so that its transaction is open
    /// long enough (COPY and merge: a second or more) to be cut in the middle.
    static func writeTree(_ root: String) throws {
        var o = SampleOptions()
        o.users = 400; o.sections = 30; o.assignmentsPerSection = 6
        _ = try SampleGenerator.write(to: root, options: o)
        let users = try FileManager.default.contentsOfDirectory(atPath: root + "/users").filter { $0.hasSuffix(".csv") }
        #expect(users.count == 1)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: root + "/users/" + users[0]))
        try handle.seekToEnd()
        var text = ""
        for i in 1...150_000 {
            text += "x\(i),Canvas,student,,,Extra \(i),x\(i)@example.org,2026-08-01 08:00:00,2026-09-01 08:00:00,,\n"
        }
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    /// Waits until the agent has a transaction open on `database` that has already written
    /// (`backend_xid` is set) and, with `copyingUsers`, is loading the users file; with
    /// `afterFiles`, only once ProcessedFiles holds that many files.
    static func waitForOpenTransaction(_ server: OwnPostgres, database: String, copyingUsers: Bool = false,
                                       afterFiles: Int = 0, timeout: Double = 90) -> Bool {
        guard let c = try? server.connection("postgres"), let target = try? server.connection(database) else { return false }
        let users = copyingUsers ? " AND query ILIKE 'COPY stg_LMSUser %'" : ""
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let processed = Int((try? target.execute("SELECT count(*) FROM lms.ProcessedFiles").rows.first?.first ?? nil) ?? "0") ?? 0
            if processed >= afterFiles {
                let open = try? c.execute("""
                    SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'lms-agent'
                    AND backend_xid IS NOT NULL\(users)
                    """, [database]).rows.first?.first ?? nil
                if (open ?? "0") != "0" { return true }
            }
            usleep(3_000)
        }
        return false
    }

    static func count(_ server: OwnPostgres, _ database: String, _ sql: String) throws -> Int {
        Int(try server.connection(database).execute(sql).rows.first?.first.flatMap { $0 } ?? "-1") ?? -1
    }

    /// The same extract flushed once into an untroubled database: what every faulty run must end with.
    static func reference() throws -> (contents: LMSContents, states: [String], exit: Agent.ExitStatus, world: World) {
        let reference = try World(engine: .postgresql)
        try writeTree(reference.root)
        let summary = try reference.flush()
        return (try LMSContents(reference), try reference.ledgerStates(), summary.exitCode, reference)
    }

    @Test func flushExits4AndResumeAndFlushFinishTheJob() throws {
        let expected = try Self.reference()
        let server = try OwnPostgres()
        try server.connection("postgres").execute("CREATE DATABASE crash")
        let target = AgentServer(port: server.port, database: "crash", password: server.password)
        let w = try World()
        try Self.writeTree(w.root)
        var kills: [String] = []

        // 1. The server dies while the large users file is being copied in.
        let flush = try w.startAgent(["flush"], server: target)
        #expect(Self.waitForOpenTransaction(server, database: "crash", copyingUsers: true), "\(flush.output)")
        try server.stopImmediately()
        kills.append("flush, during the COPY of the users file")
        #expect(flush.wait().code == Agent.ExitStatus.targetUnavailable.rawValue, "\(flush.output)")
        #expect(flush.stdout.contains("the LMS-DS is unavailable"), "\(flush.output)")
        try server.pgctl("start")
        // The transaction was cut: nothing of the users file is in the LMS-DS, and it is still staged.
        #expect(try Self.count(server, "crash", "SELECT count(*) FROM lms.LMSUser") == 0)
        #expect(try Self.count(server, "crash", "SELECT count(*) FROM lms.ProcessedFiles") == 0)
        let users = try w.buffer().files(ofResource: .users)
        #expect(users.map(\.state) == [.staged], "\(users)")
        #expect(users.first?.attempts ?? 0 >= 1)
        #expect(try w.buffer().files(inState: .rejected).isEmpty)

        // 2. and 3. `resume` is cut twice more, in the middle of later files.
        for after in [40, 160] {
            let resume = try w.startAgent(["resume"], csvPath: false, server: target)
            #expect(Self.waitForOpenTransaction(server, database: "crash", afterFiles: after), "\(resume.output)")
            try server.stopImmediately()
            kills.append("resume, in a file's transaction after \(after) files")
            #expect(resume.wait().code == Agent.ExitStatus.targetUnavailable.rawValue, "\(resume.output)")
            try server.pgctl("start")
            #expect(try w.buffer().files(inState: .rejected).isEmpty, "\(resume.output)")
        }

        // The server is up: resume finishes, a further flush has nothing to do.
        let resume = try w.runAgent(["resume"], csvPath: false, server: target)
        #expect(resume.code == expected.exit.rawValue, "\(resume.output)")
        let again = try w.runAgent(["flush"], server: target)
        #expect(again.code == expected.exit.rawValue, "\(again.output)")
        #expect(again.stdout.contains("forward: nothing to do"), "\(again.output)")

        let contents = try LMSContents(postgres: try server.connection("crash"), root: w.root)
        #expect(contents == expected.contents, "\(contents.differences(from: expected.contents))")
        #expect(try w.ledgerStates() == expected.states)
        #expect(try server.connection("crash").execute("SELECT FullPath FROM lms.ProcessedFiles GROUP BY 1 HAVING count(*) > 1").rows.isEmpty)
        print("PostgreSQL stopped -m immediate \(kills.count) times (\(kills.joined(separator: "; "))); \(contents.rows.count) rows equal to a clean run")
    }

    @Test func watchCatchesUpByItselfAfterTwoImmediateStops() throws {
        let expected = try Self.reference()
        let server = try OwnPostgres()
        try server.connection("postgres").execute("CREATE DATABASE crash")
        let w = try World()
        let watch = try w.startWatch(settle: 0.3, server: AgentServer(port: server.port, database: "crash", password: server.password))
        try Self.writeTree(w.root)

        // The server dies while the users file is being loaded, and again later in the round.
        #expect(Self.waitForOpenTransaction(server, database: "crash", copyingUsers: true), "\(watch.output)")
        try server.stopImmediately()
        #expect(eventually(30) { watch.output.contains("the LMS-DS is unavailable") }, "\(watch.output)")
        #expect(watch.isRunning)
        try server.pgctl("start")
        #expect(Self.waitForOpenTransaction(server, database: "crash", afterFiles: 100), "\(watch.output)")
        try server.stopImmediately()
        usleep(1_500_000)
        try server.pgctl("start")

        // It catches up by itself: every file in its clean-run state, the LMS-DS of a clean run.
        #expect(eventually(120) { try w.ledgerStates() == expected.states }, "\(watch.output.suffix(3000))")
        let db = try server.connection("crash")
        let contents = try LMSContents(postgres: db, root: w.root)
        #expect(contents == expected.contents, "\(contents.differences(from: expected.contents))")
        #expect(watch.output.contains("reachable again"), "\(watch.output.suffix(3000))")
        #expect(try db.execute("SELECT FullPath FROM lms.ProcessedFiles GROUP BY 1 HAVING count(*) > 1").rows.isEmpty)
        #expect(watch.stop().code == 0)
    }
}
