import Foundation
import Glibc
import PostgresDB

/// The harmonizer's fixed facts on PostgreSQL: upstream's LMSs with their procedures and lmsx
/// namespaces, and the ODS objects the procedures (sql/postgresql/2001-2999) need.
enum PostgresHarmonizer {
    struct System: Sendable {
        let name: String
        let users: String
        let sections: String
        /// The `_namespace` of the lmsx rows of this LMS (hard-coded upstream).
        let namespace: String
    }

    /// Upstream's order within each group: Canvas, Google, Schoology.
    static let systems = [
        System(name: "Canvas", users: "lms.harmonize_lmsuser_canvas", sections: "lms.harmonize_lmssection_canvas",
               namespace: "uri://instructure.com/canvas"),
        System(name: "Google", users: "lms.harmonize_lmsuser_google_classroom", sections: "lms.harmonize_lmssection_google_classroom",
               namespace: "uri://google.com/classroom"),
        System(name: "Schoology", users: "lms.harmonize_lmsuser_schoology", sections: "lms.harmonize_lmssection_schoology",
               namespace: "uri://schoology.com"),
    ]
    static let assignments = "lms.harmonize_assignment"
    static let submissions = "lms.harmonize_assignment_submissions"

    /// The Ed-Fi ODS and LMSX tables the procedures read or write (spec/harmonizer.md section 8).
    static let odsTables = [
        "edfi.descriptor", "edfi.section", "edfi.student", "edfi.studenteducationorganizationassociationelectronicmail",
        "edfi.studentsectionassociation", "lmsx.assignment", "lmsx.assignmentcategorydescriptor", "lmsx.assignmentsubmission",
        "lmsx.lmssourcesystemdescriptor", "lmsx.submissionstatusdescriptor",
    ]

    /// What the harmonizer scripts create.
    static let procedures = systems.flatMap { [$0.users, $0.sections] } + [assignments, submissions]
    static let views = [
        "lmsx.exceptions_lmsuser", "lmsx.exceptions_lmssection", "lmsx.assignments_exceptions",
        "lmsx.assignment_submissions_exceptions", "lmsx.missing_assignment_category_descriptors",
        "lmsx.missing_assignment_submission_status_descriptors",
    ]

    /// The ODS tables this database lacks (empty: the harmonizer can be deployed).
    static func missingODSTables(_ c: PostgresConnection) throws -> [String] {
        try missing(odsTables, kind: "to_regclass", on: c)
    }

    /// Names of `names` that `lookup` (`to_regclass`, `to_regproc`) does not find.
    static func missing(_ names: [String], kind lookup: String, on c: PostgresConnection) throws -> [String] {
        let list = "{" + names.joined(separator: ",") + "}"
        return try c.execute("SELECT n FROM unnest(CAST($1 AS text[])) AS n WHERE \(lookup)(n) IS NULL ORDER BY n", [list])
            .rows.compactMap { $0.first ?? nil }
    }

    /// The descriptors report (upstream's third file): first the assignment categories, then the
    /// submission statuses that have no descriptor, one row per value and LMS. Upstream writes the
    /// namespace in lower case, which its own procedures do not match on PostgreSQL (defect H11); this
    /// writes the namespace the procedures look in.
    static let descriptorsQuery = """
        SELECT missingvalue, descriptor, namespace FROM (
            SELECT DISTINCT 1 AS part, AssignmentCategory AS missingvalue, 'assignmentcategorydescriptor' AS descriptor,
                'uri://ed-fi.org/edfilms/AssignmentCategoryDescriptor/' || SourceSystem AS namespace
            FROM lmsx.missing_assignment_category_descriptors
            UNION ALL
            SELECT DISTINCT 2, SubmissionStatus, 'submissionstatusdescriptor',
                'uri://ed-fi.org/edfilms/SubmissionStatusDescriptor/' || SourceSystem
            FROM lmsx.missing_assignment_submission_status_descriptors
        ) AS d ORDER BY part, namespace, missingvalue
        """

