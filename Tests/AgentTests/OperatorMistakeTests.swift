import Agent
import Foundation
import SQLiteDB
import Testing

/// The built `lms-agent` binary as an operator runs it: in a folder of its own, with a HOME and a
/// state directory there, both streams in one transcript.
struct CLI {
    let dir: String
    var env: [String: String]

    init(_ w: World) {
        dir = w.dir
        env = ["HOME": w.dir, "PATH": "/usr/bin:/bin", "XDG_STATE_HOME": w.dir + "/state"]
    }

    /// Runs `lms-agent args...` (or another `program`) in `dir` to its end.
    @discardableResult
    func run(_ args: String...) throws -> AgentProcess.Result { try run(args) }

    @discardableResult
    func run(_ args: [String], program: String = AgentProcess.binary) throws -> AgentProcess.Result {
        try AgentProcess.run(args, program: program, environment: .only(env), directory: dir, output: .merged)
    }

    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: dir + "/" + relative) }
}

/// Issue 8, section 1: ordinary mistakes must not report success while data goes nowhere.
@Suite("Operator mistakes do not lose data", .serialized)
struct OperatorMistakeTests {
    /// A buffer that forwarded into one LMS-DS refuses another (it said "nothing to do" before,
    /// and the second one held nothing).
    @Test func aBufferIsBoundToItsTarget() throws {
        let w = try World()
        try w.writeBase()
        let cli = CLI(w)
        #expect(try cli.run("flush", "--csvpath", w.root, "--buffer", "b.sqlite", "--dbname", "one.sqlite").code == 0)
        let other = try cli.run("flush", "--csvpath", w.root, "--buffer", "b.sqlite", "--dbname", "two.sqlite")
        #expect(other.code == 1, "\(other.output)")
        #expect(other.output.contains("forwards to sqlite:") && other.output.contains("--buffer"), "\(other.output)")
        #expect(!cli.exists("two.sqlite"))
        // status shows the bound target, not the default database.
        let status = try cli.run("status", "--csvpath", w.root, "--buffer", "b.sqlite")
        #expect(status.output.contains("target:  sqlite:\(w.dir)/one.sqlite") || status.output.contains("one.sqlite"), "\(status.output)")
        // Its own buffer loads the second target in full.
        #expect(try cli.run("flush", "--csvpath", w.root, "--buffer", "b2.sqlite", "--dbname", "two.sqlite").code == 0)
        let s2 = try SQLiteProbe(w.dir + "/two.sqlite")
        #expect(try s2.count("LMSUser") == 4)
    }

    @Test func generateSampleRefusesAFolderWithFiles() throws {
        let w = try World()
        try w.writeBase()
        let cli = CLI(w)
        let r = try cli.run("generate-sample", w.root)
        #expect(r.code == 1 && r.output.contains("not empty"), "\(r.output)")
        #expect(try String(contentsOfFile: w.root + "/users/2026-09-01-06-00-00.csv", encoding: .utf8).contains("User u1"))
        #expect(try cli.run("generate-sample", w.dir + "/fresh").code == 0)
        #expect(try cli.run("generate-sample", w.dir + "/fresh", "--day", "2", "--force").code == 0)
    }

    /// After the tool exits, each database is whole in its own file: no -wal left behind, and a copy
    /// of the .sqlite alone has the data.
    @Test func theDatabasesAreWholeInTheirFilesAfterExit() throws {
        let w = try World()
        try w.writeBase()
        let cli = CLI(w)
        #expect(try cli.run("flush", "--csvpath", w.root, "--buffer", "b.sqlite", "--dbname", "lms.sqlite").code == 0)
        for f in ["b.sqlite-wal", "lms.sqlite-wal"] {
            let size = (try? FileManager.default.attributesOfItem(atPath: w.dir + "/" + f)[.size] as? Int) ?? 0
            #expect(size == 0, "\(f) holds \(size) bytes")
        }
        try FileManager.default.createDirectory(atPath: w.dir + "/copy", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: w.dir + "/lms.sqlite", toPath: w.dir + "/copy/lms.sqlite")
        #expect(try SQLiteProbe(w.dir + "/copy/lms.sqlite").count("LMSUser") == 4)
    }

