import Agent
import Buffer
import Extract
import Foundation
import Glibc
import SampleExtract
import Testing

/// Two processes on one buffer. A watcher owns its buffer: `flush`, `resume` and `retry` refuse
/// (exit 1, naming its pid) and a second watcher too. Two of `flush`/`resume`/`retry` at once are
/// serialised: the second waits for the first, saying so. `status` and `inspect` only read and
/// keep working while a watcher runs.
@Suite("faults: two processes on one buffer", .serialized)
struct BufferLockTests {
    /// Waits until the buffer's lock names a holder; returns its pid.
    static func holder(_ w: World, timeout: Double = 30) -> String? {
        var pid: String? = nil
        _ = eventually(timeout) {
            pid = BufferLock.holder(bufferPath: w.settings.bufferPath!)?.pid
            return pid != nil
        }
        return pid
    }

    @Test func commandsThatWriteRefuseWhileAWatcherHoldsTheBuffer() throws {
        let w = try World()
        try w.writeBase()
        try w.write("users/2026-09-01-07-00-00.csv", .users, [Row.user("u1", modified: "not a date")])
        let watch = try w.startWatch()
        defer { if watch.isRunning { _ = watch.stop() } }
        // The whole first round is in (assignments come last) before the LMS-DS is taken as "before".
        #expect(eventually { try w.count("LMSUserLMSSectionAssociation") == 8 && w.count("Assignment") == 2 }, "\(watch.output)")
        let pid = String(watch.pid)
        #expect(Self.holder(w) == pid)
        let before = try w.dump()
        let rejected = try #require(try w.buffer().files(inState: .rejected).first)

        for command in [["flush"], ["resume"], ["retry", String(rejected.id)]] {
            let p = try w.runAgent(command, csvPath: command != ["retry", String(rejected.id)])
            #expect(p.code == Agent.ExitStatus.fatal.rawValue, "\(command): \(p.output)")
            #expect(p.stderr.contains("watcher") && p.stderr.contains("pid \(pid)"), "\(command): \(p.output)")
        }
        // A second watcher is refused too.
        let second = try w.runAgent(["watch", "--settle-seconds", "0.5"])
        #expect(second.code == Agent.ExitStatus.fatal.rawValue, "\(second.output)")
        #expect(second.stderr.contains("pid \(pid)"), "\(second.output)")
        // Nothing was touched: the retried file is still rejected, the LMS-DS is as it was.
        #expect(try w.buffer().file(id: rejected.id)?.state == .rejected)
        #expect(try w.dump() == before)

        // Reading is fine while it runs.
        let status = try w.runAgent(["status"])
        #expect(status.code == 0, "\(status.output)")
        #expect(status.stdout.contains("watcher: running (pid \(pid))"), "\(status.output)")
        let inspect = try w.runAgent(["inspect", "files"])
        #expect(inspect.code == 0, "\(inspect.output)")
        #expect(inspect.stdout.contains("users/2026-09-01-07-00-00.csv"), "\(inspect.output)")

        // Once it has stopped, the same commands work.
        #expect(watch.stop().code == 0)
        #expect(BufferLock.holder(bufferPath: w.settings.bufferPath!) == nil)
        let flush = try w.runAgent(["flush"])
        #expect(flush.code == Agent.ExitStatus.rejectedFiles.rawValue, "\(flush.output)")
    }

    @Test(arguments: TestEngine.available)
    func twoFlushesAtOnceAreSerialised(_ engine: TestEngine) throws {
        let reference = try World(engine: engine)
        var o = SampleOptions()
        o.users = 400; o.sections = 30; o.assignmentsPerSection = 6
        _ = try SampleGenerator.write(to: reference.root, options: o)
        let expectedCode = try reference.flush().exitCode.rawValue

        let w = try World(engine: engine)
        _ = try SampleGenerator.write(to: w.root, options: o)
        let first = try w.startAgent(["flush"])
        let pid = Self.holder(w)
        #expect(pid == String(first.pid), "\(first.output)")
        // The second names the buffer through a symbolic link to its folder: still the same buffer.
        let alias = w.dir + "-alias"
        #expect(symlink(w.dir, alias) == 0)
        defer { unlink(alias) }
        let second = try w.startAgent(["flush"], buffer: alias + "/buffer.sqlite")
        #expect(eventually(30) { second.stderr.contains("waiting") }, "\(second.output)")
        #expect(second.stderr.contains("flush (pid \(first.pid))"), "\(second.output)")
        #expect(first.isRunning, "the first flush was done before the second one asked: make the tree larger")

        #expect(first.wait().code == expectedCode, "\(first.output)")
        #expect(second.wait().code == expectedCode, "\(second.output)")
        // The second ran after the first: it found everything staged and forwarded.
        #expect(second.stdout.contains(" 0 staged (0 rows)"), "\(second.output)")
        #expect(second.stdout.contains("forward: nothing to do"), "\(second.output)")
        let contents = try LMSContents(w)
        let expected = try LMSContents(reference)
        #expect(contents == expected, "\(contents.differences(from: expected))")
        #expect(try w.processedPathsTwice().isEmpty)
    }

    @Test func aWatcherStartedDuringAFlushWaitsForIt() throws {
        let w = try World()
        var o = SampleOptions()
        o.users = 400; o.sections = 30; o.assignmentsPerSection = 6
        _ = try SampleGenerator.write(to: w.root, options: o)
        let flush = try w.startAgent(["flush"])
        #expect(Self.holder(w) == String(flush.pid), "\(flush.output)")
        let watch = try w.startAgent(["watch", "--settle-seconds", "0.3"])
        defer { if watch.isRunning { _ = watch.stop() } }
        #expect(eventually(30) { watch.stderr.contains("flush (pid \(flush.pid))") }, "\(watch.output)")
        #expect(flush.wait().code == 0, "\(flush.output)")
        // Then it takes the buffer, reconciles (nothing to do) and watches.
        #expect(eventually(30) { BufferLock.holder(bufferPath: w.settings.bufferPath!)?.pid == String(watch.pid) }, "\(watch.output)")
        try w.write("users/2026-09-02-06-00-00.csv", .users, [Row.user("late")])
        #expect(eventually(30) { try w.snapshot("LMSUser", "Name")["late"] == "User late" }, "\(watch.output)")
        #expect(watch.stop().code == 0)
    }
}
