import Agent
import Buffer
import Extract
import Foundation
import Testing

/// A bad file and the error it must produce.
struct BadInput: Sendable, CustomStringConvertible {
    var name: String
    var path: String
    var content: String
    /// Parts the error message must contain (file, line, column, what).
    var expected: [String]
    var description: String { name }

    static let header = Resource.users.schema.columns.map(\.name).joined(separator: ",")
    static let good = "u9,TestLMS,student,,,Nine,n@x.org,2026-08-01 08:00:00,2026-09-01 08:00:00,,"
    static let path = "users/2026-09-02-06-00-00.csv"

    static let all: [BadInput] = [
        BadInput(name: "missing required column", path: path,
                 content: header.replacingOccurrences(of: ",SourceCreateDate", with: "") + "\n" + "u9,TestLMS,student,,,Nine,n@x.org,2026-08-01 08:00:00,2026-09-01 08:00:00,\n",
                 expected: [path + ":1", "missing required column(s) SourceCreateDate"]),
        BadInput(name: "unknown column", path: path, content: header + ",Shoe\n" + good + ",42\n",
                 expected: [path + ":1", "unknown column(s) Shoe"]),
        BadInput(name: "ragged row", path: path, content: header + "\n" + good + "\n" + "u8,TestLMS,student\n",
                 expected: [path + ":3", "expected 11 fields", "found 3"]),
        BadInput(name: "unterminated quote", path: path, content: header + "\n" + good + "\nu8,TestLMS,student,,,\"Eight,e@x.org,2026-08-01 08:00:00,2026-09-01 08:00:00,,\n",
                 expected: [path + ":3", "unterminated quoted field"]),
        BadInput(name: "invalid UTF-8", path: path, content: header + "\n" + good + "\nu8,TestLMS,student,,,Ei\u{FFFD}ght,e@x.org,2026-08-01 08:00:00,2026-09-01 08:00:00,,\n",
                 expected: [path + ":3", "column '#6'", "invalid UTF-8"]),
        BadInput(name: "NUL byte", path: path, content: header + "\n" + good + "\nu8,TestLMS,student,,,Ei\u{0}ght,e@x.org,2026-08-01 08:00:00,2026-09-01 08:00:00,,\n",
                 expected: [path + ":3", "column '#6'", "NUL byte"]),
        BadInput(name: "bad date", path: path, content: header + "\n" + good + "\nu8,TestLMS,student,,,Eight,e@x.org,2026-08-01 08:00:00,2026-02-30 08:00:00,,\n",
                 expected: [path + ":3", "column 'LastModifiedDate'", "not a date and time"]),
        BadInput(name: "bad number", path: "section=s1/assignments/2026-09-02-07-00-00.csv",
                 content: Resource.assignments.schema.columns.map(\.name).joined(separator: ",") + "\n"
                    + "a9,TestLMS,Essay,Assignment,,,,,online_upload,ten,s1,2026-08-01 08:00:00,2026-09-01 08:00:00,,\n",
                 expected: ["assignments/2026-09-02-07-00-00.csv:2", "column 'MaxPoints'", "not a whole number"]),
        BadInput(name: "fractional points", path: "section=s1/assignment=a1/submissions/2026-09-02-07-00-00.csv",
                 content: Resource.submissions.schema.columns.map(\.name).joined(separator: ",") + "\n"
                    + "x1,TestLMS,submitted,2026-09-05 10:00:00,8.5,B,a1,u1,2026-08-01 08:00:00,2026-09-01 08:00:00,,\n",
                 expected: ["submissions/2026-09-02-07-00-00.csv:2", "column 'EarnedPoints'", "'8.5'"]),
        BadInput(name: "missing value", path: path, content: header + "\n" + good + "\nu8,TestLMS,student,,,,e@x.org,2026-08-01 08:00:00,2026-09-01 08:00:00,,\n",
                 expected: [path + ":3", "column 'Name'", "a value is required"]),
        BadInput(name: "empty file", path: path, content: "\n\n\n\n\n\n",
                 expected: [path, "empty file"]),
    ]
}

@Suite("Bad input is held back with a precise error; the rest flows")
struct BadInputTests {
    @Test(arguments: BadInput.all, TestEngine.available)
    func badFileIsRejected(_ bad: BadInput, _ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.flush()
        let before = try w.dump()

        // The bad file, plus a good file of another resource that must still load.
        // U+FFFD in a case's text stands for a byte that is not UTF-8.
        var bytes = [UInt8]()
        for b in Array(bad.content.utf8) { bytes.append(b) }
        bytes = bytes.replacing([0xEF, 0xBF, 0xBD], with: [0xFF])
        try w.writeRaw(bad.path, bytes)
        try w.write("section=s2/section-activities/2026-09-02-07-00-00.csv", .sectionActivities, [Row.sectionActivity("act1", user: "u1", section: "s2")])
        let run = try w.flush()
        #expect(run.exitCode == .rejectedFiles)
        #expect(run.stage?.rejected == 1)
        let error = try #require(run.stage?.errors.first)
        for part in bad.expected { #expect(error.contains(part), "\(error) lacks \(part)") }

        // The LMS-DS is as before, but for the good file.
        #expect(try w.count("LMSSectionActivity") == 1)
        let after = try w.dump().filter { !$0.contains("LMSSectionActivity") && !$0.contains("section-activities") }
        #expect(after == before)

        // The ledger holds the file as rejected, with no staged rows, and keeps it so.
        let ledger = try #require(try w.buffer().latestVersion(of: bad.path))
        #expect(ledger.state == .rejected)
        #expect(ledger.lastError == error)
        let again = try w.flush()
        #expect(again.exitCode == .rejectedFiles)
        #expect(again.stage?.rejected == 0)

        // Fixing the file clears it.
        if bad.path.hasPrefix("users/") {
            try w.writeRaw(bad.path, BadInput.header + "\n" + BadInput.good + "\n")
            let fixed = try w.flush()
            #expect(fixed.exitCode == .success)
            #expect(try w.snapshot("LMSUser")["u9"] != nil)
        }
    }

    @Test(arguments: TestEngine.available)
    func tinyFilesAreNoDataNotErrors(_ engine: TestEngine) throws {
        // Extractors write a lone newline for a section without data (upstream ignores <= 4 bytes).
        let w = try World(engine: engine)
        try w.writeBase()
        try w.writeRaw("section=s1/attendance-events/2026-09-01-07-00-00.csv", "\n")
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(run.stage?.ignored == 1)
        #expect(try w.buffer().latestVersion(of: "section=s1/attendance-events/2026-09-01-07-00-00.csv")?.state == .ignored)
    }
}