    /// The three report files: folder, columns (as PostgreSQL names them, lower case), query.
    static let reports: [(folder: String, columns: [String], query: String)] = [
        ("sections", ["lmssectionidentifier", "sourcesystemidentifier", "sourcesystem", "sissectionidentifier"],
         "SELECT lmssectionidentifier, sourcesystemidentifier, sourcesystem, sissectionidentifier FROM lmsx.exceptions_lmssection ORDER BY 1"),
        ("users", ["lmsuseridentifier", "sourcesystemidentifier", "sourcesystem", "sisuseridentifier", "localuseridentifier", "userrole"],
         "SELECT lmsuseridentifier, sourcesystemidentifier, sourcesystem, sisuseridentifier, localuseridentifier, userrole FROM lmsx.exceptions_lmsuser ORDER BY 1"),
        ("descriptors", ["missingvalue", "descriptor", "namespace"], descriptorsQuery),
    ]

    /// `%Y-%m-%d-%H-%M-%S.csv` in local time, as upstream names its report files.
    static func reportFileName(at date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d-%H-%M-%S", &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self) + ".csv"
    }

    /// One CSV field as pandas writes it: quoted only when it holds a comma, a quote or a line break;
    /// NULL and the empty string are both an empty field.
    static func csvField(_ value: String?) -> String {
        guard let value else { return "" }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// The harmonizer on the PostgreSQL LMS-DS: the procedures of sql/postgresql/2001-2999, which the
/// migrations deploy once the database has the ODS tables.
extension PostgresStore: Harmonizing {
    /// Ready when the database has the ODS tables the procedures read and the procedures and views are
    /// deployed; otherwise names what is missing.
    public func harmonizeSupport() throws -> HarmonizeSupport {
        try withSession { c, _ in
            let tables = try PostgresHarmonizer.missingODSTables(c)
            if !tables.isEmpty {
                return .unavailable(reason: "the database has no Ed-Fi ODS with the LMSX extension beside the LMS-DS: it lacks "
                                    + tables.joined(separator: ", "))
            }
            let objects = try PostgresHarmonizer.missing(PostgresHarmonizer.procedures.map { $0 }, kind: "to_regproc", on: c)
                + PostgresHarmonizer.missing(PostgresHarmonizer.views, kind: "to_regclass", on: c)
            if !objects.isEmpty {
                return .unavailable(reason: "the harmonizer's procedures and views are not deployed yet (no " + objects.joined(separator: ", ")
                                    + "); lms-agent deploys them with its migrations, at its next start now that the ODS tables exist")
            }
            return .ready
        }
    }

    /// Calls, in upstream's order, the users procedure of each named LMS, then each one's sections
    /// procedure, then the assignments and then the submissions procedure for each, every call in a
    /// transaction of its own under the agent's advisory lock; a source system with no procedures is
    /// a failed step. The exception counts are read after the calls.
    public func harmonize(sourceSystems: [String]) throws -> HarmonizeReport {
        var steps: [HarmonizeReport.Step] = []
        let known = PostgresHarmonizer.systems.map(\.name)
        for name in sourceSystems where !known.contains(name) {
            steps.append(.init(procedure: "lms.harmonize_*", sourceSystem: name, failure:
                "no harmonizer procedures for the source system '\(name)' (there are for \(known.joined(separator: ", ")))", seconds: 0))
        }
        let chosen = PostgresHarmonizer.systems.filter { sourceSystems.contains($0.name) }
        var calls: [(procedure: String, system: PostgresHarmonizer.System?)] = chosen.map { ($0.users, nil) }
        calls += chosen.map { ($0.sections, nil) }
        calls += chosen.map { (PostgresHarmonizer.assignments, $0) }
        calls += chosen.map { (PostgresHarmonizer.submissions, $0) }
        for call in calls {
            steps.append(try runStep(call.procedure, call.system))
        }
        return HarmonizeReport(steps: steps, exceptions: try? exceptionCounts())
    }

    /// One procedure in a transaction of its own, under the agent's lock (so that two agents never
    /// harmonize at once, nor while one merges). A refusal by the server is the step's failure; a lost
    /// connection ends the pass (`StoreError.unavailable`).
    private func runStep(_ procedure: String, _ system: PostgresHarmonizer.System?) throws -> HarmonizeReport.Step {
        try withSession { c, _ in
            let started = ContinuousClock.now
            let label = system.map { "\(procedure)('\($0.name)')" } ?? procedure
            do {
                try c.executeBatch("BEGIN; SELECT pg_advisory_xact_lock(\(PostgresStore.lockKey))")
                if let system {
                    try c.execute("CALL \(procedure)(_sourcesystem => CAST($1 AS varchar), _namespace => CAST($2 AS varchar))",
                                  [system.name, system.namespace])
                } else {
                    try c.execute("CALL \(procedure)()")
                }
                try c.execute("COMMIT")
                return .init(procedure: procedure, sourceSystem: system?.name, seconds: (ContinuousClock.now - started).seconds)
            } catch let e as PostgresError {
                if c.isOK { _ = try? c.execute("ROLLBACK") }
                // A lost connection ends the pass (withSession makes it `unavailable`).
                if e.connectionLost || !c.isOK { throw e }
                return .init(procedure: procedure, sourceSystem: system?.name, failure: "\(label): \(e.description)",
                             seconds: (ContinuousClock.now - started).seconds)
            }
        }
    }

    /// Counts the rows of the exception views (and the missing descriptors) in one query.
    public func exceptionCounts() throws -> ExceptionCounts {
        try withSession { c, _ in
            let r = try c.execute("""
                SELECT (SELECT count(*) FROM lmsx.exceptions_lmsuser), (SELECT count(*) FROM lmsx.exceptions_lmssection),
                       (SELECT count(*) FROM lmsx.assignments_exceptions), (SELECT count(*) FROM lmsx.assignment_submissions_exceptions),
                       (SELECT count(*) FROM (\(PostgresHarmonizer.descriptorsQuery)) AS d)
                """).rows.first ?? []
            let n = r.map { Int($0 ?? "") ?? 0 } + [0, 0, 0, 0, 0]
            return ExceptionCounts(unmatchedUsers: n[0], unmatchedSections: n[1], unmatchedAssignments: n[2],
                                   unmatchedSubmissions: n[3], missingDescriptors: n[4])
        }
    }

    /// Each file is read through a cursor and written as it comes (never a whole report in memory),
    /// under a temporary name renamed at the end, so that a reader never sees half a report.
    public func writeExceptionReports(to directory: String, at date: Date) throws -> [String] {
        let name = PostgresHarmonizer.reportFileName(at: date)
        return try withSession { c, _ in
            var written: [String] = []
            for report in PostgresHarmonizer.reports {
                let folder = directory + "/" + report.folder
                let path = folder + "/" + name
                let partial = path + ".partial"
                do {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o640]),
                          let out = FileHandle(forWritingAtPath: partial) else {
                        throw StoreError.unavailable("cannot write the exceptions report \(partial): \(String(cString: strerror(errno)))")
                    }
                    defer { try? out.close() }
                    try out.write(contentsOf: Data((report.columns.joined(separator: ",") + "\n").utf8))
                    try c.executeBatch("BEGIN; DECLARE lmsagent_report NO SCROLL CURSOR FOR \(report.query)")
                    do {
                        while true {
                            let rows = try c.execute("FETCH FORWARD 2000 FROM lmsagent_report").rows
                            if rows.isEmpty { break }
                            var text = ""
                            for row in rows { text += row.map(PostgresHarmonizer.csvField).joined(separator: ",") + "\n" }
                            try out.write(contentsOf: Data(text.utf8))
                        }
                        try c.execute("COMMIT")
                    } catch {
                        if c.isOK { _ = try? c.execute("ROLLBACK") }
                        throw error
                    }
                    try out.synchronize()
                    guard rename(partial, path) == 0 else {
                        throw StoreError.unavailable("cannot write the exceptions report \(path): \(String(cString: strerror(errno)))")
                    }
                    written.append(path)
                } catch where error is PostgresError || error is StoreError {
                    unlink(partial)
                    throw error
                } catch {
                    unlink(partial)
                    throw StoreError.unavailable("cannot write the exceptions report \(path): \(error)")
                }
            }
            return written
        }
    }
}
