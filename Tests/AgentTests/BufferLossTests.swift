import Agent
import Buffer
import Extract
import Foundation
import Glibc
import SQLiteDB
import Testing

/// The buffer deleted, its header overwritten, or the file cut short. The agent says so, moves a
/// corrupt buffer aside, and rebuilds from the extract and the LMS-DS's ProcessedFiles: nothing is
/// applied twice, and rows that waited for their parents in the lost buffer are not dropped.
@Suite("faults: the buffer is deleted or corrupt", .serialized)
struct BufferLossTests {
    static let ts1 = "2026-09-01-06-00-00.csv", ts2 = "2026-09-02-06-00-00.csv"

    /// Users u1..u4, section s1, and an enrollment file of s1 with one row (e9) for u9, who is not
    /// there yet: after a flush e9 waits for its parent.
    static func writeDay1(_ w: World) throws {
        try w.write("users/\(ts1)", .users, (1...4).map { Row.user("u\($0)") })
        try w.write("sections/\(ts1)", .sections, [Row.section("s1")])
        try w.write("section=s1/section-associations/\(ts1)", .sectionAssociations,
                    [Row.enrollment("e1", user: "u1", section: "s1"), Row.enrollment("e9", user: "u9", section: "s1")])
    }

    /// The next users snapshot brings u9.
    static func writeDay2(_ w: World) throws {
        try w.write("users/\(ts2)", .users, (1...4).map { Row.user("u\($0)") } + [Row.user("u9")])
    }

    /// Both days flushed into an untroubled world.
    static func reference(_ engine: TestEngine) throws -> LMSContents {
        let r = try World(engine: engine)
        try writeDay1(r)
        #expect(try r.flush().exitCode == .waitingRows)
        try writeDay2(r)
        #expect(try r.flush().exitCode == .success)
        return try LMSContents(r)
    }

    static func removeBuffer(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    }

