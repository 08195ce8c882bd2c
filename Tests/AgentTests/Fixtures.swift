import Agent
import Buffer
import Extract
import Foundation
import Glibc
import Logging
import PostgresDB
import SampleExtract
import SQLiteDB
@testable import Stores

/// A throwaway extract tree, buffer and LMS-DS for one test, written by the test itself.
final class World {
    let dir: String
    let root: String
    let engine: TestEngine
    var logger: Logger

    /// For PostgreSQL: a database of its own, dropped at the end.
    let database: String
    /// The user's own schema scripts (`--migrations-dir`), for tests that change the LMS-DS.
    var migrationsDir: String?
    /// False: the world's runs load without harmonizing (`--no-harmonize`), for the tests that call
    /// the harmonizer themselves and look at what one pass of theirs does.
    var harmonizes = true
    /// True: every snapshot is merged whole (`--full`), never as a delta.
    var fullMerge = false
    /// How many files and rows one LMS-DS transaction holds (nil: the standard limits).
    var batchLimits: BatchLimits?
    /// True: `flush` stages everything before it forwards (`--sequential`).
    var sequential = false

    /// `rootName` is the extract folder's name inside the world's directory.
    init(engine: TestEngine = .sqlite, rootName: String = "extract") throws {
        let id = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lms-agent-test-\(id)").path
        root = dir + "/" + rootName
        self.engine = engine
        database = "lms_test_" + id.prefix(16)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        if engine == .postgresql {
            try TestPostgres.admin().execute("CREATE DATABASE \(database)")
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: dir)
        if engine == .postgresql {
            probe = nil
            _ = try? TestPostgres.admin().execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
        }
    }

    var settings: Settings {
        var o = CommandLineOptions()
        o.csvPath = root
        o.buffer = dir + "/buffer.sqlite"
        o.engine = engine.rawValue
        o.migrationsDir = migrationsDir
        o.noHarmonize = !harmonizes
        o.fullMerge = fullMerge
        o.sequential = sequential
        if let batchLimits {
            o.batchFiles = String(batchLimits.files)
            o.batchRows = String(batchLimits.rows)
        }
        var env = ["HOME": dir]
        switch engine {
        case .sqlite:
            o.dbname = dir + "/lms-ds.sqlite"
        case .postgresql:
            o.server = TestPostgres.host
            o.port = TestPostgres.port
            o.username = TestPostgres.user
            o.dbname = database
            env["DB_PASSWORD"] = TestPostgres.password
        }
        return try! Settings.resolve(o, environment: env, dotEnvPath: dir + "/.env")
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

    /// Written through a descriptor opened with O_CLOEXEC: a child process that another test starts
    /// meanwhile (an `lms-agent watch`) must not inherit it, or /proc would show the file open for
    /// writing by that child and a flush would skip it as still being written.
    func writeRaw(_ relative: String, _ bytes: [UInt8]) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            guard n > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            done += n
        }
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

    private var probe: (any LMSDataStore)?

    /// The LMS-DS, opened once per world for reading.
    func store() throws -> any LMSDataStore {
        if let probe { return probe }
        let s: any LMSDataStore
        switch engine {
        case .sqlite: s = try SQLiteStore(path: dir + "/lms-ds.sqlite")
        case .postgresql: s = try PostgresStore(target: settings.postgresTarget)
        }
        probe = s
        return s
    }

    /// A table's name in this engine (`LMSUser`, or `lms.LMSUser` on PostgreSQL).
    func t(_ name: String) -> String { engine == .postgresql ? "lms.\(name)" : name }

    /// Rows of a query as text (NULL as nil).
    func query(_ sql: String) throws -> [[String?]] {
        switch try store() {
        case let s as SQLiteStore: return try s.query(sql).map { $0.map(\.text) }
        case let p as PostgresStore: return try p.query(sql)
        default: return []
        }
    }

    /// Runs a statement on the LMS-DS (as the test's administrator).
    func execute(_ sql: String) throws { _ = try query(sql) }

