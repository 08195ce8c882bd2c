import Agent
import Buffer
import Extract
import Foundation
import Glibc
import Logging
import Testing

// The hostile-input corpus (issue 7, section 5). Every case runs the real pipeline (scan, stage,
// forward) on a World whose LMS-DS already holds a base extract, then checks three things: the
// error names the file, line and column; nothing of the bad file reached the LMS-DS (the whole
// LMS-DS is compared with its state before); and the other, valid files of the same tree loaded.
// The table in README ("Bad input") lists the same cases.

// MARK: - Building the corpus

enum Corpus {
    static let day2 = "2026-09-02-06-00-00.csv"
    static let usersPath = "users/" + day2
    static let enrollmentsPath = "section=s1/section-associations/" + day2
    static let assignmentsPath = "section=s1/assignments/" + day2
    static let submissionsPath = "section=s1/assignment=a1/submissions/" + day2

    static func header(_ r: Resource) -> String { r.schema.columns.map(\.name).joined(separator: ",") }

    /// A users row in the schema's column order.
    static func user(_ id: String, name: String = "", email: String? = nil, local: String = "") -> String {
        "\(id),TestLMS,student,\(local),,\(name.isEmpty ? "User \(id)" : name),\(email ?? "\(id)@example.org"),2026-08-01 08:00:00,2026-09-02 08:00:00,,"
    }

    /// Header, then two valid rows (line 2 renames u1, line 3 adds u9), then `rest` from line 4 on.
    /// Applied even in part, the file would show: u1 renamed, u9 present, or u2..u4 deleted
    /// (a users file is a snapshot of the whole source system).
    static func users(_ rest: String) -> [UInt8] {
        Array((header(.users) + "\n" + user("u1", name: "Renamed One") + "\n" + user("u9", name: "Nine") + "\n" + rest).utf8)
    }

    static func users(_ rest: [UInt8]) -> [UInt8] { users("") + rest }

    static func enrollment(_ id: String, user: String, section: String, status: String = "active") -> String {
        "\(id),TestLMS,\(status),\(user),\(section),2026-08-01 08:00:00,2026-09-02 08:00:00,,"
    }

    /// Section s1's enrollments, with a change (line 2) and a new row (line 3) before `rest`.
    static func enrollments(_ rest: String) -> [UInt8] {
        Array((header(.sectionAssociations) + "\n" + enrollment("e-s1-u1", user: "u1", section: "s1", status: "dropped") + "\n"
               + enrollment("e-s1-new", user: "u2", section: "s1") + "\n" + rest).utf8)
    }

    static func assignment(_ id: String, section: String, title: String? = nil, description: String = "") -> String {
        "\(id),TestLMS,\(title ?? "Assignment \(id)"),Assignment,\(description),,,2026-09-10 23:59:00,online_upload,10,\(section),2026-08-01 08:00:00,2026-09-02 08:00:00,,"
    }

    static func submission(_ id: String, assignment: String, user: String) -> String {
        "\(id),TestLMS,submitted,2026-09-05 10:00:00,8,B,\(assignment),\(user),2026-08-01 08:00:00,2026-09-02 08:00:00,,"
    }

    static func utf16LE(_ s: String) -> [UInt8] {
        [0xFF, 0xFE] + s.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
    }
}

/// A broken file and the error it must produce.
struct HostileFile: Sendable, CustomStringConvertible {
    var name: String
    var path: String
    var bytes: [UInt8]
    /// Parts the error must contain: `path:line`, `column 'X'` where a column applies, and the message.
    var expected: [String]
    var description: String { name }

    init(_ name: String, _ path: String, _ bytes: [UInt8], _ expected: String...) {
        self.name = name
        self.path = path
        self.bytes = bytes
        self.expected = expected
    }

    static let tenMB = 10 << 20

