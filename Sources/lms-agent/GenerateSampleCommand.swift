import Agent
import ArgumentParser
import Foundation
import SampleExtract

struct GenerateSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-sample",
        abstract: "Write a realistic, deterministic extractor tree (the project's own data, for trying and benchmarking).",
        discussion: exitCodesHelp)

    @Argument(help: "The folder to write into (created if needed).") var directory: String
    @Option(help: "Number of users.") var users = 50
    @Option(help: "Number of sections.") var sections = 6
    @Option(name: .customLong("assignments-per-section"), help: "Assignments per section.") var assignmentsPerSection = 4
    @Option(name: .customLong("source-system"), help: "SourceSystem value: Canvas, Schoology or Google.") var sourceSystem = "Canvas"
    @Option(help: "Seed of the generator: the same seed writes the same bytes.") var seed: UInt64 = 1
    @Option(help: "Write the snapshot of this day (1 = first). A later day has changed, removed and added rows.") var day = 1
    @Flag(help: "Write into a folder that already has files (a later --day over an earlier one, for instance).") var force = false

    func validate() throws {
        guard users > 0, sections > 0, assignmentsPerSection >= 0, day >= 1 else {
            throw ValidationError("--users and --sections must be positive, --day at least 1")
        }
        guard ["Canvas", "Schoology", "Google"].contains(sourceSystem) else {
            throw ValidationError("unknown --source-system '\(sourceSystem)': use Canvas, Schoology or Google")
        }
    }

    func run() throws {
        // A real extract in the wrong folder would be overwritten, and the next flush would
        // soft-delete everything the sample lacks.
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        if !force, !existing.filter({ !$0.hasPrefix(".") }).isEmpty {
            FileHandle.standardError.write(Data("lms-agent: error: \(directory) is not empty; generate-sample writes into an empty or new folder (add --force to write over it, for example a later --day)\n".utf8))
            throw ExitCode(ExitStatus.fatal.rawValue)
        }
        var o = SampleOptions()
        o.users = users
        o.sections = sections
        o.assignmentsPerSection = assignmentsPerSection
        o.sourceSystem = sourceSystem
        o.seed = seed
        o.day = day
        let start = ContinuousClock.now
        let summary = try SampleGenerator.write(to: directory, options: o)
        let parts = summary.rows.keys.sorted().compactMap { r in summary.rows[r].map { "\(r.rawValue) \($0)" } }
        print("wrote \(summary.files) files, \(summary.totalRows) rows (day \(day)) to \(directory) in \(String(format: "%.2f", (ContinuousClock.now - start).seconds)) s")
        print("  " + parts.joined(separator: ", "))
    }
}
