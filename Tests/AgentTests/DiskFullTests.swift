import Agent
import Buffer
import Extract
import Foundation
import Glibc
import SampleExtract
import Testing

/// A full disk under the buffer or under the SQLite LMS-DS (a small tmpfs): a clear error naming
/// the file, nothing corrupted, everything staged kept (exit 4), and once the file system has room
/// again `resume`/`flush` (or a running `watch`, by itself) finish with the LMS-DS of a clean run.
@Suite("faults: the disk is full", .serialized,
       .enabled(if: Tmpfs.canMount, "not root: a tmpfs cannot be mounted, so the disk-full tests are skipped"))
struct DiskFullTests {
    static let exitUnavailable = Agent.ExitStatus.targetUnavailable.rawValue

    static func sample(day: Int) -> SampleOptions { .sized(users: 400, sections: 30, assignmentsPerSection: 6, day: day) }

    /// Day 1 and day 2 of the sample flushed one after the other into an untroubled world.
    static func reference() throws -> (contents: LMSContents, states: [String]) {
        let r = try World()
        _ = try SampleGenerator.write(to: r.root, options: sample(day: 1))
        try r.flush()
        _ = try SampleGenerator.write(to: r.root, options: sample(day: 2))
        try r.flush()
        return (try LMSContents(r), try r.ledgerStates())
    }

    /// One line of the output names the file and says its file system is full.
    static func saysFull(_ output: String, naming path: String) -> Bool {
        output.split(separator: "\n").contains { $0.contains(path) && $0.contains("full") }
    }

    // MARK: the buffer's file system

