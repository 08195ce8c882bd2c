import Agent
import ArgumentParser
import Foundation
import Logging
import Synchronization
import PostgresDB

/// Where the extract and the buffer are.
struct ExtractOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .long], help: "Root of the extract tree. Env: CSV_PATH.")
    var csvpath: String?

    @Option(help: "The buffer file. Env: LMS_AGENT_BUFFER. Default: one per extract in the state directory.")
    var buffer: String?
}

/// How to reach the LMS-DS: the upstream loader's options (same names, same environment variables), plus the agent's own.
struct ConnectionOptions: ParsableArguments {
    @Option(name: [.customShort("e"), .long], help: "sqlite, postgresql or mssql. Env: DB_ENGINE. Default: sqlite when no server is named.")
    var engine: String?

    @Option(name: [.customShort("s"), .long], help: "Database server host. Env: DB_SERVER.")
    var server: String?

    @Option(help: "Database server port. Env: DB_PORT.")
    var port: String?

    @Option(name: [.customShort("d"), .long], help: "Database name; for sqlite, the LMS-DS file. Env: DB_NAME.")
    var dbname: String?

    @Option(name: [.customShort("u"), .long], help: "Database user. Env: DB_USERNAME.")
    var username: String?

    @Option(name: [.customShort("p"), .long], help: "Database password. Prefer DB_PASSWORD or a .env file: arguments are visible to other users.")
    var password: String?

    @Flag(name: [.customShort("i"), .long], help: "Integrated security (SQL Server). Env: USE_INTEGRATED_SECURITY.")
    var useintegratedsecurity = false

    @Option(name: .customLong("connection-string"), help: "PostgreSQL URI or conninfo (postgresql://...). Env: DB_CONNECTION_STRING.")
    var connectionString: String?

    @Option(help: "PostgreSQL sslmode: disable, prefer, require, verify-ca, verify-full. Env: DB_SSLMODE.")
    var sslmode: String?

    @Option(name: .customLong("migrations-dir"), help: "A folder of your own numbered .sql scripts, run after the shipped ones. Env: LMS_AGENT_MIGRATIONS_DIR.")
    var migrationsDir: String?

    @Flag(name: .customLong("no-migrate"), help: "Do not run schema scripts (for an account without DDL rights). Env: LMS_AGENT_NO_MIGRATE.")
    var noMigrate = false
}

/// The mass-delete guard.
struct GuardOptions: ParsableArguments {
    @Option(name: .customLong("max-delete-share"), help: "Mass-delete guard: hold a snapshot that would soft-delete more than this percentage of its scope's live rows (default 50; 100 turns it off). Env: LMS_AGENT_MAX_DELETE_SHARE.")
    var maxDeleteShare: String?

    @Option(name: .customLong("min-guarded-scope"), help: "Mass-delete guard: only scopes with at least this many live rows are guarded (default 100). Env: LMS_AGENT_MIN_GUARDED_SCOPE.")
    var minGuardedScope: String?
}

/// How snapshots go to the LMS-DS: in batches, as deltas unless told otherwise.
struct ForwardingOptions: ParsableArguments {
    @Flag(name: .customLong("full"), help: "Merge every snapshot whole instead of only the rows that changed since the previous one. Env: LMS_AGENT_FULL.")
    var full = false

    @Option(name: .customLong("batch-files"), help: "Files one LMS-DS transaction may hold (default 1000; 1: one transaction per file). Env: LMS_AGENT_BATCH_FILES.")
    var batchFiles: String?

    @Option(name: .customLong("batch-rows"), help: "Rows one LMS-DS transaction may hold (default 100000). Env: LMS_AGENT_BATCH_ROWS.")
    var batchRows: String?

    @Flag(name: .customLong("sequential"), help: "flush: stage the whole extract first, then forward, instead of forwarding finished scopes while the next are staged. Env: LMS_AGENT_SEQUENTIAL.")
    var sequential = false
}

/// Harmonization: linking the LMS-DS to the Ed-Fi ODS after loading.
struct HarmonizeOptions: ParsableArguments {
    @Flag(name: .customLong("no-harmonize"), help: "Do not harmonize (link to the Ed-Fi ODS) after a round that changed data. Env: LMS_AGENT_NO_HARMONIZE.")
    var noHarmonize = false