    static let rejected: [HostileFile] = {
        typealias C = Corpus
        let u = C.usersPath
        let good = C.user("u8", name: "Eight")
        return [
            HostileFile("ragged row: too few fields", u, C.users("u8,TestLMS,student\n" + good + "\n"),
                        u + ":4: ", "expected 11 fields as in the header, found 3"),
            HostileFile("ragged row: too many fields", u, C.users(good + ",surplus\n"),
                        u + ":4: ", "expected 11 fields as in the header, found 12"),
            HostileFile("unterminated quote", u, C.users("u8,TestLMS,student,,,\"Eight,e@x.org,2026-08-01 08:00:00,2026-09-02 08:00:00,,\n" + good + "\n"),
                        u + ":4: ", "column '#6'", "unterminated quoted field (it starts on line 4)"),
            HostileFile("file cut inside a quoted field (no final newline)", u, C.users("u8,TestLMS,student,,,\"Eigh"),
                        u + ":4: ", "column '#6'", "unterminated quoted field (it starts on line 4)"),
            HostileFile("file cut in the middle of a row", u, C.users("u8,TestLMS,stud"),
                        u + ":4: ", "expected 11 fields as in the header, found 3"),
            HostileFile("quote inside an unquoted field", u, C.users("u8,TestLMS,student,,,Ei\"ght,e@x.org,2026-08-01 08:00:00,2026-09-02 08:00:00,,\n"),
                        u + ":4: ", "column '#6'", "quote inside an unquoted field"),
            HostileFile("text after a closing quote", u, C.users("u8,TestLMS,student,,,\"Eight\" Jr,e@x.org,2026-08-01 08:00:00,2026-09-02 08:00:00,,\n"),
                        u + ":4: ", "column '#6'", "text after the closing quote of a field"),
            HostileFile("invalid UTF-8: a Latin-1 byte", u, C.users(Array("u8,TestLMS,student,,,M".utf8) + [0xFC] + Array("ller,e@x.org,2026-08-01 08:00:00,2026-09-02 08:00:00,,\n".utf8)),
                        u + ":4: ", "column '#6'", "invalid UTF-8"),
            HostileFile("invalid UTF-8: overlong '/' and an encoded surrogate", u,
                        C.users(Array("u8,TestLMS,student,,,Eight,e".utf8) + [0xC0, 0xAF, 0xED, 0xA0, 0x80] + Array("@x.org,2026-08-01 08:00:00,2026-09-02 08:00:00,,\n".utf8)),
                        u + ":4: ", "column '#7'", "invalid UTF-8"),
            HostileFile("NUL byte in a field", u, C.users(Array("u8,TestLMS,student,,,Ei".utf8) + [0] + Array("ght,e@x.org,2026-08-01 08:00:00,2026-09-02 08:00:00,,\n".utf8)),
                        u + ":4: ", "column '#6'", "NUL byte in field"),
            HostileFile("UTF-16 file", u, Corpus.utf16LE(Corpus.header(.users) + "\n" + good + "\n"),
                        u + ":1: ", "the file is UTF-16 text"),
            HostileFile("10 MB field in a 255-character column", u, C.users("u8,TestLMS,student,,," + String(repeating: "n", count: tenMB) + ",e@x.org,2026-08-01 08:00:00,2026-09-02 08:00:00,,\n"),
                        u + ":4: ", "column 'Name'", "value is \(tenMB) characters long; the limit is 255"),
            HostileFile("one character too long (multi-byte), never cut", u, C.users(C.user("u8", name: String(repeating: "é", count: 256)) + "\n"),
                        u + ":4: ", "column 'Name'", "value is 256 characters long; the limit is 255"),
            HostileFile("a 20 MB record without a line end", u, C.users("u8,TestLMS,student,,,\"" + String(repeating: "x", count: 20 << 20)),
                        u + ":4: ", "longer than 16 MiB, the most a record may have"),
            HostileFile("20,000 fields in one row", u, C.users(String(repeating: ",", count: 20_000) + "\n"),
                        u + ":4: ", "more than 10000 fields"),
            HostileFile("binary file named .csv (gzip)", u, [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03] + (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) },
                        u + ":1: ", "the file is gzip-compressed, not CSV text"),
            HostileFile("binary file named .csv (unknown format)", u, (0..<8192).map { UInt8(truncatingIfNeeded: $0) },
                        u + ":1: ", "the header row is not CSV text"),
            HostileFile("wrong header: another resource's columns", u, Array((C.header(.sections) + "\ns9,TestLMS,,Section,,,,2026-08-01 08:00:00,2026-09-02 08:00:00,,\n").utf8),
                        u + ":1: ", "header does not match the users schema: missing required column(s) UserRole, Name, EmailAddress; unknown column(s) SISSectionIdentifier, Title"),
            HostileFile("wrong header: names in lower case", u, Array((C.header(.users).lowercased() + "\n" + good + "\n").utf8),
                        u + ":1: ", "missing required column(s) SourceSystemIdentifier", "unknown column(s) sourcesystemidentifier"),
            HostileFile("wrong header: a second byte order mark", u, Array(("\u{FEFF}\u{FEFF}" + C.header(.users) + "\n" + good + "\n").utf8),
                        u + ":1: ", "missing required column(s) SourceSystemIdentifier", "unknown column(s) '\\u{FEFF}SourceSystemIdentifier'"),
            HostileFile("wrong header: Excel's sep= line", u, Array(("sep=,\n" + C.header(.users) + "\n" + good + "\n").utf8),
                        u + ":1: ", "unknown column(s) sep="),
            HostileFile("duplicate header column", u, Array((C.header(.users) + ",Name\n" + good + ",Again\n").utf8),
                        u + ":1: ", "column 'Name'", "column appears twice in the header"),
            HostileFile("empty quoted value in a NOT NULL column", u, C.users("u8,TestLMS,student,,,\"\",e@x.org,2026-08-01 08:00:00,2026-09-02 08:00:00,,\n"),
                        u + ":4: ", "column 'Name'", "a value is required"),
            HostileFile("section= folder whose row names another section", C.enrollmentsPath,
                        C.enrollments(C.enrollment("e-s2-u3", user: "u3", section: "s2") + "\n"),
                        C.enrollmentsPath + ":4: ", "column 'LMSSectionSourceSystemIdentifier'",
                        "the row names section 's2', but the file is in the folder of section 's1'"),
            HostileFile("assignment listed in another section's folder", C.assignmentsPath,
                        Array((C.header(.assignments) + "\n" + C.assignment("a1", section: "s1", title: "Renamed") + "\n" + C.assignment("a2", section: "s2") + "\n").utf8),
                        C.assignmentsPath + ":3: ", "column 'LMSSectionSourceSystemIdentifier'",
                        "the row names section 's2', but the file is in the folder of section 's1'"),
            HostileFile("assignment= folder whose row names another assignment", C.submissionsPath,
                        Array((C.header(.submissions) + "\n" + C.submission("x1", assignment: "a1", user: "u1") + "\n" + C.submission("x2", assignment: "a2", user: "u2") + "\n").utf8),
                        C.submissionsPath + ":3: ", "column 'AssignmentSourceSystemIdentifier'",
                        "the row names assignment 'a2', but the file is in the folder of assignment 'a1'"),
        ]
    }()
}