    /// Folds the WAL into the buffer file, so that damage to the file is damage to the buffer.
    static func checkpoint(_ path: String) throws {
        let db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    static func asideFiles(_ w: World) throws -> [String] {
        let name = (w.settings.bufferPath! as NSString).lastPathComponent
        return try FileManager.default.contentsOfDirectory(atPath: w.dir).filter { $0.hasPrefix(name + ".corrupt-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
    }

    @Test(arguments: TestEngine.available)
    func aDeletedBufferIsRebuiltAndRowsThatWaitedAreApplied(_ engine: TestEngine) throws {
        let expected = try Self.reference(engine)
        let w = try World(engine: engine)
        try Self.writeDay1(w)
        let first = try w.runAgent(["flush"])
        #expect(first.code == Agent.ExitStatus.waitingRows.rawValue, "\(first.output)")
        #expect(try w.buffer().waitingFiles().map(\.waitingRows) == [1])

        Self.removeBuffer(w.settings.bufferPath!)
        try Self.writeDay2(w)
        let flush = try w.runAgent(["flush"])
        #expect(flush.code == 0, "\(flush.output)")
        // It says what happened.
        #expect(flush.stderr.contains("WARNING") && flush.stderr.contains("rebuilt from the extract"), "\(flush.output)")
        // The row that waited in the lost buffer is applied; nothing is applied twice.
        #expect(try w.snapshot("LMSUserLMSSectionAssociation", "EnrollmentStatus") == ["e1": "active", "e9": "active"])
        #expect(try w.processedPathsTwice().isEmpty)
        let contents = try LMSContents(w)
        #expect(contents == expected, "\(contents.differences(from: expected))")
        #expect(try w.buffer().pendingFiles().isEmpty)
    }

    /// The other side of "waiting rows are not dropped": a late, older snapshot that was superseded
    /// (recorded in ProcessedFiles, never applied) must not come back to life in a rebuilt buffer.
    /// Its orphan row e9 is not in the newer snapshot that won, so it must never be inserted.
    @Test(arguments: TestEngine.available)
    func aRebuiltBufferDoesNotApplyASupersededLateSnapshot(_ engine: TestEngine) throws {
        func writeNewer(_ w: World) throws {
            try w.write("users/\(Self.ts1)", .users, (1...4).map { Row.user("u\($0)") })
            try w.write("sections/\(Self.ts1)", .sections, [Row.section("s1")])
            try w.write("section=s1/section-associations/\(Self.ts2)", .sectionAssociations, [Row.enrollment("e1", user: "u1", section: "s1")])
        }
        func writeLateOlder(_ w: World) throws {
            try w.write("section=s1/section-associations/\(Self.ts1)", .sectionAssociations,
                        [Row.enrollment("e1", user: "u1", section: "s1"), Row.enrollment("e9", user: "u9", section: "s1")])
        }
        let reference = try World(engine: engine)
        try writeNewer(reference)
        try reference.flush()
        try writeLateOlder(reference)
        try reference.flush()
        try Self.writeDay2(reference)
        try reference.flush()
        let expected = try LMSContents(reference)
        #expect(try reference.snapshot("LMSUserLMSSectionAssociation", "EnrollmentStatus") == ["e1": "active"])

        let w = try World(engine: engine)
        try writeNewer(w)
        #expect(try w.runAgent(["flush"]).code == 0)
        try writeLateOlder(w)
        let late = try w.runAgent(["flush"])
        #expect(try w.buffer().versions(of: "section=s1/section-associations/\(Self.ts1)").map(\.state) == [.superseded], "\(late.output)")
        Self.removeBuffer(w.settings.bufferPath!)
        try Self.writeDay2(w)
        let flush = try w.runAgent(["flush"])
        #expect(flush.code == 0, "\(flush.output)")
        #expect(try w.snapshot("LMSUserLMSSectionAssociation", "EnrollmentStatus") == ["e1": "active"])
        #expect(try w.processedPathsTwice().isEmpty)
        let contents = try LMSContents(w)
        #expect(contents == expected, "\(contents.differences(from: expected))")
    }

    @Test(arguments: TestEngine.available)
    func aBufferWithAnOverwrittenHeaderIsMovedAsideAndRebuilt(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        #expect(try w.runAgent(["flush"]).code == 0)
        let before = try w.dump()
        let buffer = w.settings.bufferPath!
        try Self.checkpoint(buffer)
        let fd = open(buffer, O_WRONLY)
        let garbage = Array(String(repeating: "not a buffer any more! ", count: 5).utf8)
        #expect(pwrite(fd, garbage, garbage.count, 0) == garbage.count)
        close(fd)

        // Commands that do not rebuild say so and leave the file alone.
        for command in [["status"], ["resume"], ["inspect", "files"]] {
            let p = try w.runAgent(command)
            #expect(p.code == Agent.ExitStatus.fatal.rawValue, "\(p.output)")
            #expect(p.stderr.contains("corrupt") && p.stderr.contains(buffer) && p.stderr.contains("flush"), "\(p.output)")
        }
        #expect(try Self.asideFiles(w).isEmpty)

        // flush moves it aside, says so, and builds a new one; the LMS-DS is not touched.
        let flush = try w.runAgent(["flush"])
        #expect(flush.code == 0, "\(flush.output)")
        let aside = try Self.asideFiles(w)
        #expect(aside.count == 1)
        #expect(flush.stderr.split(separator: "\n").contains { $0.contains("ERROR") && $0.contains("corrupt") && $0.contains(aside.first ?? "?") }, "\(flush.output)")
        #expect(sqliteIntegrity(buffer) == "ok")
        #expect(try w.dump() == before)
        #expect(try w.ledgerStates().allSatisfy { $0.hasSuffix(": forwarded") })
        // The damaged file is kept as it was, for a post-mortem.
        let kept = try Data(contentsOf: URL(fileURLWithPath: w.dir + "/" + aside[0]))
        #expect(Array(kept.prefix(garbage.count)) == garbage)
    }

    @Test(arguments: TestEngine.available)
    func aTruncatedBufferIsMovedAsideAndRowsThatWaitedAreApplied(_ engine: TestEngine) throws {
        let expected = try Self.reference(engine)
        let w = try World(engine: engine)
        try Self.writeDay1(w)
        #expect(try w.runAgent(["flush"]).code == Agent.ExitStatus.waitingRows.rawValue)
        let buffer = w.settings.bufferPath!
        try Self.checkpoint(buffer)
        var st = stat()
        stat(buffer, &st)
        #expect(truncate(buffer, st.st_size / 2) == 0)

        try Self.writeDay2(w)
        let flush = try w.runAgent(["flush"])
        #expect(flush.code == 0, "\(flush.output)")
        #expect(try Self.asideFiles(w).count == 1, "\(flush.output)")
        #expect(flush.stderr.contains("corrupt"), "\(flush.output)")
        #expect(try w.snapshot("LMSUserLMSSectionAssociation", "EnrollmentStatus") == ["e1": "active", "e9": "active"])
        #expect(try w.processedPathsTwice().isEmpty)
        let contents = try LMSContents(w)
        #expect(contents == expected, "\(contents.differences(from: expected))")
    }
}
