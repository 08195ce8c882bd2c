import Agent
import ArgumentParser

@main
struct LMSAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lms-agent",
        abstract: "Loads Ed-Fi LMS Toolkit extracts into an LMS data store, exactly once, through a local buffer.",
        discussion: """
            Exit codes: 0 everything applied; 1 fatal error; 2 a file was rejected (bad input or refused by the \
            LMS-DS); 3 rows wait for parents not yet in the LMS-DS; 4 the LMS-DS (or the buffer's disk) is \
            unavailable (staged work is kept for resume); 5 a snapshot is held by the mass-delete guard \
            (`lms-agent release ID`); 6 stopped by SIGTERM or SIGINT after the file in hand (resume goes on); 64 bad usage.
            """,
        subcommands: [Watch.self, Flush.self, Resume.self, Status.self, Inspect.self, Retry.self, Release.self, GenerateSample.self])

    /// Parses a copy of the arguments, after blanking the secrets among them in the process's own
    /// argument memory (what `ps` shows).
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        ArgumentSecrets.blank()
        main(arguments)
    }
}
