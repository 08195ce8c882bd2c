import Extract
import Foundation
import Stores

/// The LMS-DS engines.
public enum Engine: String, Sendable, CaseIterable {
    /// `sqlite`: the embedded LMS-DS; `postgresql`; `mssql`: named, not in this build yet.
    case sqlite, postgresql, mssql
}

/// Options as given on the command line (nil: not given).
public struct CommandLineOptions: Sendable {
    /// `--csvpath`: the extract directory.
    public var csvPath: String?
    /// `--engine`: `sqlite`, `postgresql` (or `postgres`) or `mssql`.
    public var engine: String?
    /// `--server`: the database host.
    public var server: String?
    /// `--port`.
    public var port: String?
    /// `--dbname`: the database, or the embedded LMS-DS's file.
    public var dbname: String?
    /// `--username`.
    public var username: String?
    /// `--password` (better in the environment: argv is visible to `ps`).
    public var password: String?
    /// `--useintegratedsecurity`.
    public var useIntegratedSecurity = false
    /// `--log-level`.
    public var logLevel: String?
    /// `--buffer`: the buffer file.
    public var buffer: String?
    /// `--migrations-dir`: the operator's own schema scripts.
    public var migrationsDir: String?
    /// `--connection-string`: a `postgresql://` URI or conninfo string.
    public var connectionString: String?
    /// `--sslmode`.
    public var sslmode: String?
    /// `--no-migrate`: run no schema scripts.
    public var noMigrate = false
    /// Percent (0-100) of a scope's live rows one snapshot may soft-delete; 100 turns the guard off.
    public var maxDeleteShare: String?
    /// Live rows a scope needs before the guard applies to it.
    public var minGuardedScope: String?
    /// `--no-harmonize`: no harmonization pass after a round that changed data.
    public var noHarmonize = false
    /// `--full`: merge every snapshot whole, never as a delta.
    public var fullMerge = false
    /// `--batch-files`: files per LMS-DS transaction.
    public var batchFiles: String?
    /// `--batch-rows`: rows per LMS-DS transaction.
    public var batchRows: String?
    /// `--sequential`: `flush` stages everything before it forwards.
    public var sequential = false
    /// `--exceptions-report-directory`: where each pass writes the upstream exceptions report.
    public var exceptionsReportDirectory: String?
    /// Nothing given.
    public init() {}
}

/// Settings resolved the upstream way: command line, then environment, then a `.env` file in the
/// working directory (which never overrides the environment), then defaults.
public struct Settings: Sendable {
    /// The extract directory, absolute (`--csvpath`, `CSV_PATH`).
    public var csvPath: String?
    /// The LMS-DS engine (`--engine`, `DB_ENGINE`); without one, SQLite unless a server or connection
    /// string is named.
    public var engine: Engine
    /// The database host (`--server`, `DB_SERVER`).
    public var server: String?
    /// The database port (`--port`, `DB_PORT`; 0 or none: libpq's default).
    public var port: Int?
    /// The database (`--dbname`, `DB_NAME`), or for SQLite the LMS-DS file.
    public var dbname: String?
    /// The database role (`--username`, `DB_USERNAME`).
    public var username: String?
    /// Kept out of every description, log line and error.
    public var password: String?
    /// Upstream's integrated security (`--useintegratedsecurity`, `USE_INTEGRATED_SECURITY`).
    public var useIntegratedSecurity: Bool
    /// The log level's name (`--log-level`, `LOG_LEVEL`; `INFO` by default).
    public var logLevel: String
    /// The buffer file, absolute (`--buffer`, `LMS_AGENT_BUFFER`); nil: one per extract in the state
    /// directory.
    public var bufferPath: String?
    /// The operator's schema scripts (`--migrations-dir`, `LMS_AGENT_MIGRATIONS_DIR`).
    public var migrationsDir: String?
    /// Where buffers and the embedded LMS-DS live by default: systemd's `STATE_DIRECTORY`, else
    /// `$XDG_STATE_HOME/lms-agent`, else `~/.local/state/lms-agent`.
    public var stateDirectory: String
    /// A `postgresql://` URI or conninfo string (may hold a password: never logged).
    public var connectionString: String?
    /// libpq's `sslmode` (`--sslmode`, `DB_SSLMODE`).
    public var sslmode: String?
    /// Do not run schema scripts (for accounts that may not run DDL).
    public var noMigrate: Bool
    /// `flush` skips a file modified less than this many seconds ago (0: only files open for writing).
    public var flushSettleSeconds: Double = 0
    /// The mass-delete guard (nil: off, with `--max-delete-share 100`).
    public var deleteGuard: DeleteGuard? = .standard
    /// Harmonize after a round that changed data (off with `--no-harmonize`).
    public var harmonize = true
    /// Where each harmonization writes the upstream exceptions report (nil: no report).
    public var exceptionsReportDirectory: String?
    /// Merge every snapshot whole (`--full`, `LMS_AGENT_FULL`), never as a delta.
    public var fullMerge = false
    /// How much one LMS-DS transaction may hold (`--batch-files`, `--batch-rows`, and their variables).
    public var forwardBatch = BatchLimits.standard
    /// `flush` forwards the scopes it has staged while it stages the next ones (two threads, both
    /// cores); off with `--sequential` (`LMS_AGENT_SEQUENTIAL`): everything is staged first.
    public var overlapStaging = true