    // Long form only: upstream's -e is the engine here, as in the upstream loader.
    @Option(name: .customLong("exceptions-report-directory"), help: "Each harmonization writes the exceptions report here (sections/, users/, descriptors/ CSV files). Env: EXCEPTIONS_REPORT_DIRECTORY.")
    var exceptionsReportDirectory: String?
}

struct LoggingOptions: ParsableArguments {
    @Option(name: [.customShort("l"), .customLong("log-level")], help: "DEBUG, INFO, WARNING, ERROR or CRITICAL. Env: LOG_LEVEL.")
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: "text (default) or json (one object per line). Env: LOG_FORMAT.")
    var logFormat: String?
}

/// The option groups every command is built from. A command shows in its help only the groups it
/// uses; the others are accepted all the same (hidden), so that one set of options, an alias or a
/// `.env`, works for every command.
protocol AgentOptions {
    var extract: ExtractOptions { get }
    var connection: ConnectionOptions { get }
    var deleteGuard: GuardOptions { get }
    var forwarding: ForwardingOptions { get }
    var harmonize: HarmonizeOptions { get }
    var logging: LoggingOptions { get }
}

/// flush, resume, watch: everything.
struct CommonOptions: ParsableArguments, AgentOptions {
    @OptionGroup(title: "Extract and buffer") var extract: ExtractOptions
    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Mass-delete guard") var deleteGuard: GuardOptions
    @OptionGroup(title: "Forwarding") var forwarding: ForwardingOptions
    @OptionGroup(title: "Harmonization") var harmonize: HarmonizeOptions
    @OptionGroup(title: "Logging") var logging: LoggingOptions
}

/// harmonize: the target, the buffer that records the pass, the report.
struct HarmonizeCommandOptions: ParsableArguments, AgentOptions {
    @OptionGroup(title: "Extract and buffer") var extract: ExtractOptions
    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(visibility: .hidden) var deleteGuard: GuardOptions
    @OptionGroup(visibility: .hidden) var forwarding: ForwardingOptions
    @OptionGroup(title: "Harmonization") var harmonize: HarmonizeOptions
    @OptionGroup(title: "Logging") var logging: LoggingOptions
}

/// status: where things are, and the LMS-DS's tables.
struct StatusOptions: ParsableArguments, AgentOptions {
    @OptionGroup(title: "Extract and buffer") var extract: ExtractOptions
    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(visibility: .hidden) var deleteGuard: GuardOptions
    @OptionGroup(visibility: .hidden) var forwarding: ForwardingOptions
    @OptionGroup(visibility: .hidden) var harmonize: HarmonizeOptions
    @OptionGroup(title: "Logging") var logging: LoggingOptions
}

/// inspect, retry, release: the buffer only.
struct BufferOptions: ParsableArguments, AgentOptions {
    @OptionGroup(title: "Extract and buffer") var extract: ExtractOptions
    @OptionGroup(visibility: .hidden) var connection: ConnectionOptions
    @OptionGroup(visibility: .hidden) var deleteGuard: GuardOptions
    @OptionGroup(visibility: .hidden) var forwarding: ForwardingOptions
    @OptionGroup(visibility: .hidden) var harmonize: HarmonizeOptions
    @OptionGroup(title: "Logging") var logging: LoggingOptions
}

extension AgentOptions {
    func settings() throws -> Settings {
        var o = CommandLineOptions()
        o.csvPath = extract.csvpath
        o.buffer = extract.buffer
        o.engine = connection.engine
        o.server = connection.server
        o.port = connection.port
        o.dbname = connection.dbname
        o.username = connection.username
        o.password = connection.password
        o.useIntegratedSecurity = connection.useintegratedsecurity
        o.migrationsDir = connection.migrationsDir
        o.connectionString = connection.connectionString
        o.sslmode = connection.sslmode
        o.noMigrate = connection.noMigrate
        o.maxDeleteShare = deleteGuard.maxDeleteShare
        o.minGuardedScope = deleteGuard.minGuardedScope
        o.fullMerge = forwarding.full
        o.batchFiles = forwarding.batchFiles
        o.batchRows = forwarding.batchRows
        o.sequential = forwarding.sequential
        o.noHarmonize = harmonize.noHarmonize
        o.exceptionsReportDirectory = harmonize.exceptionsReportDirectory
        o.logLevel = logging.logLevel
        return try Settings.resolve(o)
    }

