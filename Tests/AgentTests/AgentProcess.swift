import Agent
import Foundation
import Glibc

/// The one way the tests run a program as a child process: the built `lms-agent` binary, or with
/// `program` another tool (`script`, `setpriv`, a shell holding a file open). Either to its end
/// (`AgentProcess.run`) or in the background (`init`, then `signal`, `stop` or `wait`). Its output
/// goes to files, not pipes, so that a chatty child never blocks on a full pipe and a test can read
/// what a running watcher has said so far. Its standard input is empty unless `stdin` is given.
final class AgentProcess {
    /// How a run ended, and what it printed.
    struct Result {
        var code: Int32
        var stdout: String
        var stderr: String
        /// It was still running at the deadline and was killed.
        var timedOut: Bool
        /// From the start of the wait (for `stop`, from the SIGTERM) to the exit.
        var seconds: Double
        var output: String { stdout + stderr }
    }

    enum Environment {
        /// Exactly these variables, and the test's PATH unless they set one: the test server's PG*
        /// settings or a developer's DB_* never leak in.
        case only([String: String])
        /// The test process's own environment without DB_PASSWORD, with these set over it.
        case inherited([String: String])
    }

    enum Output {
        /// Standard output and error in files of their own.
        case separate
        /// Both in one file in the order written (as `2>&1`): `stdout` has it all, `stderr` is empty.
        case merged
    }

    /// The lms-agent binary beside the test bundle (or LMS_AGENT_BIN).
    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["LMS_AGENT_BIN"] { return b }
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidate = dir
        for _ in 0..<3 {
            let path = candidate.appendingPathComponent("lms-agent").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
            candidate = candidate.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("lms-agent").path
    }

    private let process = Process()
    private let outPath: String
    private let errPath: String?
    private let inPath: String?

