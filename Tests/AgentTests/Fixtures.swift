import Agent
import Buffer
import Extract
import Foundation
import Logging
import SQLiteDB
import Stores

/// A throwaway extract tree, buffer and LMS-DS for one test, written by the test itself.
final class World {
    let dir: String
    let root: String
    let engine: TestEngine
    var logger: Logger

    init(engine: TestEngine = .sqlite) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lms-agent-test-\(UUID().uuidString)").path
        root = dir + "/extract"
        self.engine = engine
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    var settings: Settings {
        var o = CommandLineOptions()
        o.csvPath = root
        o.buffer = dir + "/buffer.sqlite"
        o.dbname = dir + "/lms-ds.sqlite"
        o.engine = engine.rawValue
        return try! Settings.resolve(o, environment: ["HOME": dir], dotEnvPath: dir + "/.env")
    }

    func agent(csvPath: Bool = true) throws -> LMSAgent {
        var s = settings
        if !csvPath { s.csvPath = nil }
        return try LMSAgent(settings: s, logger: logger, requireExtract: csvPath)
    }

    @discardableResult
    func flush() throws -> RunSummary { try agent().run(scan: true) }

    @discardableResult
    func resume() throws -> RunSummary { try agent(csvPath: false).run(scan: false) }

    func buffer() throws -> Buffer { try agent(csvPath: false).buffer }

    // MARK: writing files

    /// Writes raw bytes at a path relative to the extract root.
    func writeRaw(_ relative: String, _ text: String) throws { try writeRaw(relative, Array(text.utf8)) }

    func writeRaw(_ relative: String, _ bytes: [UInt8]) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Writes a CSV of `resource` with every schema column; rows give the values by column name.
    func write(_ relative: String, _ resource: Resource, _ rows: [[String: String]], columns: [String]? = nil) throws {
        let names = columns ?? resource.schema.columns.map(\.name)
        var text = "\u{FEFF}" + names.joined(separator: ",") + "\n"
        for r in rows {
            text += names.map { csvField(r[$0] ?? "") }.joined(separator: ",") + "\n"
        }
        try writeRaw(relative, text)
    }

    func remove(_ relative: String) throws { try FileManager.default.removeItem(atPath: root + "/" + relative) }

    // MARK: reading the LMS-DS

    func store() throws -> SQLiteStore { try SQLiteStore(path: dir + "/lms-ds.sqlite") }

    /// `column` of every row of `table` by SourceSystemIdentifier, with "deleted" when DeletedAt is set.
    func snapshot(_ table: String, _ column: String = "LastModifiedDate") throws -> [String: String] {
        let rows = try store().query("SELECT SourceSystemIdentifier, \(column), DeletedAt FROM \(table)")
        var out: [String: String] = [:]
        for r in rows { out[r[0].text!] = (r[1].text ?? "NULL") + (r[2].text == nil ? "" : " deleted") }
        return out
    }

    func count(_ table: String, live: Bool = true) throws -> Int {
        Int(try store().query("SELECT count(*) FROM \(table)\(live ? " WHERE DeletedAt IS NULL" : "")").first?.first?.integer ?? -1)
    }

    func value(_ sql: String) throws -> String? { try store().query(sql).first?.first?.text }

    /// Every table's full contents, for "nothing changed" comparisons.
    func dump() throws -> [String] {
        let tables = Resource.allCases.map { $0.schema.table } + ["AssignmentSubmissionType", "ProcessedFiles"]
        return try tables.flatMap { t in try store().query("SELECT * FROM \(t) ORDER BY 1, 2").map { "\(t): \($0.map { $0.text ?? "NULL" })" } }
    }
}

enum TestEngine: String, CaseIterable, Sendable { case sqlite }