// MARK: - Reading logs back

/// Log lines of one test, for checking warnings.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [(level: Logger.Level, message: String)] = []

    func append(_ level: Logger.Level, _ message: String) { lock.lock(); lines.append((level, message)); lock.unlock() }
    var warnings: [String] { lock.lock(); defer { lock.unlock() }; return lines.filter { $0.level == .warning }.map(\.message) }
    /// Every message at `level` or above.
    func messages(atLeast level: Logger.Level) -> [String] { lock.lock(); defer { lock.unlock() }; return lines.filter { $0.level >= level }.map(\.message) }

    var logger: Logger { Logger(label: "test") { _ in CapturingLogHandler(capture: self) } }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var logLevel: Logger.Level = .debug
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { capture.append(event.level, event.message.description) }
}

extension World {
    /// `flush` arguments for the binary on this world's SQLite buffer and LMS-DS.
    var flushArguments: [String] {
        ["flush", "--csvpath", root, "--buffer", dir + "/buffer.sqlite", "--engine", "sqlite", "--dbname", dir + "/lms-ds.sqlite", "--json"]
    }

    /// Valid files of other resources, written next to a hostile file: they must load whatever it does.
    func writeWitnesses() throws {
        try write("section=s2/section-activities/2026-09-02-07-00-00.csv", .sectionActivities, [Row.sectionActivity("act1", user: "u1", section: "s2")])
        try write("system-activities/date=2026-09-02/2026-09-02-07-00-00.csv", .systemActivities, [Row.systemActivity("sys1", user: "u2")])
    }

    func expectWitnessesLoaded(sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try snapshot("LMSSectionActivity", "ActivityStatus") == ["act1": "active"], sourceLocation: sourceLocation)
        #expect(try snapshot("LMSSystemActivity", "ActivityStatus") == ["sys1": "active"], sourceLocation: sourceLocation)
    }

    /// The LMS-DS without the witnesses' rows and records.
    func dumpWithoutWitnesses() throws -> [String] {
        try dump().filter { !$0.contains("LMSSectionActivity") && !$0.contains("LMSSystemActivity") && !$0.contains("activities") }
    }

    /// Staged rows of a ledger version in the buffer.
    func stagedRows(_ file: LedgerFile) throws -> Int {
        var n = 0
        try buffer().rows(of: file) { _ in n += 1 }
        return n
    }
}

/// An inotify watch on a folder outside the extract: any open or read of it, or of a file in it, is
/// an event. Proves that the agent never opened what a link points at.
final class AccessProbe {
    let fd: Int32
    init(_ directories: [String]) throws {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        for d in directories {
            guard inotify_add_watch(fd, d, UInt32(IN_OPEN | IN_ACCESS)) >= 0 else { throw AgentError.config("inotify_add_watch \(d) failed") }
        }
    }
    deinit { close(fd) }
    /// Events since the last call.
    func events() -> Int {
        var n = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got <= 0 { break }
            var off = 0
            while off + 16 <= got {
                n += 1
                off += 16 + Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 12, as: UInt32.self) })
            }
        }
        return n
    }
}

// MARK: - The tests