    @Test func theBufferFillsUpDuringAFlushAndTheNextFlushFinishes() throws {
        let expected = try Self.reference()
        let w = try World()
        let fs = try Tmpfs(in: w, "bufferfs", megabytes: 64)
        defer { fs.unmount() }
        let buffer = fs.path + "/buffer.sqlite"
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 1))
        let first = try w.runAgent(["flush"], buffer: buffer)
        #expect(first.code == 0, "\(first.output)")
        let day1 = try w.ledgerStates(buffer: buffer)

        // The file system is shrunk to what is in use plus 256 KiB; day 2 does not fit.
        try fs.resize(kilobytes: (fs.usedBytes / 1024) + 256)
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 2))
        let full = try w.runAgent(["flush"], buffer: buffer)
        #expect(full.code == Self.exitUnavailable, "\(full.output)")
        let said = full.stdout + full.stderr
        #expect(Self.saysFull(said, naming: buffer), "the error names the buffer and says its disk is full:\n\(full.output)")
        #expect(sqliteIntegrity(buffer) == "ok")
        #expect(sqliteIntegrity(w.settings.sqliteDatabasePath) == "ok")
        // Everything staged before is kept: day 1's files are still there, in the same states;
        // nothing is rejected for want of space.
        let after = try w.ledgerStates(buffer: buffer)
        #expect(day1.allSatisfy(after.contains), "\(day1.filter { !after.contains($0) }.prefix(5))")
        #expect(!after.contains { $0.hasSuffix(": rejected") }, "\(after.filter { $0.hasSuffix(": rejected") }.prefix(5))")

        // Room again: the next flush goes on and finishes the job.
        try fs.resize(megabytes: 64)
        let again = try w.runAgent(["flush"], buffer: buffer)
        #expect(again.code == 0, "\(again.output)")
        let contents = try LMSContents(w)
        #expect(contents == expected.contents, "\(contents.differences(from: expected.contents))")
        print("disk full: \(contents.rows.count) rows of the LMS-DS equal to a clean run's")
        #expect(try w.ledgerStates(buffer: buffer) == expected.states)
        #expect(try w.processedPathsTwice().isEmpty)
    }

    @Test func aWatcherWhoseBufferIsFullGoesOnByItselfOnceThereIsRoom() throws {
        let expected = try Self.reference()
        let w = try World()
        let fs = try Tmpfs(in: w, "bufferfs", megabytes: 3)
        defer { fs.unmount() }
        let buffer = fs.path + "/buffer.sqlite"
        let watch = try w.startAgent(["watch", "--settle-seconds", "0.3"], buffer: buffer)
        defer { if watch.isRunning { _ = watch.stop() } }
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 1))
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 2))
        #expect(eventually(60) { Self.saysFull(watch.stderr, naming: buffer) }, "\(watch.output)")
        usleep(1_000_000)
        #expect(watch.isRunning, "\(watch.output)")
        #expect(sqliteIntegrity(buffer) == "ok")

        try fs.resize(megabytes: 64)
        #expect(eventually(120) { try w.ledgerStates(buffer: buffer) == expected.states }, "\(watch.output.suffix(4000))")
        let contents = try LMSContents(w)
        #expect(contents == expected.contents, "\(contents.differences(from: expected.contents))")
        print("disk full: \(contents.rows.count) rows of the LMS-DS equal to a clean run's")
        #expect(try w.processedPathsTwice().isEmpty)
        #expect(watch.stop().code == 0, "\(watch.output.suffix(2000))")
    }

    // MARK: the SQLite LMS-DS's file system

    @Test func theLMSDSFillsUpAndResumeFinishesOnceItGrows() throws {
        let expected = try Self.reference()
        let w = try World()
        let fs = try Tmpfs(in: w, "lmsfs", megabytes: 3)
        defer { fs.unmount() }
        let lms = fs.path + "/lms-ds.sqlite"
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 1))
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 2))

        let full = try w.runAgent(["flush"], dbname: lms)
        #expect(full.code == Self.exitUnavailable, "\(full.output)")
        let said = full.stdout + full.stderr
        #expect(Self.saysFull(said, naming: lms), "the error names the LMS-DS and says its disk is full:\n\(full.output)")
        #expect(!said.contains("rejected by the LMS-DS"), "\(full.output)")
        #expect(sqliteIntegrity(lms) == "ok")
        #expect(sqliteIntegrity(w.settings.bufferPath!) == "ok")
        // Nothing is rejected: what did not fit stays staged.
        let states = try w.ledgerStates()
        #expect(!states.contains { $0.hasSuffix(": rejected") }, "\(states.filter { $0.hasSuffix(": rejected") }.prefix(5))")
        #expect(states.contains { $0.hasSuffix(": staged") })
        // Still full: resume says so again and keeps everything.
        let stillFull = try w.runAgent(["resume"], csvPath: false, dbname: lms)
        #expect(stillFull.code == Self.exitUnavailable, "\(stillFull.output)")

        try fs.resize(megabytes: 64)
        let resume = try w.runAgent(["resume"], csvPath: false, dbname: lms)
        #expect(resume.code == 0, "\(resume.output)")
        let flush = try w.runAgent(["flush"], dbname: lms)
        #expect(flush.code == 0, "\(flush.output)")
        #expect(flush.stdout.contains("forward: nothing to do"), "\(flush.output)")
        let contents = try LMSContents(sqlite: lms, root: w.root)
        #expect(contents == expected.contents, "\(contents.differences(from: expected.contents))")
        print("disk full: \(contents.rows.count) rows of the LMS-DS equal to a clean run's")
        #expect(try w.ledgerStates() == expected.states)
        #expect(sqliteIntegrity(lms) == "ok")
    }

    @Test func aWatcherWhoseLMSDSIsFullGoesOnByItselfOnceThereIsRoom() throws {
        let expected = try Self.reference()
        let w = try World()
        let fs = try Tmpfs(in: w, "lmsfs", megabytes: 3)
        defer { fs.unmount() }
        let lms = fs.path + "/lms-ds.sqlite"
        let watch = try w.startAgent(["watch", "--settle-seconds", "0.3"], dbname: lms)
        defer { if watch.isRunning { _ = watch.stop() } }
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 1))
        _ = try SampleGenerator.write(to: w.root, options: Self.sample(day: 2))
        #expect(eventually(60) { watch.stderr.contains("the LMS-DS is unavailable") }, "\(watch.output)")
        #expect(Self.saysFull(watch.stderr, naming: lms), "\(watch.output)")
        usleep(2_000_000)
        #expect(watch.isRunning)
        #expect(sqliteIntegrity(lms) == "ok")
        #expect(!(try w.ledgerStates()).contains { $0.hasSuffix(": rejected") })

        try fs.resize(megabytes: 64)
        #expect(eventually(120) { try w.ledgerStates() == expected.states }, "\(watch.output.suffix(4000))")
        let contents = try LMSContents(sqlite: lms, root: w.root)
        #expect(contents == expected.contents, "\(contents.differences(from: expected.contents))")
        print("disk full: \(contents.rows.count) rows of the LMS-DS equal to a clean run's")
        #expect(eventually(5) { watch.stderr.contains("reachable again") }, "\(watch.output.suffix(2000))")
        #expect(watch.stop().code == 0)
    }
}