func csvField(_ s: String) -> String {
    s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// Rows with sensible defaults for every required column; `extra` overrides or adds values.
enum Row {
    static let ss = "TestLMS"
    static func audit(_ modified: String = "2026-09-01 08:00:00") -> [String: String] {
        ["SourceSystem": ss, "CreateDate": "2026-08-01 08:00:00", "LastModifiedDate": modified]
    }
    static func user(_ id: String, name: String? = nil, modified: String = "2026-09-01 08:00:00") -> [String: String] {
        audit(modified).merging(["SourceSystemIdentifier": id, "UserRole": "student", "Name": name ?? "User \(id)", "EmailAddress": "\(id)@example.org"]) { $1 }
    }
    static func section(_ id: String, title: String? = nil) -> [String: String] {
        audit().merging(["SourceSystemIdentifier": id, "Title": title ?? "Section \(id)", "Term": "Fall"]) { $1 }
    }
    static func enrollment(_ id: String, user: String, section: String, status: String = "active") -> [String: String] {
        audit().merging(["SourceSystemIdentifier": id, "EnrollmentStatus": status, "LMSUserSourceSystemIdentifier": user, "LMSSectionSourceSystemIdentifier": section]) { $1 }
    }
    static func assignment(_ id: String, section: String, title: String? = nil, types: String = "online_upload", points: String = "10") -> [String: String] {
        audit().merging(["SourceSystemIdentifier": id, "Title": title ?? "Assignment \(id)", "AssignmentCategory": "Assignment",
                         "SubmissionType": types, "MaxPoints": points, "LMSSectionSourceSystemIdentifier": section, "DueDateTime": "2026-09-10 23:59:00"]) { $1 }
    }
    static func submission(_ id: String, assignment: String, user: String, status: String = "submitted") -> [String: String] {
        audit().merging(["SourceSystemIdentifier": id, "SubmissionStatus": status, "SubmissionDateTime": "2026-09-05 10:00:00",
                         "AssignmentSourceSystemIdentifier": assignment, "LMSUserSourceSystemIdentifier": user, "EarnedPoints": "8"]) { $1 }
    }
    static func attendance(_ id: String, user: String, section: String, status: String = "present") -> [String: String] {
        audit().merging(["SourceSystemIdentifier": id, "EventDate": "2026-09-02", "AttendanceStatus": status,
                         "LMSUserSourceSystemIdentifier": user, "LMSSectionSourceSystemIdentifier": section]) { $1 }
    }
    static func sectionActivity(_ id: String, user: String, section: String, status: String = "active") -> [String: String] {
        audit().merging(["SourceSystemIdentifier": id, "ActivityType": "discussion", "ActivityDateTime": "2026-09-02 09:00:00",
                         "ActivityStatus": status, "LMSUserSourceSystemIdentifier": user, "LMSSectionSourceSystemIdentifier": section]) { $1 }
    }
    static func systemActivity(_ id: String, user: String, status: String = "active") -> [String: String] {
        audit().merging(["SourceSystemIdentifier": id, "ActivityType": "sign-in", "ActivityDateTime": "2026-09-02 07:00:00",
                         "ActivityStatus": status, "LMSUserSourceSystemIdentifier": user]) { $1 }
    }
}

extension World {
    /// Users u1..u4, sections s1 and s2, everyone enrolled in both, assignments a1 (s1) and a2 (s2).
    func writeBase(day: Int = 1, skip: Resource? = nil) throws {
        let ts = "2026-09-0\(day)-06-00-00.csv"
        if skip != .users { try write("users/\(ts)", .users, (1...4).map { Row.user("u\($0)") }) }
        if skip != .sections { try write("sections/\(ts)", .sections, [Row.section("s1"), Row.section("s2")]) }
        for s in ["s1", "s2"] where skip != .sectionAssociations {
            try write("section=\(s)/section-associations/\(ts)", .sectionAssociations,
                      (1...4).map { Row.enrollment("e-\(s)-u\($0)", user: "u\($0)", section: s) })
        }
        if skip != .assignments {
            try write("section=s1/assignments/\(ts)", .assignments, [Row.assignment("a1", section: "s1")])
            try write("section=s2/assignments/\(ts)", .assignments, [Row.assignment("a2", section: "s2")])
        }
    }
}