@Suite("Hostile input: a precise error, nothing half-applied, the rest of the extract loads")
struct HostileInputTests {
    /// Every broken file of the corpus, on every engine.
    @Test(arguments: HostileFile.rejected, TestEngine.available)
    func brokenFileIsRejectedAlone(_ bad: HostileFile, _ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.flush()
        let before = try w.dump()

        try w.writeRaw(bad.path, bad.bytes)
        try w.writeWitnesses()
        let run = try w.flush()

        // The error names the file, the line and the column.
        #expect(run.exitCode == .rejectedFiles)
        #expect(run.stage?.rejected == 1)
        let error = try #require(run.stage?.errors.first)
        for part in bad.expected { #expect(error.contains(part), "\(error.prefix(400)) lacks \(part)") }
        #expect(error.count < 1_000, "an error is one short line, whatever the file holds")

        // Nothing of the file reached the LMS-DS or stayed staged in the buffer.
        #expect(try w.dumpWithoutWitnesses() == before)
        let ledger = try #require(try w.buffer().latestVersion(of: bad.path))
        #expect(ledger.state == .rejected)
        #expect(ledger.lastError == error)
        #expect(try w.stagedRows(ledger) == 0)

        // The rest of the extract loaded.
        try w.expectWitnessesLoaded()
    }

    @Test(arguments: TestEngine.available)
    func bomWithCRLFAndNoFinalNewlineLoads(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.flush()
        let text = "\u{FEFF}" + Corpus.header(.users) + "\r\n" + (1...4).map { Corpus.user("u\($0)", name: "Person \($0)") }.joined(separator: "\r\n")
        try w.writeRaw(Corpus.usersPath, text)
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(try w.snapshot("LMSUser", "Name") == ["u1": "Person 1", "u2": "Person 2", "u3": "Person 3", "u4": "Person 4"])
        // The last row (without a line end) is whole: its last field is the empty SourceLastModifiedDate.
        #expect(try w.value("SELECT EmailAddress FROM \(w.t("LMSUser")) WHERE SourceSystemIdentifier = 'u4'") == "u4@example.org")
    }

    /// Values that break SQL built by string concatenation, COPY's text format, or a naive CSV
    /// writer, stored exactly as written.
    static let verbatim: [String] = [
        "'; drop table lmsuser; --",
        "Robert'); DROP TABLE LMSUser;--",
        "\"quoted\" and \"\"doubled\"\"",
        "semi;colons;;everywhere;",
        "O'Brien, \"Bob\"",
        "back\\slash \\N \\. \\\\ end\\",
        "\\.",
        "tab\there",
        "two\nlines",
        "crlf\r\ninside",
        "$$ dollar $1 ? :name %s %d",
        "  padded  ",
        "NULL",
        "NA",
        "😀 emoji, עברית, 中文, e\u{301}",
        "line\u{2028}separator",
    ]

    @Test(arguments: TestEngine.available)
    func hostileValuesAreStoredVerbatim(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.flush()
        var users = (1...4).map { Row.user("u\($0)") }
        for (i, v) in Self.verbatim.enumerated() {
            users.append(Row.user("v\(i)", name: v).merging(["LocalUserIdentifier": v, "SISUserIdentifier": "sis-\(v)"]) { $1 })
        }
        try w.write(Corpus.usersPath, .users, users)
        try w.write("sections/" + Corpus.day2, .sections, [Row.section("s1", title: Self.verbatim[0]), Row.section("s2", title: Self.verbatim[1])])
        #expect(try w.flush().exitCode == .success)

        let rows = try w.query("SELECT SourceSystemIdentifier, Name, LocalUserIdentifier, SISUserIdentifier FROM \(w.t("LMSUser")) WHERE DeletedAt IS NULL")
        #expect(rows.count == 4 + Self.verbatim.count)
        for (i, v) in Self.verbatim.enumerated() {
            let r = try #require(rows.first { $0[0] == "v\(i)" }, "v\(i)")
            #expect(r[1] == v, "Name of v\(i)")
            #expect(r[2] == v, "LocalUserIdentifier of v\(i)")
            #expect(r[3] == "sis-" + v, "SISUserIdentifier of v\(i)")
        }
        #expect(try w.snapshot("LMSSection", "Title") == ["s1": Self.verbatim[0], "s2": Self.verbatim[1]])
        // Every table is still there.
        #expect(try w.count("LMSUserLMSSectionAssociation") == 8)
    }

    @Test(arguments: TestEngine.available)
    func fullLengthMultiByteValuesLoadUncut(_ engine: TestEngine) throws {
        // 255 characters of 4 bytes each: 1,020 bytes; the limit counts characters, on every engine.
        let w = try World(engine: engine)
        let emoji = String(repeating: "😀", count: 255)
        let accents = String(repeating: "é", count: 60)   // UserRole is 60 characters
        try w.write(Corpus.usersPath, .users, [Row.user("u1", name: emoji).merging(["UserRole": accents, "EmailAddress": emoji]) { $1 }])
        #expect(try w.flush().exitCode == .success)
        let r = try #require(try w.query("SELECT Name, UserRole, EmailAddress FROM \(w.t("LMSUser"))").first)
        #expect(r == [emoji, accents, emoji])
    }

    @Test(arguments: TestEngine.available)
    func emptyFieldsQuotedOrNotAreNull(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        let header = Corpus.header(.users)
        try w.writeRaw(Corpus.usersPath, header + "\n"
            + "u1,TestLMS,student,,\"\",One,u1@x.org,2026-08-01 08:00:00,2026-09-02 08:00:00,\"\",\n"
            + "u2,TestLMS,student,\" \",\"\"\"\",Two,u2@x.org,2026-08-01 08:00:00,2026-09-02 08:00:00,,\"\"\n")
        #expect(try w.flush().exitCode == .success)
        let rows = try w.query("SELECT SourceSystemIdentifier, LocalUserIdentifier, SISUserIdentifier, SourceCreateDate, SourceLastModifiedDate FROM \(w.t("LMSUser")) ORDER BY 1")
        #expect(rows == [["u1", nil, nil, nil, nil], ["u2", " ", "\"", nil, nil]])
    }

    @Test(arguments: TestEngine.available)
    func tenMegabyteDescriptionIsCutTo1024LikeUpstream(_ engine: TestEngine) throws {
        // AssignmentDescription is the one column upstream cuts (to 1,024 characters); every other
        // long value is rejected (see the corpus). A 10 MB description loads, cut, in bounded memory.
        let w = try World(engine: engine)
        try w.writeBase()
        let description = String(repeating: "<p>ß</p>", count: HostileFile.tenMB / 8)
        try w.writeRaw(Corpus.assignmentsPath, Corpus.header(.assignments) + "\n" + Corpus.assignment("a1", section: "s1", description: description) + "\n")
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(try w.value("SELECT AssignmentDescription FROM \(w.t("Assignment")) WHERE SourceSystemIdentifier = 'a1'") == String(description.prefix(1024)))
    }

    @Test(arguments: TestEngine.available)
    func quotesInPathsSourceSystemsAndTheRootAreKept(_ engine: TestEngine) throws {
        let w = try World(engine: engine, rootName: "extract 'O\"Brien'; drop table processedfiles; --")
        let section = "s'3\"; drop table lmssection; --"
        let system = "Test'LMS\"; --"
        let audit = ["SourceSystem": system]
        try w.write("users/" + Corpus.day2, .users, [Row.user("u1").merging(audit) { $1 }])
        try w.write("sections/" + Corpus.day2, .sections, [Row.section(section).merging(audit) { $1 }])
        let enrollments = "section=\(section)/section-associations/\(Corpus.day2)"
        try w.write(enrollments, .sectionAssociations, [Row.enrollment("e1", user: "u1", section: section).merging(audit) { $1 }])
        let run = try w.flush()
        #expect(run.exitCode == .success, "\(run.stage?.errors ?? [])")
        #expect(try w.value("SELECT SourceSystem FROM \(w.t("LMSUserLMSSectionAssociation")) WHERE SourceSystemIdentifier = 'e1'") == system)
        #expect(try w.snapshot("LMSSection", "SourceSystem") == [section: system])
        let paths = Set(try w.query("SELECT FullPath FROM \(w.t("ProcessedFiles"))").map { $0[0]! })
        #expect(paths.contains(w.root + "/" + enrollments))
        #expect(paths.count == 3)
    }

    @Test(arguments: TestEngine.available)
    func duplicateKeysLastRowWinsWithAWarningNamingTheLines(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        let log = LogCapture()
        w.logger = log.logger
        try w.writeRaw(Corpus.usersPath, Corpus.header(.users) + "\n" + Corpus.user("u1", name: "First") + "\n" + Corpus.user("u2") + "\n"
                       + Corpus.user("u1", name: "Second") + "\n" + Corpus.user("u1", name: "Third") + "\n")
        #expect(try w.flush().exitCode == .success)
        #expect(try w.snapshot("LMSUser", "Name") == ["u1": "Third", "u2": "User u2"])
        #expect(log.warnings.contains { $0.contains(Corpus.usersPath) && $0.contains("key (u1, TestLMS) appears on lines 2, 4, 5; the last one (line 5) is used") },
                "\(log.warnings)")
    }

