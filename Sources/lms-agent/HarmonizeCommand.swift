import Agent
import ArgumentParser
import Foundation

struct Harmonize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Link the LMS-DS to the Ed-Fi ODS now (the harmonizer's procedures), without loading anything.",
        discussion: """
            flush, resume and watch harmonize by themselves after a round that changed data (and watch every \
            --harmonize-interval); this runs one pass whatever changed, for the source systems of the buffer's \
            extract, with the same connection options. The buffer (found as for resume) records the pass for \
            status. A target without the Ed-Fi ODS tables (and the embedded SQLite LMS-DS) is said in one line \
            and is not an error.

            """ + exitCodesHelp)

    @OptionGroup var options: HarmonizeCommandOptions
    @Flag(help: "Print the pass as JSON.") var json = false

    func validate() throws {
        if options.harmonize.noHarmonize { throw ValidationError("--no-harmonize says not to harmonize; harmonize does nothing else") }
    }

    func run() throws {
        try options.withAgent(for: .harmonize) { agent in
            let (ran, unavailable) = try agent.harmonizeNow()
            guard let pass = ran else {
                reportError("the LMS-DS is unavailable (\(unavailable ?? "")); nothing was harmonized: run `lms-agent harmonize` later")
                return .targetUnavailable
            }
            if json {
                struct Out: Encodable { var harmonization: HarmonizationPass; var exitCode: Int32 }
                try printJSON(Out(harmonization: pass, exitCode: pass.failed ? ExitStatus.harmonizationFailed.rawValue : 0))
            } else {
                print("target:  \(agent.boundTarget ?? "")")
                print("harmonize: \(pass.summary)")
            }
            return pass.failed ? .harmonizationFailed : .success
        }
    }
}