    @Test func watchAndFlushRefuseAMissingExtract() throws {
        let w = try World()
        let cli = CLI(w)
        for command in ["flush", "watch"] {
            let r = try cli.run(command, "--csvpath", w.dir + "/nowhere", "--buffer", "b.sqlite", "--dbname", "lms.sqlite")
            #expect(r.code == 1 && r.output.contains("does not exist"), "\(command): \(r.output)")
        }
        #expect(!cli.exists("b.sqlite") && !cli.exists("lms.sqlite"))
    }

    /// status, inspect, retry and release create nothing (before: an empty buffer and an empty
    /// database, after which plain `status` complained of "several buffers").
    @Test func readOnlyCommandsCreateNothing() throws {
        let w = try World()
        let cli = CLI(w)
        for args in [["status", "--csvpath", w.dir + "/missing"], ["status", "--csvpath", w.root, "--dbname", "typo.sqlite"],
                     ["inspect", "files", "--csvpath", w.root], ["retry", "1", "--csvpath", w.root], ["release", "1", "--csvpath", w.root]] {
            let r = try cli.run(args)
            #expect(r.code != 0, "\(args): \(r.output)")
        }
        let created = (FileManager.default.enumerator(atPath: w.dir)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".sqlite") }
        #expect(created.isEmpty, "\(created)")
        // status of an existing buffer does not create its missing LMS-DS.
        try w.writeBase()
        #expect(try cli.run("flush", "--csvpath", w.root, "--buffer", "b.sqlite", "--dbname", "lms.sqlite").code == 0)
        try FileManager.default.removeItem(atPath: w.dir + "/lms.sqlite")
        let s = try cli.run("status", "--csvpath", w.root, "--buffer", "b.sqlite", "--dbname", "lms.sqlite")
        #expect(s.code == 0 && s.output.contains("no LMS-DS at"), "\(s.output)")
        #expect(!cli.exists("lms.sqlite"))
    }

    /// --dbname naming the buffer, a directory, or a file that is not a database: a configuration
    /// error (exit 1) before any work, not LMS tables inside the buffer nor "unavailable".
    @Test func aDbnameThatIsNoLMSDSIsAConfigurationError() throws {
        let w = try World()
        try w.writeBase()
        let cli = CLI(w)
        try FileManager.default.createDirectory(atPath: w.dir + "/adir", withIntermediateDirectories: true)
        try "not a database".write(toFile: w.dir + "/notes.txt", atomically: true, encoding: .utf8)
        for (db, words) in [("b.sqlite", "is the buffer itself"), (w.dir + "/adir", "is a directory"), (w.dir + "/notes.txt", "not an SQLite database")] {
            let r = try cli.run("flush", "--csvpath", w.root, "--buffer", "b.sqlite", "--dbname", db)
            #expect(r.code == 1 && r.output.contains(words), "\(db): \(r.output)")
        }
        // A flush that fails that way leaves no new buffer behind.
        #expect(!cli.exists("b.sqlite"))
        #expect(try cli.run("flush", "--csvpath", w.root, "--buffer", "b.sqlite", "--dbname", "lms.sqlite").code == 0)
        let again = try cli.run("flush", "--csvpath", w.root, "--buffer", "b.sqlite", "--dbname", "b.sqlite")
        #expect(again.code == 1 && again.output.contains("is the buffer itself"), "\(again.output)")
        let probe = try SQLiteProbe(w.dir + "/b.sqlite")
        #expect(try probe.tables().allSatisfy { !$0.hasPrefix("LMS") })
    }
}

/// Reads an SQLite file (never creating one).
struct SQLiteProbe {
    let db: SQLiteDatabase
    init(_ path: String) throws { db = try SQLiteDatabase(path: path, create: false) }
    func count(_ table: String) throws -> Int {
        Int(try db.scalar("SELECT count(*) FROM \(table) WHERE DeletedAt IS NULL")?.integer ?? -1)
    }
    func tables() throws -> [String] { try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0[0].text } }
}