    @Test(arguments: TestEngine.available)
    func headerOnlyUsersFileDeletesNothingAndWarns(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.flush()
        let before = try w.dump()
        let log = LogCapture()
        w.logger = log.logger
        try w.writeRaw(Corpus.usersPath, Corpus.header(.users) + "\n")
        try w.writeWitnesses()
        #expect(try w.flush().exitCode == .success)
        #expect(try w.count("LMSUser") == 4)
        #expect(try w.dumpWithoutWitnesses().filter { !$0.contains(Corpus.usersPath) } == before)
        #expect(log.warnings.contains { $0.contains(Corpus.usersPath) && $0.contains("has no rows: nothing is deleted") }, "\(log.warnings)")
        try w.expectWitnessesLoaded()
    }

    @Test(arguments: TestEngine.available)
    func headerOnlySectionFileEmptiesItsOwnSectionOnly(_ engine: TestEngine) throws {
        // A section folder names its scope: a header-only file there says "this section has no
        // enrollments any more" (fix of upstream D6), and touches no other section.
        let w = try World(engine: engine)
        try w.writeBase()
        try w.flush()
        try w.writeRaw(Corpus.enrollmentsPath, Corpus.header(.sectionAssociations) + "\n")
        #expect(try w.flush().exitCode == .success)
        let rows = try w.snapshot("LMSUserLMSSectionAssociation", "EnrollmentStatus")
        #expect(rows.filter { $0.key.hasPrefix("e-s1") }.values.allSatisfy { $0.hasSuffix(" deleted") })
        #expect(rows.filter { $0.key.hasPrefix("e-s2") }.values.allSatisfy { $0 == "active" })
        #expect(rows.count == 8)
    }

    @Test(arguments: TestEngine.available)
    func zeroByteAndTinyFilesAreIgnored(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        try w.writeBase()
        try w.flush()
        let before = try w.dump()
        try w.writeRaw(Corpus.usersPath, [UInt8]())
        try w.writeRaw("section=s1/attendance-events/" + Corpus.day2, [0xEF, 0xBB, 0xBF])   // a lone BOM
        try w.writeWitnesses()
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(run.stage?.ignored == 2)
        #expect(try w.buffer().latestVersion(of: Corpus.usersPath)?.state == .ignored)
        #expect(try w.buffer().latestVersion(of: "section=s1/attendance-events/" + Corpus.day2)?.state == .ignored)
        #expect(try w.dumpWithoutWitnesses() == before)
        try w.expectWitnessesLoaded()
    }

