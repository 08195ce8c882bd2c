import Agent
import Buffer
import Extract
import Foundation
import Glibc
import SampleExtract
import PostgresDB
import Testing

/// Polls `condition` until it holds or `timeout` passes (an error counts as "not yet": the LMS-DS
/// may not have its tables before the watcher's first round).
func eventually(_ timeout: Double = 20, _ condition: () throws -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if (try? condition()) == true { return true }
        usleep(100_000)
    }
    return (try? condition()) == true
}

@Suite("watch: a service over the extract directory", .serialized)
struct WatchTests {
    static func users(_ n: Int, day: Int = 1) -> String {
        var text = Resource.users.schema.columns.map(\.name).joined(separator: ",") + "\n"
        for i in 1...n { text += "u\(i),TestLMS,student,,,User \(i),u\(i)@x.org,2026-08-01 08:00:00,2026-09-0\(day) 08:00:00,,\n" }
        return text
    }

    @Test(arguments: TestEngine.available)
    func aSlowWriteIsStagedOnceCompleteAfterTheLastWrite(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try FileManager.default.createDirectory(atPath: w.root + "/users", withIntermediateDirectories: true)
        let watch = try w.startWatch()
        let path = "users/2026-09-01-06-00-00.csv"
        // Written in place, in chunks that end on line breaks, with pauses longer than the settle time.
        let text = Self.users(300)
        let bytes = Array(text.utf8)
        _ = FileManager.default.createFile(atPath: w.root + "/" + path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: w.root + "/" + path))
        let cuts = [0, text.utf8.count / 3, 2 * text.utf8.count / 3, text.utf8.count].map { c -> Int in
            var i = c
            while i < bytes.count && i > 0 && bytes[i - 1] != 0x0A { i += 1 }
            return i
        }
        for k in 0..<3 {
            try handle.write(contentsOf: Data(bytes[cuts[k]..<cuts[k + 1]]))
            if k < 2 { usleep(1_500_000) }
        }
        try handle.close()
        #expect(eventually { try w.count("LMSUser") == 300 }, "\(watch.output)")
        let versions = try w.buffer().versions(of: path)
        #expect(versions.count == 1, "\(watch.output)")
        #expect(versions.first?.rowCount == 300)
        #expect(watch.stop().code == 0)
    }

    @Test(arguments: TestEngine.available)
    func newFoldersRenamesAndRewritesAreFollowed(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        let watch = try w.startWatch()
        // Reconcile: what was there before the start is loaded.
        #expect(eventually { try w.count("LMSUserLMSSectionAssociation") == 8 }, "\(watch.output)")

        // A new section folder, with its file written at once.
        try w.write("sections/2026-09-02-06-00-00.csv", .sections, [Row.section("s1"), Row.section("s2"), Row.section("s3")])
        try w.write("section=s3/assignments/2026-09-02-07-00-00.csv", .assignments, [Row.assignment("a3", section: "s3")])
        #expect(eventually { try w.count("Assignment") == 3 }, "\(watch.output)")

        // A file renamed into place (written under a hidden name first).
        let final = w.root + "/section=s3/section-activities/2026-09-02-07-00-00.csv"
        try FileManager.default.createDirectory(atPath: (final as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try w.write("section=s3/section-activities/.partial", .sectionActivities, [Row.sectionActivity("act1", user: "u1", section: "s3")])
        #expect(rename(w.root + "/section=s3/section-activities/.partial", final) == 0)
        #expect(eventually { try w.count("LMSSectionActivity") == 1 }, "\(watch.output)")

        // A file rewritten in place: a new version, applied.
        try w.write("section=s3/assignments/2026-09-02-07-00-00.csv", .assignments, [Row.assignment("a3", section: "s3", title: "Renamed")])
        #expect(eventually { try w.snapshot("Assignment", "Title")["a3"] == "Renamed" }, "\(watch.output)")
        #expect(try w.buffer().versions(of: "section=s3/assignments/2026-09-02-07-00-00.csv").count == 2)

        let stop = watch.stop()
        #expect(stop.code == 0)
        #expect(stop.seconds < 5)
        #expect(watch.output.contains("round:"))
    }

    @Test(arguments: TestEngine.available)
    func sigtermInTheMiddleOfARoundLosesNothing(_ engine: TestEngine) throws {
        // The reference: the same extract flushed in one go.
        let reference = try World(engine: engine)
        var o = SampleOptions()
        o.users = 400; o.sections = 30; o.assignmentsPerSection = 6
        _ = try SampleGenerator.write(to: reference.root, options: o)
        #expect(try reference.flush().exitCode == .success)

        let w = try World(engine: engine)
        let watch = try w.startWatch(settle: 0.3)
        _ = try SampleGenerator.write(to: w.root, options: o)
        // Stop it once forwarding has begun, before it is done.
        _ = eventually(30) { try w.count("LMSUser") > 0 }
        let stop = watch.stop()
        #expect(stop.code == 0)
        #expect(stop.seconds < 5)
        let partial = try w.count("AssignmentSubmission")

        // A later start continues, with nothing lost or applied twice.
        let again = try w.startWatch(settle: 0.3)
        // Running (its signal handling in place) before it is judged and stopped: the first watcher
        // may have committed everything already, and a SIGTERM during start-up ends a process by
        // the default action (exit by signal 15), not by the service's graceful shutdown.
        #expect(eventually(30) { again.output.contains("reconcile:") }, "\(again.output)")
        #expect(eventually(60) { try w.count("AssignmentSubmission") == reference.count("AssignmentSubmission") }, "\(again.output)")
        #expect(eventually(30) { try w.buffer().pendingFiles().isEmpty })
        for r in Resource.allCases {
            #expect(try w.snapshot(r.schema.table) == reference.snapshot(r.schema.table), "\(r)")
        }
        #expect(try w.value("SELECT count(*) FROM \(w.t("ProcessedFiles"))") == reference.value("SELECT count(*) FROM \(reference.t("ProcessedFiles"))"))
        #expect(again.stop().code == 0)
        _ = partial
    }

    @Test func statusSaysWhetherAWatcherRuns() throws {
        let w = try World()
        try w.writeBase()
        let watch = try w.startWatch()
        #expect(eventually { try w.count("LMSUser") == 4 })
        #expect(try w.agent(csvPath: false).status().watcherPid == String(watch.pid))
        #expect(watch.stop().code == 0)
        #expect(try w.agent(csvPath: false).status().watcherPid == nil)
    }
}

/// A PostgreSQL server of the test's own (scripts/start-postgres.sh), so that it can be stopped.
final class OwnPostgres {
    let env: [String: String]
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    init() throws {
        let out = try OwnPostgres.shell("\(OwnPostgres.repo)/scripts/start-postgres.sh")
        var env: [String: String] = [:]
        for line in out.split(separator: "\n") where line.hasPrefix("export ") {
            let kv = line.dropFirst(7).split(separator: "=", maxSplits: 1)
            if kv.count == 2 { env[String(kv[0])] = String(kv[1]) }
        }
        self.env = env
    }

    deinit { _ = try? OwnPostgres.shell("\(OwnPostgres.repo)/scripts/stop-postgres.sh", env: env) }

    var port: String { env["LMS_AGENT_TEST_PG_PORT"] ?? "" }
    var password: String { env["LMS_AGENT_TEST_PG_PASSWORD"] ?? "" }

    func pgctl(_ action: String) throws {
        let data = env["LMS_AGENT_TEST_PGDATA"]!, bin = env["LMS_AGENT_TEST_PGBIN"]!
        let cmd = "'\(bin)/pg_ctl' -D '\(data)' -l '\(data)/../server.log' -w -m fast \(action)"
        _ = try OwnPostgres.shell(getuid() == 0 ? "su postgres -s /bin/sh -c \"\(cmd)\"" : cmd)
    }

    func connection(_ db: String) throws -> PostgresConnection {
        try PostgresConnection(parameters: [("host", "127.0.0.1"), ("port", port), ("user", "postgres"), ("password", password), ("dbname", db)])
    }

    @discardableResult
    static func shell(_ command: String, env: [String: String] = [:]) throws -> String {
        // posix_spawn and waitpid, not Foundation's Process: the server the command starts would
        // inherit the descriptor Process watches for the exit, and the wait would never end.
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("sh-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let exports = env.map { "export \($0.key)='\($0.value)'; " }.joined()
        let args = ["/bin/bash", "-c", "\(exports)\(command) > '\(out)' 2>&1 < /dev/null"]
        var argv = args.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/bash", nil, nil, &argv, environ) == 0 else { throw AgentError.config("cannot run \(command)") }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    }
}

@Suite("watch: the LMS-DS goes away and comes back", .serialized,
       .enabled(if: TestPostgres.configured, "PostgreSQL is not configured"))
struct WatchOutageTests {
    @Test func theDatabaseIsStoppedDuringARoundAndStartedAgain() throws {
        let server = try OwnPostgres()
        try server.connection("postgres").execute("CREATE DATABASE outage")
        let w = try World()   // its folders; the LMS-DS is the test's own server
        try w.writeBase()
        let own = try w.startWatch(settle: 0.3, server: AgentServer(port: server.port, database: "outage", password: server.password))
        let db = { try server.connection("outage") }
        func count(_ table: String) -> Int {
            Int((try? db().execute("SELECT count(*) FROM lms.\(table)").rows.first?.first ?? nil) ?? "0") ?? 0
        }
        // The whole first round is in (assignments come last), so that the stop falls between rounds.
        #expect(eventually { count("lmsuserlmssectionassociation") == 8 && count("assignment") == 2 }, "\(own.output)")

        // The server stops; the extractor writes the next files meanwhile.
        try server.pgctl("stop")
        for a in ["a1", "a2"] {
            try w.write("section=\(a == "a1" ? "s1" : "s2")/assignment=\(a)/submissions/2026-09-01-07-00-00.csv", .submissions,
                        (1...4).map { Row.submission("\(a)-u\($0)", assignment: a, user: "u\($0)") })
        }
        #expect(eventually { (try? w.buffer().pendingFiles().count) == 2 }, "\(own.output)")
        usleep(2_500_000)
        // It keeps watching and staging, and says so once, not once per retry.
        #expect(own.output.components(separatedBy: "the LMS-DS is unavailable").count - 1 == 1, "\(own.output)")
        #expect(own.isRunning)

        // The server comes back: the agent catches up by itself, nothing lost, nothing twice.
        try server.pgctl("start")
        #expect(eventually(30) { count("assignmentsubmission") == 8 }, "\(own.output)")
        #expect(eventually(5) { own.output.contains("reachable again") }, "\(own.output)")
        #expect(count("processedfiles") == 8)
        #expect(own.stop().code == 0)
    }
}

@Suite("watch: service plumbing", .serialized)
struct WatchPlumbingTests {
    @Test func readinessWatchdogMetricsAndJSONLogs() throws {
        let w = try World()
        try w.writeBase()
        // A datagram socket standing in for systemd's NOTIFY_SOCKET.
        let socketPath = w.dir + "/notify.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in socketPath.utf8.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        #expect(bound == 0)
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)

        setenv("NOTIFY_SOCKET", socketPath, 1)
        setenv("WATCHDOG_USEC", "400000", 1)
        defer { unsetenv("NOTIFY_SOCKET"); unsetenv("WATCHDOG_USEC") }
        let metrics = w.dir + "/lms-agent.prom"
        let watch = try w.startWatch(extra: ["--metrics-file", metrics, "--log-format", "json"])
        #expect(eventually { try w.count("LMSUser") == 4 })
        usleep(1_000_000)

        var messages: [String] = []
        var buf = [UInt8](repeating: 0, count: 512)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            messages.append(String(decoding: buf[0..<n], as: UTF8.self))
        }
        #expect(messages.first?.hasPrefix("READY=1") == true, "\(messages)")
        #expect(messages.contains("WATCHDOG=1"))

        let prom = (try? String(contentsOfFile: metrics, encoding: .utf8)) ?? ""
        #expect(prom.contains("lms_agent_files{state=\"forwarded\",resource=\"users\"} 1"), "\(prom)")
        #expect(prom.contains("lms_agent_rounds_total ") && !prom.contains("lms_agent_rounds_total 0"))
        #expect(prom.contains("lms_agent_last_success_timestamp_seconds"))
        #expect(prom.contains("lms_agent_backlog_files 0"))

        let stop = watch.stop()
        #expect(stop.code == 0)
        // Every log line is one JSON object.
        let lines = watch.output.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["message"] != nil && object?["level"] != nil, "\(line)")
        }
    }
}
