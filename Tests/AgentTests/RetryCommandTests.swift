import Agent
import Extract
import Foundation
import Testing

/// `lms-agent retry ID` on a file whose input was bad: it is read again from the extract (the
/// re-staging that moved from the command into `LMSAgent.retry`), and says what came of it.
@Suite("retry reads a bad file again", .serialized)
struct RetryCommandTests {
    /// The newest rejected version of the users file, as the ledger has it.
    static func rejectedUsers(_ w: World) throws -> LedgerFile {
        let agent = try w.agent(csvPath: false)
        defer { agent.close() }
        return try #require(try agent.files(in: .rejected).last { $0.path == "users/2026-09-01-07-00-00.csv" })
    }

    /// Every version of `path` in the ledger.
    static func versions(_ w: World, _ path: String) throws -> [LedgerFile] {
        let agent = try w.agent(csvPath: false)
        defer { agent.close() }
        return try agent.files().filter { $0.path == path }
    }

    @Test func aStillBadFileIsRejectedAgainThenAFixedOneIsStagedAndForwarded() throws {
        let w = try World()
        try w.writeBase()
        let path = "users/2026-09-01-07-00-00.csv"
        // A newer users snapshot: the four users of the base, one with a bad date, and a fifth.
        try w.write(path, .users, [Row.user("u1", modified: "not a date")] + (2...4).map { Row.user("u\($0)") } + [Row.user("u9")])
        #expect(try w.flush().exitCode == .rejectedFiles)
        let first = try Self.rejectedUsers(w)

        // Still bad on disk: read again, rejected again as a new version, exit 2.
        let again = try w.runAgent(["retry", String(first.id)], csvPath: false)
        #expect(again.code == ExitStatus.rejectedFiles.rawValue, "\(again.output)")
        // The old version is forgotten (its id may be reused): one version of the path, rejected.
        let second = try Self.rejectedUsers(w)
        #expect(try Self.versions(w, path).map(\.state) == [.rejected])
        #expect(again.stdout.contains("\(path) is still rejected (file \(second.id)):") && again.stdout.contains("column 'LastModifiedDate'"), "\(again.output)")

        // Fixed on disk: read again and staged; nothing reaches the LMS-DS before resume.
        try w.write(path, .users, (1...4).map { Row.user("u\($0)") } + [Row.user("u9")])
        let fixed = try w.runAgent(["retry", String(second.id)], csvPath: false)
        #expect(fixed.code == 0, "\(fixed.output)")
        let versions = try Self.versions(w, path)
        #expect(versions.map(\.state) == [.staged] && versions.first?.rowCount == 5)
        let staged = try #require(versions.first)
        #expect(fixed.stdout.contains("\(path) read again: staged as file \(staged.id) with 5 rows"), "\(fixed.output)")
        #expect(try w.count("LMSUser") == 4)
        #expect(try w.resume().exitCode == .success)
        #expect(try w.count("LMSUser") == 5)
    }

    @Test func aBadFileGoneFromTheExtractIsForgottenAndNothingIsRead() throws {
        let w = try World()
        try w.writeBase()
        let path = "users/2026-09-01-07-00-00.csv"
        try w.write(path, .users, [Row.user("u1", modified: "not a date")])
        #expect(try w.flush().exitCode == .rejectedFiles)
        let rejected = try Self.rejectedUsers(w)
        try w.remove(path)
        let before = try w.dump()

        let run = try w.runAgent(["retry", String(rejected.id)], csvPath: false)
        #expect(run.code == 0, "\(run.output)")
        #expect(run.stdout.contains("file \(rejected.id) was forgotten; \(path) is no longer in the extract"), "\(run.output)")
        // The rejected version is forgotten and no new one was staged; the LMS-DS is as it was.
        #expect(try Self.versions(w, path).isEmpty)
        #expect(try w.dump() == before)
    }
}