    /// Resolves every setting: the command line, then the environment, then `dotEnvPath` (which never
    /// overrides the environment), then the defaults. Throws `AgentError.usage` for a value that cannot be
    /// one (an unknown engine, a port out of range, a bad guard percentage).
    public static func resolve(_ cli: CommandLineOptions, environment: [String: String] = ProcessInfo.processInfo.environment,
                               dotEnvPath: String = ".env") throws -> Settings {
        var env = (try? DotEnv.parse(file: dotEnvPath)) ?? [:]
        for (k, v) in environment { env[k] = v }
        func pick(_ value: String?, _ key: String) -> String? {
            if let value, !value.isEmpty { return value }
            if let e = env[key], !e.isEmpty { return e }
            return nil
        }
        let server = pick(cli.server, "DB_SERVER")
        let engineText = pick(cli.engine, "DB_ENGINE")?.lowercased()
        let engine: Engine
        if let engineText {
            guard let e = Engine(rawValue: engineText == "postgres" ? "postgresql" : engineText) else {
                throw AgentError.usage("unknown engine '\(engineText)': use sqlite, postgresql or mssql")
            }
            engine = e
        } else {
            // Upstream defaults to mssql; without a server there is nothing to connect to, so the
            // zero-setup default is the embedded SQLite LMS-DS.
            engine = server == nil && pick(cli.connectionString, "DB_CONNECTION_STRING") == nil ? .sqlite
                : (pick(cli.connectionString, "DB_CONNECTION_STRING") != nil ? .postgresql : .mssql)
        }
        var port: Int? = nil
        if let p = pick(cli.port, "DB_PORT") {
            guard let n = Int(p), (0...65535).contains(n) else { throw AgentError.usage("--port must be a TCP port number, not '\(p)'") }
            port = n == 0 ? nil : n
        }
        let integrated = cli.useIntegratedSecurity || ["true", "yes", "t", "y", "1", "on"].contains(env["USE_INTEGRATED_SECURITY"]?.lowercased() ?? "")
        let state = Settings.defaultStateDirectory(env)
        var deleteGuard: DeleteGuard? = .standard
        if let text = pick(cli.maxDeleteShare, "LMS_AGENT_MAX_DELETE_SHARE") {
            let digits = text.hasSuffix("%") ? String(text.dropLast()).trimmingCharacters(in: .whitespaces) : text
            guard let percent = Double(digits), (0...100).contains(percent) else {
                throw AgentError.usage("--max-delete-share is a percentage from 0 to 100 (100 turns the guard off), not '\(text)'")
            }
            deleteGuard = percent >= 100 ? nil : DeleteGuard(maxShare: percent / 100, minimumScope: DeleteGuard.standard.minimumScope)
        }
        if let text = pick(cli.minGuardedScope, "LMS_AGENT_MIN_GUARDED_SCOPE") {
            guard let n = Int(text), n >= 0 else {
                throw AgentError.usage("--min-guarded-scope is a number of rows (0 or more), not '\(text)'")
            }
            deleteGuard?.minimumScope = n
        }
        var settings = Settings(
            csvPath: pick(cli.csvPath, "CSV_PATH").map(Settings.absolute),
            engine: engine, server: server, port: port,
            dbname: pick(cli.dbname, "DB_NAME"), username: pick(cli.username, "DB_USERNAME"),
            password: pick(cli.password, "DB_PASSWORD"), useIntegratedSecurity: integrated,
            logLevel: pick(cli.logLevel, "LOG_LEVEL") ?? "INFO",
            bufferPath: pick(cli.buffer, "LMS_AGENT_BUFFER").map(Settings.absolute),
            migrationsDir: pick(cli.migrationsDir, "LMS_AGENT_MIGRATIONS_DIR"),
            stateDirectory: state,
            connectionString: pick(cli.connectionString, "DB_CONNECTION_STRING"),
            sslmode: pick(cli.sslmode, "DB_SSLMODE"),
            noMigrate: cli.noMigrate || ["true", "yes", "1", "on"].contains(env["LMS_AGENT_NO_MIGRATE"]?.lowercased() ?? ""))
        settings.deleteGuard = deleteGuard
        settings.harmonize = !(cli.noHarmonize || ["true", "yes", "1", "on"].contains(env["LMS_AGENT_NO_HARMONIZE"]?.lowercased() ?? ""))
        settings.exceptionsReportDirectory = pick(cli.exceptionsReportDirectory, "EXCEPTIONS_REPORT_DIRECTORY").map(Settings.absolute)
        settings.fullMerge = cli.fullMerge || ["true", "yes", "1", "on"].contains(env["LMS_AGENT_FULL"]?.lowercased() ?? "")
        settings.overlapStaging = !(cli.sequential || ["true", "yes", "1", "on"].contains(env["LMS_AGENT_SEQUENTIAL"]?.lowercased() ?? ""))
        func count(_ value: String?, _ key: String, _ option: String) throws -> Int? {
            guard let text = pick(value, key) else { return nil }
            guard let n = Int(text), n >= 1 else { throw AgentError.usage("\(option) is a number (1 or more), not '\(text)'") }
            return n
        }
        if let n = try count(cli.batchFiles, "LMS_AGENT_BATCH_FILES", "--batch-files") { settings.forwardBatch.files = n }
        if let n = try count(cli.batchRows, "LMS_AGENT_BATCH_ROWS", "--batch-rows") { settings.forwardBatch.rows = n }
        return settings
    }

