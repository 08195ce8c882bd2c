import Agent
import Buffer
import Extract
import Foundation
import Glibc
import Testing

/// `lms-agent watch` as a subprocess with real inotify, for what the kernel does to the event stream:
/// a queue overflow, a folder deleted or moved away while watched, a folder moved in, and files that
/// are quiet but still open, or complete without a final line break.
@Suite("watch: lost events, deleted and moved folders, incomplete files (real inotify)", .serialized)
struct WatchTreeChangeTests {
    static let ts1 = "2026-09-01-06-00-00.csv", ts2 = "2026-09-02-06-00-00.csv", ts3 = "2026-09-03-06-00-00.csv"

    static func lines(_ output: String, level: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { $0.contains(" \(level) ") }
    }

    /// Versions of `path` in the buffer's ledger.
    static func versions(_ w: World, _ path: String) throws -> [LedgerFile] {
        try w.buffer().versions(of: path)
    }

    /// How many events inotify queues before it drops them (fs.inotify.max_queued_events).
    static let queueLimit = Int((try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 16384

    /// Writes a CSV the way `World.write` does, at a path outside the extract tree.
    static func writeOutside(_ path: String, _ resource: Resource, _ rows: [[String: String]]) throws {
        let names = resource.schema.columns.map(\.name)
        var text = "\u{FEFF}" + names.joined(separator: ",") + "\n"
        for r in rows { text += names.map { csvField(r[$0] ?? "") }.joined(separator: ",") + "\n" }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// CPU seconds (user + system) the process has used so far.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    @Test func aQueueOverflowIsLoggedAndItsRescanStagesEverythingOnceAndWatchesNewFolders() throws {
        let w = try World()
        try w.writeBase()
        try FileManager.default.createDirectory(atPath: w.root + "/notes", withIntermediateDirectories: true)
        let watch = try w.startWatch()
        #expect(eventually { try w.count("LMSUserLMSSectionAssociation") == 8 }, "\(watch.output)")

        // Stopped, the watcher reads no events; the kernel queues at most max_queued_events.
        let limit = Self.queueLimit
        let pid = watch.pid
        #expect(kill(pid, SIGSTOP) == 0)
        // More files than the queue holds events, none of them extract files: they fill the queue...
        for i in 0...limit {
            let fd = open(w.root + "/notes/n\(i).txt", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            _ = write(fd, "x", 1)
            close(fd)
        }
        // ...so every event of what follows is lost: a new assignments snapshot and new folders with files.
        let k = 20
        try w.write("section=s1/assignments/\(Self.ts2)", .assignments,
                    [Row.assignment("a1", section: "s1")] + (1...k).map { Row.assignment("a1-\($0)", section: "s1") })
        for n in 1...k {
            try w.write("section=s1/assignment=a1-\(n)/submissions/\(Self.ts2)", .submissions,
                        (1...4).map { Row.submission("a1-\(n)-u\($0)", assignment: "a1-\(n)", user: "u\($0)") })
        }
        #expect(kill(pid, SIGCONT) == 0)

        #expect(eventually(60) { try w.count("AssignmentSubmission") == 4 * k }, "\(watch.output.suffix(3000))")
        #expect(watch.output.contains("inotify queue overflow"), "\(watch.output.suffix(3000))")
        // Each file once: one version per path, all forwarded.
        #expect(eventually { try w.buffer().pendingFiles().isEmpty })
        for n in 1...k {
            let v = try Self.versions(w, "section=s1/assignment=a1-\(n)/submissions/\(Self.ts2)")
            #expect(v.count == 1 && v.first?.state == .forwarded, "a1-\(n): \(v.map(\.state))")
        }
        #expect(try Self.versions(w, "section=s1/assignments/\(Self.ts2)").count == 1)
        #expect(try w.count("Assignment") == 2 + k)
        #expect(try w.value("SELECT count(*) FROM ProcessedFiles") == "\(6 + 1 + k)")

        // A folder created while events were lost is watched now: a later file in it loads at once,
        // not at the next periodic rescan.
        try w.write("section=s1/assignment=a1-1/submissions/\(Self.ts3)", .submissions,
                    (1...3).map { Row.submission("a1-1-late\($0)", assignment: "a1-1", user: "u\($0)") })
        #expect(eventually { try w.count("AssignmentSubmission") == 4 * k - 4 + 3 }, "\(watch.output.suffix(3000))")
        #expect(Self.lines(watch.output, level: "ERROR").isEmpty, "\(Self.lines(watch.output, level: "ERROR"))")
        #expect(watch.stop().code == 0)
    }

    /// After an overflow, a close event read before the lost events proves nothing: here the file is
    /// rewritten in place after it (the new writer's events are lost) and is still open. Staged then,
    /// the half-written users snapshot would soft-delete the users it does not list yet.
    @Test func aFileRewrittenWhileEventsWereLostIsNotStagedWhileItsNewWriterHasItOpen() throws {
        let w = try World()
        try w.writeBase()
        try FileManager.default.createDirectory(atPath: w.root + "/notes", withIntermediateDirectories: true)
        let watch = try w.startWatch()
        #expect(eventually { try w.count("LMSUserLMSSectionAssociation") == 8 }, "\(watch.output)")

        let pid = watch.pid
        #expect(kill(pid, SIGSTOP) == 0)
        // Writer A writes the next users snapshot and closes it: its close event is queued.
        let path = "users/\(Self.ts2)"
        try w.write(path, .users, (1...5).map { Row.user("u\($0)") })
        // The queue overflows.
        for i in 0...Self.queueLimit {
            let fd = open(w.root + "/notes/n\(i).txt", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            _ = write(fd, "x", 1)
            close(fd)
        }
        // Writer B rewrites it in place and has written one user so far; its events are lost.
        let names = Resource.users.schema.columns.map(\.name)
        func line(_ r: [String: String]) -> String { names.map { csvField(r[$0] ?? "") }.joined(separator: ",") + "\n" }
        let b = try FileHandle(forWritingTo: URL(fileURLWithPath: w.root + "/" + path))
        try b.truncate(atOffset: 0)
        try b.write(contentsOf: Data(("\u{FEFF}" + names.joined(separator: ",") + "\n" + line(Row.user("u1"))).utf8))
        #expect(kill(pid, SIGCONT) == 0)

        #expect(eventually(30) { watch.output.contains("inotify queue overflow") }, "\(watch.output.suffix(2000))")
        usleep(3_000_000)
        let early = try Self.versions(w, path)
        #expect(early.isEmpty, "staged while its writer has it open: \(early.map(\.rowCount)) row(s)")
        #expect(try w.count("LMSUser") == 4)

        // B finishes: the complete snapshot is staged once, and no user was ever deleted.
        for i in 2...6 { try b.write(contentsOf: Data(line(Row.user("u\(i)")).utf8)) }
        try b.close()
        #expect(eventually(30) { try w.count("LMSUser") == 6 }, "\(watch.output.suffix(2000))")
        #expect(try Self.versions(w, path).map(\.rowCount) == [6])
        #expect(try w.value("SELECT count(*) FROM LMSUser WHERE DeletedAt IS NOT NULL") == "0")
        #expect(watch.stop().code == 0)
    }

    @Test func aWatchedFolderDeletedWhileWatchedIsDroppedQuietlyAndTheRestGoesOn() throws {
        let w = try World()
        try w.writeBase()
        let watch = try w.startWatch()
        #expect(eventually { try w.count("LMSUserLMSSectionAssociation") == 8 }, "\(watch.output)")

        // A file is written into the folder, which is deleted before the file settles.
        let doomed = "section=s2/assignments/\(Self.ts2)"
        try w.write(doomed, .assignments, [Row.assignment("a2", section: "s2", title: "Never")])
        try FileManager.default.removeItem(atPath: w.root + "/section=s2")
        usleep(2_000_000)
        #expect(watch.isRunning)
        #expect(try Self.versions(w, doomed).isEmpty)
        #expect(try w.snapshot("Assignment", "Title")["a2"] != "Never")
        // No error, and no loop: once quiet, the watcher says nothing.
        let quiet = watch.output
        usleep(1_500_000)
        #expect(watch.output == quiet, "\(watch.output.dropFirst(quiet.count))")
        #expect(Self.lines(watch.output, level: "ERROR").isEmpty, "\(watch.output)")

        // Files elsewhere still load, and so does the folder when it comes back.
        try w.write("users/\(Self.ts2)", .users, (1...5).map { Row.user("u\($0)") })
        #expect(eventually { try w.count("LMSUser") == 5 }, "\(watch.output)")
        try w.write("section=s2/assignments/\(Self.ts3)", .assignments, [Row.assignment("a2", section: "s2", title: "Back")])
        #expect(eventually { try w.snapshot("Assignment", "Title")["a2"] == "Back" }, "\(watch.output)")
        #expect(Self.lines(watch.output, level: "ERROR").isEmpty, "\(watch.output)")
        #expect(watch.stop().code == 0)
    }

    @Test func aFolderMovedInIsLoadedAndWatchedAndOneMovedOutIsLeftAlone() throws {
        let w = try World()
        try w.writeBase()
        let watch = try w.startWatch()
        #expect(eventually { try w.count("LMSUserLMSSectionAssociation") == 8 }, "\(watch.output)")
        try w.write("sections/\(Self.ts2)", .sections, [Row.section("s1"), Row.section("s2"), Row.section("s3")])
        #expect(eventually { try w.count("LMSSection") == 3 }, "\(watch.output)")

        // A section folder with two subfolders, written outside the tree, then moved in.
        let outside = w.dir + "/outside"
        try Self.writeOutside(outside + "/section=s3/assignments/\(Self.ts2)", .assignments, [Row.assignment("a3", section: "s3")])
        try Self.writeOutside(outside + "/section=s3/section-associations/\(Self.ts2)", .sectionAssociations,
                           (1...4).map { Row.enrollment("e-s3-u\($0)", user: "u\($0)", section: "s3") })
        #expect(rename(outside + "/section=s3", w.root + "/section=s3") == 0)
        #expect(eventually { try w.count("LMSUserLMSSectionAssociation") == 12 && w.count("Assignment") == 3 }, "\(watch.output)")
        // Its subfolders are watched: a new file in one loads.
        try w.write("section=s3/assignments/\(Self.ts3)", .assignments, [Row.assignment("a3", section: "s3", title: "Later")])
        #expect(eventually { try w.snapshot("Assignment", "Title")["a3"] == "Later" }, "\(watch.output)")

        // A folder moved out while a file in it is still settling: that file is not staged, and what
        // is written in the folder at its new place is not the extract's business any more.
        let leaving = "section=s1/assignments/\(Self.ts2)"
        try w.write(leaving, .assignments, [Row.assignment("a1", section: "s1", title: "Leaving")])
        #expect(rename(w.root + "/section=s1", outside + "/section=s1") == 0)
        try Self.writeOutside(outside + "/section=s1/assignments/\(Self.ts3)", .assignments, [Row.assignment("a1", section: "s1", title: "Elsewhere")])
        usleep(2_500_000)
        #expect(watch.isRunning)
        #expect(try Self.versions(w, leaving).isEmpty)
        #expect(try w.buffer().files().filter { $0.path.hasPrefix("section=s1/") && $0.snapshot != Self.ts1 }.isEmpty)
        #expect(try w.snapshot("Assignment", "Title")["a1"] != "Leaving")

        // The rest goes on.
        try w.write("section=s2/assignments/\(Self.ts3)", .assignments, [Row.assignment("a2", section: "s2", title: "Still here")])
        #expect(eventually { try w.snapshot("Assignment", "Title")["a2"] == "Still here" }, "\(watch.output)")
        #expect(Self.lines(watch.output, level: "ERROR").isEmpty, "\(watch.output)")
        #expect(watch.stop().code == 0)
    }

    /// inotify names a directory by the path its watch was added under. Here, in one batch of events,
    /// a folder moves away, another takes its name, and a subfolder of the first is deleted: that
    /// deletion comes under the name the new folder's subfolder has now. The new folder must still
    /// be watched and loaded.
    @Test func aFolderReplacedUnderTheSameNameIsWatchedAndLoaded() throws {
        let w = try World()
        try w.writeBase()
        let watch = try w.startWatch()
        #expect(eventually { try w.count("LMSUserLMSSectionAssociation") == 8 }, "\(watch.output)")
        let outside = w.dir + "/outside"
        try Self.writeOutside(outside + "/new/assignments/\(Self.ts2)", .assignments, [Row.assignment("a1", section: "s1", title: "Replaced")])

        let pid = watch.pid
        #expect(kill(pid, SIGSTOP) == 0)
        #expect(rename(w.root + "/section=s1", outside + "/old") == 0)
        #expect(rename(outside + "/new", w.root + "/section=s1") == 0)
        try FileManager.default.removeItem(atPath: outside + "/old/assignments")
        #expect(kill(pid, SIGCONT) == 0)

        #expect(eventually { try w.snapshot("Assignment", "Title")["a1"] == "Replaced" }, "\(watch.output)")
        // And its subfolder has a watch: a later file in it loads.
        try w.write("section=s1/assignments/\(Self.ts3)", .assignments, [Row.assignment("a1", section: "s1", title: "Later")])
        #expect(eventually { try w.snapshot("Assignment", "Title")["a1"] == "Later" }, "\(watch.output)")
        #expect(Self.lines(watch.output, level: "ERROR").isEmpty, "\(watch.output)")
        #expect(watch.stop().code == 0)
    }

    /// A folder deleted and a symbolic link to a folder outside the tree put in its place: the
    /// watcher looks at the path again, but never through the link.
    @Test func aLinkPutWhereAWatchedFolderWasIsNotFollowed() throws {
        let w = try World()
        try w.writeBase()
        let watch = try w.startWatch()
        #expect(eventually { try w.count("LMSUserLMSSectionAssociation") == 8 }, "\(watch.output)")
        let outside = w.dir + "/outside/section=s2"
        try Self.writeOutside(outside + "/assignments/\(Self.ts1)", .assignments, [Row.assignment("a2", section: "s2")])

        let pid = watch.pid
        #expect(kill(pid, SIGSTOP) == 0)
        try FileManager.default.removeItem(atPath: w.root + "/section=s2")
        #expect(symlink(outside, w.root + "/section=s2") == 0)
        #expect(kill(pid, SIGCONT) == 0)
        usleep(1_000_000)
        // Written outside, through no path of the tree: no watch may report it.
        try Self.writeOutside(outside + "/assignments/\(Self.ts2)", .assignments, [Row.assignment("a2", section: "s2", title: "Outside")])
        usleep(2_500_000)
        let seen = try w.buffer().files().filter { $0.path.hasPrefix("section=s2/") && $0.snapshot != Self.ts1 }
        #expect(seen.isEmpty, "\(seen.map { "\($0.path) \($0.state)" })")
        #expect(try w.snapshot("Assignment", "Title")["a2"] != "Outside")
        #expect(Self.lines(watch.output, level: "ERROR").isEmpty, "\(watch.output)")
        // The rest goes on.
        try w.write("users/\(Self.ts2)", .users, (1...5).map { Row.user("u\($0)") })
        #expect(eventually { try w.count("LMSUser") == 5 }, "\(watch.output)")
        #expect(watch.stop().code == 0)
    }

    /// Issue 8, 1.5: a closed file that stays quiet is complete, with or without a final line break.
    @Test func aClosedQuietFileWithoutAFinalLineBreakIsStagedAfterTheSettleTime() throws {
        let w = try World()
        try FileManager.default.createDirectory(atPath: w.root + "/users", withIntermediateDirectories: true)
        let watch = try w.startWatch(settle: 0.5)
        #expect(eventually { watch.output.contains("reconcile:") })
        let path = "users/\(Self.ts1)"
        var text = Resource.users.schema.columns.map(\.name).joined(separator: ",") + "\n"
        for i in 1...4 { text += "u\(i),TestLMS,student,,,User \(i),u\(i)@x.org,2026-08-01 08:00:00,2026-09-01 08:00:00,," + (i < 4 ? "\n" : "") }
        let written = Date()
        try w.writeRaw(path, text)
        #expect(eventually(10) { try Self.versions(w, path).first?.rowCount == 4 }, "\(watch.output)")
        // One settle time (0.5 s) and a round, not the old wait of 10 s for a line break that never comes.
        #expect(Date().timeIntervalSince(written) < 4, "staged after \(Date().timeIntervalSince(written)) s")
        #expect(eventually { try w.count("LMSUser") == 4 }, "\(watch.output)")
        #expect(try w.snapshot("LMSUser", "Name")["u4"] == "User 4")
        #expect(watch.stop().code == 0)
    }

    /// A file its writer still has open is not complete, however long it stays quiet, and the
    /// watcher waits for it without spinning.
    @Test func aFileStillOpenForWritingIsNotStagedHoweverQuiet() throws {
        let w = try World()
        let path = "users/\(Self.ts1)"
        try w.writeRaw(path, "")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: w.root + "/" + path))
        var text = Resource.users.schema.columns.map(\.name).joined(separator: ",") + "\n"
        // The writer pauses after a complete line (waiting for its next page of data, say).
        text += "u1,TestLMS,student,,,User 1,u1@x.org,2026-08-01 08:00:00,2026-09-01 08:00:00,,\n"
        try handle.write(contentsOf: Data(text.utf8))

        // Started after the write: only the reconcile scan finds the file, no event says it is closed.
        let watch = try w.startWatch(settle: 0.5)
        #expect(eventually { watch.output.contains("reconcile: 1 new") }, "\(watch.output)")
        let cpu = Self.cpuSeconds(watch.pid)
        usleep(4_000_000)
        let used = Self.cpuSeconds(watch.pid) - cpu
        #expect(try Self.versions(w, path).isEmpty, "staged while open: \(watch.output)")
        // /proc was read once or twice, not every 50 ms: the close event will say when it is done.
        #expect(used < 0.3, "the waiting watcher used \(used) s of CPU in 4 s")
        print("a watcher waiting 4 s for a file open for writing used \(used) s of CPU")

        try handle.write(contentsOf: Data("u2,TestLMS,student,,,User 2,u2@x.org,2026-08-01 08:00:00,2026-09-01 08:00:00,,\n".utf8))
        try handle.close()
        #expect(eventually { try w.count("LMSUser") == 2 }, "\(watch.output)")
        let v = try Self.versions(w, path)
        #expect(v.count == 1 && v.first?.rowCount == 2, "\(v)")
        #expect(watch.stop().code == 0)
    }
}