    /// `--log-format` or LOG_FORMAT, lower case (`text` by default).
    var effectiveLogFormat: String { (logging.logFormat ?? ProcessInfo.processInfo.environment["LOG_FORMAT"] ?? "text").lowercased() }

    func logger(_ settings: Settings) throws -> Logger {
        guard let level = LogLineHandler.level(named: settings.logLevel) else {
            throw ValidationError("unknown log level '\(settings.logLevel)': use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        }
        guard let format = LogLineHandler.Format(rawValue: effectiveLogFormat) else { throw ValidationError("--log-format is text or json") }
        errorsAsJSON.withLock { $0 = format == .json }
        var logger = Logger(label: "lms-agent") { _ in LogLineHandler(format: format, level: level) }
        logger.logLevel = level
        if connection.password != nil {
            logger.warning("--password is visible to other users of this machine (to ps until the agent has blanked it, and in shell history); prefer DB_PASSWORD in the environment or a .env file")
        }
        if let connectionString = connection.connectionString, ConnectionString.hasPassword(connectionString) {
            logger.warning("--connection-string holds a password, visible to other users of this machine (to ps until the agent has blanked it, and in shell history); prefer DB_CONNECTION_STRING in the environment or a .env file, or keep the password out of it (DB_PASSWORD, ~/.pgpass)")
        }
        return logger
    }
}

extension AgentOptions {
    /// The one way a command gets its agent: settings from these options (then `adjust`), the
    /// logger, the buffer opened as `command` opens it (extract required or not, read-only or not,
    /// which lock: `LMSAgent.Command`), `body`, and the agent closed on the way out. Failures become
    /// a message on standard error and an exit code, as `runReportingErrors` does.
    func withAgent(for command: LMSAgent.Command, adjust: (inout Settings) -> Void = { _ in },
                   _ body: (LMSAgent) throws -> ExitStatus) throws {
        try runReportingErrors {
            var settings = try self.settings()
            adjust(&settings)
            let agent = try LMSAgent(settings: settings, logger: try logger(settings), for: command)
            defer { agent.close() }
            return try body(agent)
        }
    }

    /// `withAgent` for a command whose body awaits (`watch`).
    func withAgent(for command: LMSAgent.Command, _ body: (LMSAgent) async throws -> ExitStatus) async throws {
        try await runReportingErrors {
            let settings = try self.settings()
            let agent = try LMSAgent(settings: settings, logger: try logger(settings), for: command)
            defer { agent.close() }
            return try await body(agent)
        }
    }
}

/// Runs a command body, turning failures into a message on standard error and an exit code.
func runReportingErrors(_ body: () throws -> ExitStatus) throws {
    let status: ExitStatus
    do {
        status = try body()
    } catch {
        try rethrowReported(error)
    }
    if status != .success { throw ExitCode(status.rawValue) }
}

func runReportingErrors(_ body: () async throws -> ExitStatus) async throws {
    let status: ExitStatus
    do {
        status = try await body()
    } catch {
        try rethrowReported(error)
    }
    if status != .success { throw ExitCode(status.rawValue) }
}

/// A command's failure: usage errors go to ArgumentParser (exit 64), anything else is printed once (exit 1).
private func rethrowReported(_ error: any Error) throws -> Never {
    do {
        throw error
    } catch let e as ValidationError {
        throw e
    } catch AgentError.usage(let message) {
        throw ValidationError(message)
    } catch {
        reportError("\(error)")
        throw ExitCode(ExitStatus.fatal.rawValue)
    }
}

/// Whether errors are printed as JSON lines (`--log-format json`), set when the logger is made.
let errorsAsJSON = Mutex(false)

/// Prints an error once, in the one style: `lms-agent: error: ...`, or a JSON log line.
func reportError(_ message: String) {
    TerminalProgress.erase()
    if errorsAsJSON.withLock({ $0 }) {
        LogLineHandler(format: .json, level: .error).log(event: LogEvent(
            level: .error, message: "lms-agent: error: \(message)", metadata: nil,
            source: "lms-agent", file: #fileID, function: #function, line: #line))
    } else {
        FileHandle.standardError.write(Data("lms-agent: error: \(message)\n".utf8))
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