    /// `column` of every row of `table` by SourceSystemIdentifier, with "deleted" when DeletedAt is set.
    func snapshot(_ table: String, _ column: String = "LastModifiedDate") throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try query("SELECT SourceSystemIdentifier, \(column), DeletedAt FROM \(t(table))") {
            out[r[0]!] = (r[1] ?? "NULL") + (r[2] == nil ? "" : " deleted")
        }
        return out
    }

    func count(_ table: String, live: Bool = true) throws -> Int {
        Int(try query("SELECT count(*) FROM \(t(table))\(live ? " WHERE DeletedAt IS NULL" : "")").first?.first.flatMap { $0 } ?? "-1") ?? -1
    }

    func value(_ sql: String) throws -> String? { try query(sql).first?.first ?? nil }

    /// An operator's script (`--migrations-dir`, returned) that makes the LMS-DS refuse a row of
    /// `table` whose `column` is `value`: a trigger on SQLite, a CHECK constraint on PostgreSQL.
    func refusingScript(table: String, column: String, value: String) throws -> String {
        let folder = dir + "/migrations"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let sql: String
        switch engine {
        case .sqlite:
            sql = "CREATE TRIGGER refuse_\(table) BEFORE INSERT ON \(table) WHEN NEW.\(column) = '\(value)' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        case .postgresql:
            sql = "ALTER TABLE lms.\(table) ADD CONSTRAINT refuse_\(table) CHECK (\(column) <> '\(value)');"
        }
        try sql.write(toFile: folder + "/5000_refuse_\(table.lowercased()).sql", atomically: true, encoding: .utf8)
        return folder
    }

    /// A table's column names, in order.
    func columns(of table: String) throws -> [String] {
        switch engine {
        case .sqlite: return try query("SELECT name FROM pragma_table_info('\(table)') ORDER BY cid").compactMap { $0[0] }
        case .postgresql:
            return try query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'lms' AND table_name = lower('\(table)') ORDER BY ordinal_position").compactMap { $0[0] }
        }
    }

    /// Every table's contents with the load times left out (`DeletedAt` only says whether a row is
    /// deleted): what two loads of the same snapshots, at different times, must both end with.
    func dumpWithoutTimes() throws -> [String] {
        let tables = Resource.allCases.map { $0.schema.table } + ["AssignmentSubmissionType", "ProcessedFiles"]
        return try tables.flatMap { name -> [String] in
            let cols = try columns(of: name).compactMap { c -> String? in
                switch c.lowercased() {
                case "deletedat": return "CASE WHEN DeletedAt IS NULL THEN 'live' ELSE 'deleted' END"
                case "uploaddatetime": return nil
                case "createdate" where name == "AssignmentSubmissionType": return nil
                default: return c
                }
            }
            // Paths relative to the world's own extract root, so that two worlds compare.
            return try query("SELECT \(cols.joined(separator: ", ")) FROM \(t(name)) ORDER BY 1, 2").map { row in
                "\(name): \(row.map { ($0 ?? "NULL").replacingOccurrences(of: root, with: "<root>") })"
            }
        }
    }

    /// `dumpWithoutTimes` with every surrogate key (a row's identity, a foreign key) spelled as the
    /// natural key it stands for: what two loads must both end with when they inserted the same
    /// rows in another order (identities are handed out in insert order).
    func dumpByNaturalKeys() throws -> [String] {
        var out: [String] = []
        for schema in Resource.allCases.map(\.schema) {
            var links: [String: String] = [:]   // foreign key -> the referenced table's natural key
            for p in schema.parents { links[p.foreignKey.lowercased()] = "(SELECT SourceSystemIdentifier FROM \(t(p.parent.schema.table)) x WHERE x.\(p.parent.schema.identity) = r.\(p.foreignKey))" }
            for l in schema.throughLinks { links[l.foreignKey.lowercased()] = "(SELECT SourceSystemIdentifier FROM \(t(l.resource.schema.table)) x WHERE x.\(l.resource.schema.identity) = r.\(l.foreignKey))" }
            let cols = try columns(of: schema.table).compactMap { c -> String? in
                switch c.lowercased() {
                case schema.identity.lowercased(): return nil
                case "deletedat": return "CASE WHEN DeletedAt IS NULL THEN 'live' ELSE 'deleted' END"
                default: return links[c.lowercased()] ?? "r.\(c)"
                }
            }
            out += try query("SELECT \(cols.joined(separator: ", ")) FROM \(t(schema.table)) r").map { "\(schema.table): \($0.map { $0 ?? "NULL" })" }
            for child in schema.childTables {
                let owner = "(SELECT SourceSystemIdentifier FROM \(t(schema.table)) x WHERE x.\(schema.identity) = c.\(schema.identity))"
                out += try query("SELECT \(owner), c.\(child.valueColumn) FROM \(t(child.table)) c").map { "\(child.table): \($0.map { $0 ?? "NULL" })" }
            }
        }
        let recorded = try columns(of: "ProcessedFiles").filter { $0.lowercased() != "uploaddatetime" }
        out += try query("SELECT \(recorded.joined(separator: ", ")) FROM \(t("ProcessedFiles"))").map { row in
            "ProcessedFiles: \(row.map { ($0 ?? "NULL").replacingOccurrences(of: root, with: "<root>") })"
        }
        return out.sorted()
    }

    /// Every table's full contents, for "nothing changed" comparisons.
    func dump() throws -> [String] {
        let tables = Resource.allCases.map { $0.schema.table } + ["AssignmentSubmissionType", "ProcessedFiles"]
        return try tables.flatMap { name in try query("SELECT * FROM \(t(name)) ORDER BY 1, 2").map { "\(name): \($0.map { $0 ?? "NULL" })" } }
    }
}

enum TestEngine: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgresql

    /// The engines this run can test: PostgreSQL when scripts/start-postgres.sh's settings are set.
    static var available: [TestEngine] { TestPostgres.configured ? [.sqlite, .postgresql] : [.sqlite] }
    var description: String { rawValue }
}

/// The throwaway server of scripts/start-postgres.sh, from its LMS_AGENT_TEST_PG_* variables.
enum TestPostgres {
    static let env = ProcessInfo.processInfo.environment
    static var configured: Bool { env["LMS_AGENT_TEST_PG_PORT"] != nil }
    static var host: String { env["LMS_AGENT_TEST_PG_HOST"] ?? "127.0.0.1" }
    static var port: String { env["LMS_AGENT_TEST_PG_PORT"] ?? "5432" }
    static var user: String { env["LMS_AGENT_TEST_PG_USER"] ?? "postgres" }
    static var password: String { env["LMS_AGENT_TEST_PG_PASSWORD"] ?? "" }

    /// A connection to the maintenance database, for creating and dropping test databases.
    static func admin() throws -> PostgresConnection {
        try PostgresConnection(parameters: [("host", host), ("port", port), ("user", user), ("password", password), ("dbname", "postgres")])
    }
}

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

extension SampleOptions {
    /// A generated extract of this size, on `day`: what the multi-day tests load.
    static func sized(users: Int, sections: Int, assignmentsPerSection: Int, day: Int) -> SampleOptions {
        var o = SampleOptions()
        o.users = users
        o.sections = sections
        o.assignmentsPerSection = assignmentsPerSection
        o.day = day
        return o
    }
}