    /// Starts `program arguments` (the lms-agent binary by default) in the background. With a
    /// `umask` or a `prefix` (for example `strace ... -o file`, looked up on PATH) it runs through
    /// `/bin/sh -c 'umask ...; exec "$@"'`, which keeps the pid: the shell becomes the program.
    init(_ arguments: [String], program: String = AgentProcess.binary, environment: Environment = .only([:]),
         directory: String? = nil, umask mask: mode_t? = nil, prefix: [String] = [], stdin: String? = nil,
         output: Output = .separate) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString.prefix(8))").path
        outPath = base + ".out"
        errPath = output == .separate ? base + ".err" : nil
        inPath = stdin == nil ? nil : base + ".in"
        for path in [outPath, errPath].compactMap({ $0 }) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        if let inPath, let stdin { _ = FileManager.default.createFile(atPath: inPath, contents: Data(stdin.utf8)) }

        if mask != nil || !prefix.isEmpty {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            let umaskCommand = mask.map { "umask \(String($0, radix: 8)); " } ?? ""
            process.arguments = ["-c", umaskCommand + "exec \"$@\"", "sh"] + prefix + [program] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
        }
        switch environment {
        case .only(let variables):
            var env = variables
            if env["PATH"] == nil { env["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin" }
            process.environment = env
        case .inherited(let overrides):
            var env = ProcessInfo.processInfo.environment
            env.removeValue(forKey: "DB_PASSWORD")
            process.environment = env.merging(overrides) { $1 }
        }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = FileHandle(forWritingAtPath: outPath)
        process.standardOutput = out
        process.standardError = errPath.map { FileHandle(forWritingAtPath: $0) } ?? out
        process.standardInput = inPath.map { FileHandle(forReadingAtPath: $0) } ?? FileHandle.nullDevice
        try process.run()
    }

    /// Runs `program arguments` to its end (SIGKILL after `timeout` seconds).
    static func run(_ arguments: [String], program: String = AgentProcess.binary, environment: Environment = .only([:]),
                    directory: String? = nil, umask mask: mode_t? = nil, prefix: [String] = [], stdin: String? = nil,
                    output: Output = .separate, timeout: Double = 300) throws -> Result {
        try AgentProcess(arguments, program: program, environment: environment, directory: directory, umask: mask,
                         prefix: prefix, stdin: stdin, output: output).wait(timeout: timeout)
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL); process.waitUntilExit() }
        for path in [outPath, errPath, inPath].compactMap({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }

    var pid: pid_t { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    /// What it has written so far.
    var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var stderr: String { errPath.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "" }
    var output: String { stdout + stderr }

    func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the exit; SIGKILL if it is still running after `timeout` seconds.
    func wait(timeout: Double = 300) -> Result {
        let start = Date()
        let end = start.addingTimeInterval(timeout)
        while process.isRunning && Date() < end { usleep(20_000) }
        let timedOut = process.isRunning
        if timedOut { kill(pid, SIGKILL) }
        process.waitUntilExit()
        return Result(code: process.terminationStatus, stdout: stdout, stderr: stderr, timedOut: timedOut,
                      seconds: Date().timeIntervalSince(start))
    }

    /// SIGTERM, then the exit (SIGKILL after `timeout` seconds).
    func stop(timeout: Double = 60) -> Result {
        signal(SIGTERM)
        return wait(timeout: timeout)
    }
}

/// A PostgreSQL server of a test's own, as an LMS-DS for lms-agent (user `postgres`).
struct AgentServer {
    var host = "127.0.0.1"
    var port: String
    var database: String
    var password: String
}

extension World {
    /// Starts `lms-agent arguments` over this world: its extract (unless `csvPath` is false), its
    /// buffer (or `buffer`), its LMS-DS (or `dbname`, another SQLite file, or `server`), its
    /// `migrationsDir` when set, DEBUG logs (or `logLevel`), and the test's environment with the
    /// LMS-DS password (only) set by the world.
    func startAgent(_ arguments: [String], csvPath: Bool = true, buffer: String? = nil, dbname: String? = nil,
                    server: AgentServer? = nil, logLevel: String = "DEBUG", output: AgentProcess.Output = .separate) throws -> AgentProcess {
        let s = settings
        var args = arguments + ["--buffer", buffer ?? s.bufferPath!, "--log-level", logLevel]
        if csvPath { args += ["--csvpath", root] }
        if let migrationsDir { args += ["--migrations-dir", migrationsDir] }
        var env: [String: String] = [:]
        if let server {
            args += ["--engine", "postgresql", "--server", server.host, "--port", server.port, "--dbname", server.database, "--username", "postgres"]
            env["DB_PASSWORD"] = server.password
        } else if let dbname {
            args += ["--engine", "sqlite", "--dbname", dbname]
        } else {
            switch s.engine {
            case .sqlite: args += ["--engine", "sqlite", "--dbname", s.sqliteDatabasePath]
            default:
                args += ["--engine", s.engine.rawValue, "--server", s.server!, "--port", String(s.port!), "--dbname", s.dbname!, "--username", s.username!]
                env["DB_PASSWORD"] = s.password
            }
        }
        return try AgentProcess(args, environment: .inherited(env), output: output)
    }

    /// Runs `lms-agent arguments` over this world (as `startAgent`) to its end.
    func runAgent(_ arguments: [String], csvPath: Bool = true, buffer: String? = nil, dbname: String? = nil,
                  server: AgentServer? = nil, logLevel: String = "DEBUG") throws -> AgentProcess.Result {
        try startAgent(arguments, csvPath: csvPath, buffer: buffer, dbname: dbname, server: server, logLevel: logLevel).wait()
    }

    /// `lms-agent watch` over this world, its log (both streams, in order) in `output`.
    func startWatch(settle: Double = 0.5, extra: [String] = [], server: AgentServer? = nil) throws -> AgentProcess {
        try startAgent(["watch", "--settle-seconds", String(settle)] + extra, server: server, output: .merged)
    }
}

/// A loopback TCP port nothing listens on (bound, then released; nothing else here takes it back).
func closedLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// A file's permission bits (nil when it does not exist).
func permissions(_ path: String) -> mode_t? {
    var st = stat()
    return stat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
}

/// A command's path on PATH, if installed.
func installed(_ tool: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
}