    /// A million rows in one file load, streamed: the file is generated in chunks, and the agent (the
    /// built binary, so that its own peak memory is measured) stays within a fixed memory budget.
    @Test func aMillionRowsInOneFileLoadInBoundedMemory() throws {
        let w = try World()
        let path = w.root + "/users/2026-09-01-06-00-00.csv"
        try FileManager.default.createDirectory(atPath: w.root + "/users", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.write(contentsOf: Data((Corpus.header(.users) + "\n").utf8))
        let rows = 1_000_000
        var chunk = ""
        for i in 1...rows {
            chunk += "u\(i),TestLMS,student,,,User \(i),u\(i)@example.org,2026-08-01 08:00:00,2026-09-01 08:00:00,,\n"
            if i % 20_000 == 0 { try handle.write(contentsOf: Data(chunk.utf8)); chunk = "" }
        }
        try handle.close()
        try w.writeWitnesses()
        try w.write("sections/2026-09-01-06-00-00.csv", .sections, [Row.section("s2")])

        let start = Date()
        let out = try AgentProcess.run(w.flushArguments, environment: .only(["HOME": w.dir, "PATH": "/usr/bin:/bin"]), timeout: 600)
        let seconds = Date().timeIntervalSince(start)
        #expect(out.code == 0, "\(out.stderr.suffix(2000))")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])["summary"] as? [String: Any]
        let peak = (summary?["peakResidentBytes"] as? Int) ?? -1
        #expect(try w.count("LMSUser") == rows)
        try w.expectWitnessesLoaded()
        // About 90 MB of CSV; the agent's memory is one chunk, one row and SQLite's caches.
        #expect(peak > 0 && peak < 200 << 20, "peak resident memory \(peak >> 20) MiB")
        print("a million rows: \(String(format: "%.1f", seconds)) s, peak resident memory \(peak >> 20) MiB, file \(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0) bytes")
    }
}

@Suite("Hostile trees: links, FIFOs, permissions")
struct HostileTreeTests {
    /// A folder beside the extract (outside it) holding a valid users file and a valid section folder.
    static func writeOutside(_ w: World) throws -> (dir: String, usersFile: String, sectionDir: String) {
        let outside = w.dir + "/outside"
        try FileManager.default.createDirectory(atPath: outside + "/section=s1/assignments", withIntermediateDirectories: true)
        let usersFile = outside + "/secret-users.csv"
        try Data((Corpus.header(.users) + "\n" + Corpus.user("outsider") + "\n").utf8).write(to: URL(fileURLWithPath: usersFile))
        try Data((Corpus.header(.assignments) + "\n" + Corpus.assignment("outside-a", section: "s1") + "\n").utf8)
            .write(to: URL(fileURLWithPath: outside + "/section=s1/assignments/" + Corpus.day2))
        return (outside, usersFile, outside + "/section=s1")
    }

    @Test func linksOutOfTheExtractAreNeverFollowed() throws {
        let w = try World()
        let log = LogCapture()
        w.logger = log.logger
        try w.writeBase()
        let out = try Self.writeOutside(w)
        try FileManager.default.createSymbolicLink(atPath: w.root + "/" + Corpus.usersPath, withDestinationPath: out.usersFile)
        try FileManager.default.createSymbolicLink(atPath: w.root + "/section=s9", withDestinationPath: out.sectionDir)
        try FileManager.default.createSymbolicLink(atPath: w.root + "/section=s2/assignments/2026-09-03-06-00-00.csv",
                                                   withDestinationPath: "../../../outside/section=s1/assignments/" + Corpus.day2)
        let probe = try AccessProbe([out.dir, out.dir + "/section=s1", out.dir + "/section=s1/assignments"])

        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(probe.events() == 0, "something outside the extract was opened or read")
        #expect(try w.snapshot("LMSUser")["outsider"] == nil)
        #expect(try w.snapshot("Assignment")["outside-a"] == nil)
        #expect(try w.count("LMSUser") == 4)
        #expect(try w.count("Assignment") == 2)
        let skipped = try #require(run.stage?.skipped)
        #expect(skipped.count == 3)
        for path in [Corpus.usersPath, "section=s9", "section=s2/assignments/2026-09-03-06-00-00.csv"] {
            #expect(skipped.contains { $0.hasPrefix(path + ": a symbolic link to ") && $0.contains("outside the extract: never followed") }, "\(skipped)")
            #expect(log.warnings.contains { $0.contains(path) && $0.contains("never followed") }, "\(log.warnings)")
            #expect(try w.buffer().latestVersion(of: path) == nil)
        }
    }

    @Test func linksInsideTheExtractAreNotFollowedEither() throws {
        // A link inside the tree names a file that is loaded under its own path already; followed,
        // `latest.csv` would become the newest snapshot of its folder forever.
        let w = try World()
        try w.writeBase()
        try FileManager.default.createSymbolicLink(atPath: w.root + "/users/latest.csv", withDestinationPath: "2026-09-01-06-00-00.csv")
        try FileManager.default.createSymbolicLink(atPath: w.root + "/section=s3", withDestinationPath: "section=s1")
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(Set(try w.query("SELECT FullPath FROM ProcessedFiles").map { $0[0]! }).allSatisfy { !$0.contains("latest") && !$0.contains("section=s3") })
        #expect(try w.count("LMSUserLMSSectionAssociation") == 8)
        let skipped = try #require(run.stage?.skipped)
        #expect(skipped.count == 2)
        #expect(skipped.allSatisfy { $0.contains("inside the extract: links are never followed") }, "\(skipped)")
    }