@Suite("flush and files still being written")
struct StillWritingTests {
    /// A file an extractor still holds open for writing is skipped, counted, and taken next time
    /// (before: "expected 11 fields ... found 4", rejected, exit 2).
    @Test func aFileOpenForWritingIsSkippedAndTakenNextTime() throws {
        let w = try World()
        try w.writeBase()
        try w.writeRaw("section=s1/assignment=a1/submissions/2026-09-01-07-00-00.csv",
                       "SourceSystemIdentifier,SourceSystem,SubmissionStatus\nsub1,TestLMS")
        let writer = try AgentProcess(["-c", "exec 3>>'\(w.root)/section=s1/assignment=a1/submissions/2026-09-01-07-00-00.csv'; exec sleep 30"],
                                      program: "/bin/bash", environment: .inherited([:]))
        // SIGKILL: Foundation's Process starts children with SIGTERM blocked.
        defer { writer.signal(SIGKILL) }
        usleep(300_000)
        let run = try w.flush()
        #expect(run.stage?.stillWriting == 1)
        #expect(run.stage?.rejected == 0)
        #expect(run.exitCode == .success)
        writer.signal(SIGKILL)
        _ = writer.wait()
        try w.write("section=s1/assignment=a1/submissions/2026-09-01-07-00-00.csv", .submissions,
                    [Row.submission("sub1", assignment: "a1", user: "u1")])
        let next = try w.flush()
        #expect(next.stage?.stillWriting == 0)
        #expect(try w.count("AssignmentSubmission") == 1)
    }

    /// A quiet file whose last record has no line break (an upstream sample has one) is complete.
    @Test func aFileWithoutAFinalLineBreakLoads() throws {
        let w = try World()
        try w.writeBase()
        try w.write("users/2026-09-02-06-00-00.csv", .users, [Row.user("u1"), Row.user("u5")])
        let path = w.root + "/users/2026-09-02-06-00-00.csv"
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.last == 0x0A)
        bytes.removeLast()
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try w.flush().exitCode == .success)
        #expect(try w.snapshot("LMSUser").filter { !$0.value.hasSuffix("deleted") }.keys.sorted() == ["u1", "u5"])
    }
}

/// Issue 8, section 2: long work is visible, and a signal stops it cleanly.
@Suite("Progress and signals", .serialized)
struct ProgressTests {
    /// A generated tree big enough for a flush of several seconds.
    static func sample(_ w: World) throws -> CLI {
        let cli = CLI(w)
        try FileManager.default.removeItem(atPath: w.root)
        #expect(try cli.run("generate-sample", w.root, "--users", "1500", "--sections", "75", "--assignments-per-section", "8").code == 0)
        return cli
    }

    @Test func aFlushOnATerminalRedrawsItsProgressAtLeastOnceASecond() throws {
        let w = try World()
        let cli = try Self.sample(w)
        let typescript = w.dir + "/typescript"
        let command = "\(AgentProcess.binary) flush --csvpath \(w.root) --buffer \(w.dir)/b.sqlite --dbname \(w.dir)/lms.sqlite"
        let start = ContinuousClock.now
        let r = try cli.run(["-qfec", command, typescript], program: "/usr/bin/script")
        let seconds = Double((ContinuousClock.now - start).components.seconds)
        #expect(r.code == 0, "\(r.output)")
        let screen = try String(contentsOfFile: typescript, encoding: .utf8)
        let redraws = screen.components(separatedBy: "\r\u{1B}[2Kstaging").count + screen.components(separatedBy: "\r\u{1B}[2Kforwarding").count - 2
        #expect(Double(redraws) >= seconds - 1, "\(redraws) redraws in \(seconds) s")
        // The header comes first, and the line is erased before the summary.
        #expect(screen.range(of: "target:")!.lowerBound < screen.range(of: "staging")!.lowerBound)
        #expect(screen.contains("\r\u{1B}[2Kscan:"))
    }

    @Test func onAPipeProgressIsALogLineNotEscapes() throws {
        let w = try World()
        var cli = try Self.sample(w)
        cli.env["LMS_AGENT_PROGRESS_SECONDS"] = "0.2"   // a run of any speed logs progress at least once
        let r = try cli.run("flush", "--csvpath", w.root, "--buffer", "b.sqlite", "--dbname", "lms.sqlite")
        #expect(r.code == 0)
        #expect(!r.output.contains("\u{1B}["))
        #expect(r.output.contains("INFO progress: "), "\(r.output)")
    }

