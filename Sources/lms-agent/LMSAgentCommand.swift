import Agent
import ArgumentParser
import Foundation

/// The exit codes, as every subcommand's help shows them (the README's table says the same).
let exitCodesHelp = """
    Exit codes: 0 everything applied; 1 fatal or configuration error (nothing was done); 2 a file was \
    rejected (bad input or refused by the LMS-DS); 3 rows wait for parents not yet in the LMS-DS; 4 the \
    LMS-DS or the buffer's disk is unavailable (staged work is kept for resume); 5 a snapshot is held by \
    the mass-delete guard (`lms-agent release ID`); 6 stopped by SIGTERM or SIGINT after the file in \
    hand (resume goes on); 7 loaded, but harmonization failed (a procedure, named in the log and in \
    status; the next pass tries again); 64 bad usage. The highest-priority code wins: 6, 4, 5, 2, 3, 7.
    """

@main
struct LMSAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lms-agent",
        abstract: "Loads Ed-Fi LMS Toolkit extracts into an LMS data store, exactly once, through a local buffer.",
        discussion: exitCodesHelp,
        version: "lms-agent 0.4.0",
        subcommands: [Watch.self, Flush.self, Resume.self, Harmonize.self, Status.self, Inspect.self, Retry.self, Release.self, GenerateSample.self])

    /// Parses a copy of the arguments, after blanking the secrets among them in the process's own
    /// argument memory (what `ps` shows).
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        ArgumentSecrets.blank()
        var parsed: (any ParsableCommand)? = nil
        do {
            var command = try parseAsRoot(arguments)
            parsed = command
            if var service = command as? any AsyncParsableCommand {
                try await service.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if error is ExitCode { Foundation.exit(code.rawValue) }   // the command reported it already
            // An error from a subcommand's run comes with that subcommand's usage line.
            var message = fullMessage(for: error)
            if let parsed {
                let name = type(of: parsed)._commandName
                message = type(of: parsed).fullMessage(for: error)
                    .replacingOccurrences(of: "Usage: \(name) ", with: "Usage: lms-agent \(name) ")
                    .replacingOccurrences(of: "See '\(name) --help'", with: "See 'lms-agent \(name) --help'")
            }
            if code == .success {   // --help, --version
                print(message)
                Foundation.exit(0)
            }
            // One error style for usage errors too: `lms-agent: error: ...`, then the usage line.
            let text = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
            FileHandle.standardError.write(Data("lms-agent: error: \(text)\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }
}
