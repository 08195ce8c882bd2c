import Agent
import ArgumentParser
import Foundation

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run as a service: reconcile, then watch the extract with inotify and forward each extractor run when it is done.",
        discussion: """
            A file is staged once it is closed and its size and mtime have not changed for --settle-seconds \
            (a file that is no longer open for writing is complete even without a final line break). A round \
            (stage, then forward in load order) starts when the tree has been quiet for the settle time, or \
            after --max-wait at the latest. SIGTERM or SIGINT finishes the file in hand and exits 0. With \
            NOTIFY_SOCKET set, it tells systemd when it is ready and pings the watchdog. The extract folder \
            must exist when it starts (exit 1 otherwise).

            """ + exitCodesHelp)

    @OptionGroup var options: CommonOptions
    @Option(name: .customLong("settle-seconds"), help: "How long a file must be unchanged (and the tree quiet) before it is staged.")
    var settleSeconds: Double = 5
    @Option(name: .customLong("max-wait"), help: "Seconds a busy tree may postpone a round at most.")
    var maxWait: Double = 300
    @Option(name: .customLong("rescan-interval"), help: "Seconds between full rescans (the safety net for lost events).")
    var rescanInterval: Double = 600
    @Option(name: .customLong("metrics-file"), help: "Write Prometheus metrics here (node_exporter textfile collector).")
    var metricsFile: String?
    @Option(name: .customLong("harmonize-interval"), help: "Harmonize this often even when no LMS file changed, for changes in the ODS: seconds, or with s, m, h or d (default 1h). Env: LMS_AGENT_HARMONIZE_INTERVAL.")
    var harmonizeInterval: String?

    /// The interval in seconds: the option, else the environment variable, else one hour.
    func harmonizeIntervalSeconds() throws -> Double {
        guard let text = harmonizeInterval ?? ProcessInfo.processInfo.environment["LMS_AGENT_HARMONIZE_INTERVAL"] else { return 3600 }
        guard let seconds = DurationText.seconds(text) else {
            throw ValidationError("--harmonize-interval: '\(text)' is not a duration (seconds, or a number with s, m, h or d: 90, 30m, 1h)")
        }
        return seconds
    }

    func validate() throws {
        guard settleSeconds >= 0, maxWait > 0, rescanInterval > 0 else {
            throw ValidationError("--settle-seconds must be 0 or more, --max-wait and --rescan-interval positive")
        }
        _ = try harmonizeIntervalSeconds()
    }

    func run() async throws {
        try await options.withAgent(for: .watch) { agent in
            try agent.prepareToForward()
            var o = WatchOptions()
            o.settleSeconds = settleSeconds
            o.maxWaitSeconds = maxWait
            o.rescanIntervalSeconds = rescanInterval
            o.metricsFile = metricsFile
            o.harmonizeIntervalSeconds = try harmonizeIntervalSeconds()
            try await WatchService.runUntilStopped(WatchService(agent: agent, options: o), logger: agent.logger)
            return .success
        }
    }
}