    @Test func linkLoopsAndDanglingLinksEndTheScan() throws {
        let w = try World()
        try w.writeBase()
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: w.root + "/users/self.csv", withDestinationPath: "self.csv")
        try fm.createSymbolicLink(atPath: w.root + "/users/ping.csv", withDestinationPath: "pong.csv")
        try fm.createSymbolicLink(atPath: w.root + "/users/pong.csv", withDestinationPath: "ping.csv")
        try fm.createSymbolicLink(atPath: w.root + "/users/gone.csv", withDestinationPath: "/nonexistent/gone.csv")
        try fm.createSymbolicLink(atPath: w.root + "/section=s1/up", withDestinationPath: "..")
        try fm.createSymbolicLink(atPath: w.root + "/section=s1/assignments/root", withDestinationPath: w.root)
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(try w.count("LMSUser") == 4)
        #expect(try w.count("Assignment") == 2)
        let skipped = try #require(run.stage?.skipped)
        #expect(skipped.count == 6, "\(skipped)")
        #expect(skipped.filter { $0.contains("does not resolve (dangling, or a loop)") }.count == 4, "\(skipped)")
    }

    @Test func fifoNamedCSVIsNeverOpenedByFlush() throws {
        // The binary with a deadline: an agent that opened the FIFO would block until killed.
        let w = try World()
        try w.writeBase()
        try w.writeWitnesses()
        #expect(mkfifo(w.root + "/" + Corpus.usersPath, 0o644) == 0)
        #expect(mkfifo(w.root + "/section=s1/assignments/" + Corpus.day2, 0o644) == 0)
        let out = try AgentProcess.run(w.flushArguments, environment: .only(["HOME": w.dir, "PATH": "/usr/bin:/bin"]), timeout: 60)
        #expect(!out.timedOut, "flush hung on a FIFO")
        #expect(out.code == 0, "\(out.stdout) \(out.stderr)")
        #expect(out.stderr.contains("\(Corpus.usersPath): a FIFO, not a regular file: never opened"), "\(out.stderr)")
        #expect(try w.count("LMSUser") == 4)
        #expect(try w.count("Assignment") == 2)
        try w.expectWitnessesLoaded()
    }

    @Test func fifoOrLinkAppearingWhileWatchingIsNeverOpened() throws {
        let w = try World()
        try w.writeBase()
        let out = try Self.writeOutside(w)
        let watch = try w.startWatch(settle: 0.3)
        #expect(eventually { try w.count("LMSUserLMSSectionAssociation") == 8 }, "\(watch.output)")
        // A FIFO and a link to a file outside appear in watched folders, then a valid file.
        #expect(mkfifo(w.root + "/" + Corpus.usersPath, 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: w.root + "/users/2026-09-03-06-00-00.csv", withDestinationPath: out.usersFile)
        usleep(1_500_000)
        try w.writeWitnesses()
        #expect(eventually(30) { try w.count("LMSSectionActivity") == 1 && w.count("LMSSystemActivity") == 1 }, "watch hung or stopped: \(watch.output)")
        #expect(try w.snapshot("LMSUser")["outsider"] == nil)
        #expect(try w.count("LMSUser") == 4)
        // A watcher stuck in open(2) on a FIFO would not even answer SIGTERM: give it 10 s.
        watch.signal(SIGTERM)
        #expect(eventually(10) { !watch.isRunning }, "the watcher does not stop: \(watch.output)")
        let end = watch.wait(timeout: 0)   // SIGKILL if it still runs
        #expect(end.code == 0, "\(watch.output)")
    }

    @Test func deepAndOddEntriesAreIgnored() throws {
        let w = try World()
        try w.writeBase()
        // A folder named like a CSV file, and a file below the layout's deepest folder.
        try FileManager.default.createDirectory(atPath: w.root + "/users/2026-09-05-06-00-00.csv", withIntermediateDirectories: true)
        try w.write("section=s1/assignment=a1/submissions/extra/" + Corpus.day2, .submissions, [Row.submission("x1", assignment: "a1", user: "u1")])
        let run = try w.flush()
        #expect(run.exitCode == .success)
        #expect(run.stage?.seen == 6)
        #expect(try w.count("AssignmentSubmission") == 0)
        let found = try Scanner.walk(root: w.root)
        #expect(found.files.allSatisfy { !$0.relativePath.contains("extra") && !$0.relativePath.hasSuffix("2026-09-05-06-00-00.csv") })
    }