    /// SIGTERM during a flush finishes the file in hand, prints the summary and exits 6; the next
    /// flush goes on and ends as one clean run would.
    @Test func sigtermDuringAFlushPrintsTheSummaryAndExits6() throws {
        let w = try World()
        let cli = try Self.sample(w)
        let p = try AgentProcess(["flush", "--csvpath", w.root, "--buffer", w.dir + "/b.sqlite", "--dbname", w.dir + "/lms.sqlite"],
                                 environment: .only(cli.env), output: .merged)
        usleep(1_500_000)
        p.signal(SIGTERM)
        let stopped = p.wait()
        let text = stopped.output
        #expect(stopped.code == 6, "\(text)")
        #expect(text.contains("stopped by a signal"), "\(text)")
        #expect(text.contains("resource") || text.contains("scan:"), "\(text)")
        let again = try cli.run("flush", "--csvpath", w.root, "--buffer", "b.sqlite", "--dbname", "lms.sqlite")
        #expect(again.code == 0, "\(again.output)")
        let reference = try World()
        let rcli = try Self.sample(reference)
        #expect(try rcli.run("flush", "--csvpath", reference.root, "--buffer", "b.sqlite", "--dbname", "lms.sqlite").code == 0)
        for table in ["LMSUser", "LMSSection", "Assignment", "AssignmentSubmission", "LMSUserLMSSectionAssociation"] {
            #expect(try SQLiteProbe(w.dir + "/lms.sqlite").count(table) == SQLiteProbe(reference.dir + "/lms.sqlite").count(table), "\(table)")
        }
    }
}

/// Issue 8, section 3: one rule for exit codes and one style for errors.
@Suite("Messages and exit codes", .serialized)
struct MessageTests {
    @Test func usageErrorsExit64WithTheSubcommandsUsage() throws {
        let w = try World()
        let cli = CLI(w)
        let cases: [([String], String)] = [
            (["flush"], "--csvpath"),
            (["flush", "--csvpath", w.root, "--engine", "oracle"], "unknown engine"),
            (["flush", "--csvpath", w.root, "--port", "http"], "--port"),
            (["flush", "--csvpath", w.root, "--max-delete-share", "lots"], "--max-delete-share"),
            (["inspect", "files", "--csvpath", w.root, "--state", "done"], "unknown state"),
            (["generate-sample", w.dir + "/g", "--source-system", "Moodle"], "--source-system"),
            (["flush", "--no-such-option"], "no-such-option"),
        ]
        for (args, words) in cases {
            let r = try cli.run(args)
            #expect(r.code == 64, "\(args): \(r.output)")
            #expect(r.output.hasPrefix("lms-agent: error: ") && r.output.contains(words), "\(args): \(r.output)")
            #expect(r.output.contains("Usage: lms-agent \(args[0])"), "\(args): \(r.output)")
        }
        #expect(!cli.exists("state"))
    }

    @Test func anErrorIsPrintedOnceAndAsJSONWithJSONLogs() throws {
        let w = try World()
        let cli = CLI(w)
        let text = try cli.run("status", "--csvpath", w.root)
        #expect(text.code == 1)
        #expect(text.output.components(separatedBy: "lms-agent: error:").count == 2, "\(text.output)")
        let json = try cli.run("status", "--csvpath", w.root, "--log-format", "json")
        #expect(json.code == 1)
        let line = try #require(json.output.split(separator: "\n").first)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        #expect(object?["level"] == "ERROR")
        #expect(object?["message"]?.hasPrefix("lms-agent: error: no buffer") == true, "\(json.output)")
    }

    @Test func helpListsExitCodesAndVersionIsThere() throws {
        let w = try World()
        let cli = CLI(w)
        for sub in ["flush", "resume", "watch", "status", "retry", "release"] {
            let r = try cli.run(sub, "--help")
            #expect(r.code == 0 && r.output.contains("Exit codes: 0"), "\(sub)")
        }
        #expect(try cli.run("--version").output.hasPrefix("lms-agent "))
    }
}
