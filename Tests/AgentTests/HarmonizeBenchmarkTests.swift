import Agent
import Foundation
import SampleExtract
import Stores
import Testing

/// How long a harmonization pass takes at the benchmark's size (scripts/bench.sh: 5,000 users, 250
/// sections, 10 assignments per section, about 280,000 rows), with the ODS fixture seeded to match.
/// Prints the figures; asserts only correctness (timing depends on the machine). Run by
/// scripts/harmonize-bench.sh, or with LMS_AGENT_HARMONIZE_BENCH=1.
@Suite("Harmonizer on PostgreSQL: benchmark",
       .enabled(if: TestPostgres.configured && ProcessInfo.processInfo.environment["LMS_AGENT_HARMONIZE_BENCH"] == "1",
                "set LMS_AGENT_HARMONIZE_BENCH=1 (and PostgreSQL) to run"))
struct HarmonizeBenchmarkTests {
    @Test func aPassAtTheBenchmarkSize() throws {
        let w = try World(engine: .postgresql)
        w.harmonizes = false  // these tests run the harmonizer themselves
        var options = SampleOptions()
        let env = ProcessInfo.processInfo.environment
        options.users = Int(env["LMS_AGENT_BENCH_USERS"] ?? "") ?? 5_000
        options.sections = Int(env["LMS_AGENT_BENCH_SECTIONS"] ?? "") ?? 250
        options.assignmentsPerSection = Int(env["LMS_AGENT_BENCH_PER_SECTION"] ?? "") ?? 10
        let ods = try ODS(w)
        try ods.install()
        for day in 1...2 {
            options.day = day
            let summary = try SampleGenerator.write(to: w.root, options: options)
            #expect(try w.flush().exitCode == .success)
            // The descriptors once; the SIS sync every night (day 2 brings new students).
            if day == 1 { try HarmonizeSeed.seed(ods) } else { try HarmonizeSeed.sync(ods) }
            let sizes = try ods.execute("""
                SELECT (SELECT count(*) FROM lms.lmsuser), (SELECT count(*) FROM lms.lmssection), (SELECT count(*) FROM lms.assignment),
                       (SELECT count(*) FROM lms.assignmentsubmission), (SELECT count(*) FROM edfi.student),
                       (SELECT count(*) FROM edfi.studentsectionassociation)
                """)[0].map { $0 ?? "?" }
            print("harmonize benchmark day \(day): extract \(summary.totalRows) rows; LMS-DS users \(sizes[0]), sections \(sizes[1]), "
                  + "assignments \(sizes[2]), submissions \(sizes[3]); ODS students \(sizes[4]), enrollments \(sizes[5])")
            for pass in 1...2 {
                let started = Date()
                let report = try w.harmonize(["Canvas", "Google", "Schoology"])
                let seconds = Date().timeIntervalSince(started)
                let slowest = report.steps.sorted { $0.seconds > $1.seconds }.prefix(3)
                    .map { "\($0.procedure)\($0.sourceSystem.map { "(\($0))" } ?? "") \(String(format: "%.3f", $0.seconds)) s" }
                print("harmonize benchmark day \(day) pass \(pass): \(String(format: "%.3f", seconds)) s for \(report.steps.count) procedures "
                      + "and the counts; lmsx assignments \(try ods.int("SELECT count(*) FROM lmsx.assignment")), submissions "
                      + "\(try ods.int("SELECT count(*) FROM lmsx.assignmentsubmission")); slowest: \(slowest.joined(separator: ", "))")
                #expect(report.exceptions?.unmatchedSubmissions == 0)
            }
        }
    }
}