    /// A file the agent's user cannot read: rejected with its path, and the rest of the extract
    /// loads. Root reads anything, so the binary runs as `nobody` when the test runs as root.
    @Test func unreadableFileIsRejectedWithItsPathAndTheRestLoads() throws {
        let w = try World()
        try w.writeBase()
        try w.writeWitnesses()
        let unreadable = "section=s1/assignments/" + Corpus.day2
        try w.writeRaw(unreadable, Corpus.header(.assignments) + "\n" + Corpus.assignment("a1", section: "s1", title: "Hidden") + "\n")
        let asRoot = geteuid() == 0
        var binary = AgentProcess.binary
        if asRoot {
            // nobody must reach the binary, and own the world (extract, buffer, LMS-DS).
            let copy = w.dir + "/lms-agent"
            try FileManager.default.copyItem(atPath: binary, toPath: copy)
            // Its schema scripts too: they are found beside the binary (the build folder may be one
            // that nobody cannot enter, as a fresh clone under mktemp -d is).
            let resources = (AgentProcess.binary as NSString).deletingLastPathComponent + "/lms-agent_LMSSQLScripts.resources"
            try FileManager.default.copyItem(atPath: resources, toPath: w.dir + "/lms-agent_LMSSQLScripts.resources")
            binary = copy
            let nobody = getpwnam("nobody")!.pointee
            for path in [w.dir] + (FileManager.default.enumerator(atPath: w.dir)?.allObjects as? [String] ?? []).map({ w.dir + "/" + $0 }) {
                #expect(chown(path, nobody.pw_uid, nobody.pw_gid) == 0, "chown \(path)")
            }
            chmod(w.dir, 0o755)
            var dir = (w.dir as NSString).deletingLastPathComponent
            while dir != "/" {
                var st = stat()
                stat(dir, &st)
                #expect(st.st_mode & 0o001 != 0, "nobody cannot enter \(dir)")
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
        #expect(chmod(w.root + "/" + unreadable, 0) == 0)
        var arguments = w.flushArguments
        var program = binary
        if asRoot {
            arguments = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", binary] + arguments
            program = "/usr/bin/setpriv"
        }
        let out = try AgentProcess.run(arguments, program: program, environment: .only(["HOME": w.dir, "PATH": "/usr/bin:/bin"]), timeout: 120)
        #expect(!out.timedOut)
        #expect(out.code == 2, "exit \(out.code): \(out.stdout) \(out.stderr)")
        let summary = (try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])?["summary"] as? [String: Any]
        let errors = ((summary?["stage"] as? [String: Any])?["errors"] as? [String]) ?? []
        #expect(errors.contains { $0.contains(unreadable) && $0.contains("Permission denied") }, "\(errors) \(out.stderr)")
        // The rest loaded; the unreadable file's section kept its assignment as it was.
        #expect(try w.count("LMSUser") == 4)
        #expect(try w.count("LMSUserLMSSectionAssociation") == 8)
        #expect(try w.snapshot("Assignment", "Title")["a1"] == "Assignment a1")
        try w.expectWitnessesLoaded()
    }
}

@Suite("Scanner: only regular files and real folders")
struct ScannerSafetyTests {
    @Test func fileStatSeesRegularFilesOnly() throws {
        let w = try World()
        try w.writeRaw("users/a.csv", "x\n")
        try FileManager.default.createSymbolicLink(atPath: w.root + "/users/link.csv", withDestinationPath: "a.csv")
        #expect(mkfifo(w.root + "/users/fifo.csv", 0o644) == 0)
        #expect(Scanner.fileStat(w.root + "/users/a.csv")?.size == 2)
        #expect(Scanner.fileStat(w.root + "/users/link.csv") == nil)
        #expect(Scanner.fileStat(w.root + "/users/fifo.csv") == nil)
        #expect(Scanner.fileStat(w.root + "/users") == nil)
    }

    @Test func aWalkReportsWhatItSkipsAndWhy() throws {
        let w = try World()
        try w.writeRaw("users/a.csv", "x\n")
        try w.writeRaw("users/.hidden.csv", "x\n")
        try FileManager.default.createSymbolicLink(atPath: w.root + "/users/link.csv", withDestinationPath: "a.csv")
        try FileManager.default.createSymbolicLink(atPath: w.root + "/elsewhere", withDestinationPath: "/etc")
        #expect(mkfifo(w.root + "/users/fifo.csv", 0o644) == 0)
        let found = try Scanner.walk(root: w.root)
        #expect(found.files.map(\.relativePath) == ["users/a.csv"])
        try #require(found.skipped.map(\.relativePath) == ["elsewhere", "users/fifo.csv", "users/link.csv"])
        #expect(found.skipped[0].reason == "a symbolic link to '/etc', outside the extract: never followed, nothing outside the extract directory is read")
        #expect(found.skipped[1].reason == "a FIFO, not a regular file: never opened")
        #expect(found.skipped[2].reason.hasPrefix("a symbolic link to 'a.csv', inside the extract"))
        // A folder named by an event that is a link is not walked either.
        let under = try Scanner.walk(root: w.root, under: "elsewhere")
        #expect(under.files.isEmpty)
        #expect(under.skipped.count == 1)
    }

    @Test func noFolderBelowTheLayoutsDeepestIsEntered() throws {
        let w = try World()
        try w.writeRaw("section=1/assignment=2/submissions/x.csv", "x\n")
        try w.writeRaw("section=1/assignment=2/submissions/deeper/x.csv", "x\n")
        try w.writeRaw("a/b/c/d/e/f/x.csv", "x\n")
        #expect(try Scanner.scan(root: w.root).map(\.relativePath) == ["section=1/assignment=2/submissions/x.csv"])
    }
}