    /// systemd's `StateDirectory`, else `$XDG_STATE_HOME/lms-agent`, else `~/.local/state/lms-agent`.
    static func defaultStateDirectory(_ env: [String: String]) -> String {
        if let s = env["STATE_DIRECTORY"], !s.isEmpty { return String(s.split(separator: ":").first ?? Substring(s)) }
        if let x = env["XDG_STATE_HOME"], !x.isEmpty { return x + "/lms-agent" }
        let home = env["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/lms-agent"
    }

    /// `path` made absolute against the working directory, with `.` and `..` resolved.
    public static func absolute(_ path: String) -> String {
        var p = path
        if !p.hasPrefix("/") { p = FileManager.default.currentDirectoryPath + "/" + p }
        return (p as NSString).standardizingPath
    }

    /// The buffer for this extract: `--buffer`, else one file per extract directory in the state directory.
    public func resolvedBufferPath() throws -> String {
        if let bufferPath { return bufferPath }
        if let csvPath {
            let base = (csvPath as NSString).lastPathComponent.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
            let digest = SHA256.hex(of: Array(csvPath.utf8)).prefix(12)
            return stateDirectory + "/buffer-\(base.isEmpty ? "root" : base)-\(digest).sqlite"
        }
        // No extract named: use the only buffer there is.
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: stateDirectory)) ?? [])
            .filter { $0.hasPrefix("buffer-") && $0.hasSuffix(".sqlite") }.sorted()
        if names.count == 1 { return stateDirectory + "/" + names[0] }
        if names.isEmpty {
            throw AgentError.config("no buffer found in \(stateDirectory): name the extract with --csvpath (or CSV_PATH) or the buffer with --buffer")
        }
        throw AgentError.config("several buffers in \(stateDirectory) (\(names.joined(separator: ", "))): name one with --csvpath or --buffer")
    }

    /// The PostgreSQL connection: upstream options first; what is unset is left to libpq (`PG*`
    /// variables, `~/.pgpass`, service files). Without --port, libpq uses PGPORT or 5432.
    public var postgresTarget: PostgresTarget {
        PostgresTarget(host: server, port: port, database: dbname, user: username,
                       password: password, sslmode: sslmode, connectionString: connectionString)
    }

    /// The embedded LMS-DS file: `--dbname` (a path), else `lms-ds.sqlite` in the state directory.
    public var sqliteDatabasePath: String {
        if let dbname { return Settings.absolute(dbname.hasSuffix(".sqlite") || dbname.contains("/") ? dbname : dbname + ".sqlite") }
        return stateDirectory + "/lms-ds.sqlite"
    }
}

/// A `.env` file: `KEY=value` lines, `#` comments, optional `export`, single or double quotes.
public enum DotEnv {
    /// The variables of the `.env` file at `file`.
    public static func parse(file: String) throws -> [String: String] {
        parse(text: try String(contentsOfFile: file, encoding: .utf8))
    }

    /// The variables of `.env` text; lines that are not `KEY=value` are skipped.
    public static func parse(text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let f = value.first, f == "\"" || f == "'", value.last == f {
                value = String(value.dropFirst().dropLast())
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            if !key.isEmpty { out[key] = value }
        }
        return out
    }
}
