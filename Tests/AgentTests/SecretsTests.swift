import Foundation
import Glibc
import Testing

/// One way of giving the agent a connection, with the password (the marker) somewhere in it.
struct ConnectionCase: Sendable, CustomStringConvertible {
    var name: String
    /// Connection arguments (after `--csvpath` and `--buffer`).
    var arguments: [String]
    var environment: [String: String] = [:]
    /// A `.env` file in the working directory.
    var dotEnv: String? = nil
    /// The secret that must appear nowhere.
    var secret: String
    /// The exit code `flush` must end with.
    var code: Int32
    /// Text the error must still contain, so that redaction does not leave the operator blind.
    var says: String
    /// Whether the password is on the command line (the agent must warn).
    var onCommandLine = false
    var description: String { name }
}

/// Section 7 of issue 7: a marker password, given every way the agent takes one, on every path
/// that reports a connection (wrong password, unreachable server, malformed connection string, and
/// success), must never reach standard output, standard error (the log, text and JSON), `status`
/// (text and JSON), the buffer (file and WAL), any other file the agent writes, or `ps`.
/// The agent starts no child processes (checked below), so none can inherit it in its arguments.
@Suite("Secrets never reach output, logs, status, files or ps", .serialized)
struct SecretsTests {
    static let secret = Malformed.marker

    /// Cases that need no server: a closed loopback port, and connection strings libpq refuses.
    static var withoutServer: [ConnectionCase] {
        let port = String(closedLoopbackPort())
        let base = ["--engine", "postgresql", "--server", "127.0.0.1", "--port", port, "--username", "lms", "--dbname", "lms"]
        var cases = [
            ConnectionCase(name: "unreachable, DB_PASSWORD", arguments: base, environment: ["DB_PASSWORD": secret],
                           secret: secret, code: 4, says: "Connection refused"),
            ConnectionCase(name: "unreachable, --password", arguments: base + ["--password", secret],
                           secret: secret, code: 4, says: "Connection refused", onCommandLine: true),
            ConnectionCase(name: "unreachable, .env", arguments: base, dotEnv: "DB_PASSWORD='\(secret)'\n",
                           secret: secret, code: 4, says: "Connection refused"),
            ConnectionCase(name: "unreachable, --connection-string URI",
                           arguments: ["--connection-string", "postgresql://lms:\(secret)@127.0.0.1:\(port)/lms"],
                           secret: secret, code: 4, says: "Connection refused", onCommandLine: true),
            ConnectionCase(name: "unreachable, DB_CONNECTION_STRING conninfo", arguments: [],
                           environment: ["DB_CONNECTION_STRING": "host=127.0.0.1 port=\(port) user=lms password=\(secret) dbname=lms"],
                           secret: secret, code: 4, says: "Connection refused"),
        ]
        for (i, malformed) in Malformed.strings.enumerated() {
            // A stray word ("host=... S3cretMarker") is not known to be a password: no warning, but masked all the same.
            let knownPassword = !malformed.hasPrefix("host=127.0.0.1 \(secret)")
            cases.append(ConnectionCase(name: "malformed #\(i), --connection-string", arguments: ["--connection-string", malformed],
                                        secret: secret, code: 4, says: "cannot connect", onCommandLine: knownPassword))
            cases.append(ConnectionCase(name: "malformed #\(i), .env", arguments: [], dotEnv: "DB_CONNECTION_STRING=\"\(malformed)\"\n",
                                        secret: secret, code: 4, says: "cannot connect"))
        }
        return cases
    }

    /// Cases against the test server: a wrong password given each way, a mistyped scheme that libpq
    /// passes to the server as a database name, and successful loads with the real password.
    static func withServer(database: String) -> [ConnectionCase] {
        let host = TestPostgres.host, port = TestPostgres.port, real = TestPostgres.password
        let base = ["--engine", "postgresql", "--server", host, "--port", port, "--username", TestPostgres.user, "--dbname", database]
        let refused = "password authentication failed"
        return [
            ConnectionCase(name: "wrong password, DB_PASSWORD", arguments: base, environment: ["DB_PASSWORD": secret],
                           secret: secret, code: 4, says: refused),
            ConnectionCase(name: "wrong password, --password", arguments: base + ["--password", secret],
                           secret: secret, code: 4, says: refused, onCommandLine: true),
            ConnectionCase(name: "wrong password, .env", arguments: base, dotEnv: "export DB_PASSWORD=\(secret)\n",
                           secret: secret, code: 4, says: refused),
            ConnectionCase(name: "wrong password, --connection-string",
                           arguments: ["--connection-string", "postgresql://\(TestPostgres.user):\(secret)@\(host):\(port)/\(database)"],
                           secret: secret, code: 4, says: refused, onCommandLine: true),
            ConnectionCase(name: "wrong password, PGPASSWORD (libpq's own)", arguments: base,
                           environment: ["PGPASSWORD": secret], secret: secret, code: 4, says: refused),
            ConnectionCase(name: "mistyped scheme, taken for a database name by libpq",
                           arguments: ["--connection-string", "postgres:/\(TestPostgres.user):\(secret)@\(host)/\(database)"],
                           environment: ["PGHOST": host, "PGPORT": port, "PGUSER": TestPostgres.user, "PGPASSWORD": real],
                           secret: secret, code: 4, says: "does not exist", onCommandLine: true),
            ConnectionCase(name: "success, DB_PASSWORD", arguments: base, environment: ["DB_PASSWORD": real],
                           secret: real, code: 0, says: ""),
            ConnectionCase(name: "success, --connection-string",
                           arguments: ["--connection-string", "postgresql://\(TestPostgres.user):\(real)@\(host):\(port)/\(database)?sslmode=prefer"],
                           secret: real, code: 0, says: "", onCommandLine: true),
        ]
    }

    @Test func everyPathWithoutAServer() throws {
        for c in Self.withoutServer { try check(c, world: try World()) }
    }

    @Test(.enabled(if: TestPostgres.configured, "PostgreSQL is not configured"))
    func everyPathAgainstTheServer() throws {
        for i in 0..<Self.withServer(database: "x").count {
            // A fresh database and extract for each, so that success cases load everything.
            let w = try World(engine: .postgresql)
            try check(Self.withServer(database: w.database)[i], world: w)
        }
    }

    /// Runs flush (text and JSON logs), status (text and JSON) and resume for one case, and greps
    /// everything they print and every file under the test's folder but the `.env` for the secret.
    func check(_ c: ConnectionCase, world w: World) throws {
        try w.writeBase()
        if let dotEnv = c.dotEnv { try dotEnv.write(toFile: w.dir + "/.env", atomically: true, encoding: .utf8) }
        let buffer = w.dir + "/state/buffer.sqlite"
        var env = c.environment
        env["HOME"] = w.dir
        let common = ["--buffer", buffer] + c.arguments
        let runs: [(String, [String])] = [
            ("flush", ["flush", "--csvpath", w.root] + common),
            ("flush --log-format json", ["flush", "--csvpath", w.root, "--log-format", "json"] + common),
            ("resume", ["resume"] + common),
            ("status", ["status"] + common),
            ("status --json", ["status", "--json"] + common),
        ]
        for (label, arguments) in runs {
            let run = try AgentProcess.run(arguments, environment: .only(env), directory: w.dir)
            #expect(!run.output.contains(c.secret), "\(c.name), \(label): \(run.output)")
            if label.hasPrefix("flush") || label == "resume" {
                #expect(run.code == c.code, "\(c.name), \(label): exit \(run.code): \(run.output)")
            }
            if !c.says.isEmpty { #expect(run.output.contains(c.says), "\(c.name), \(label): \(run.output)") }
            if label == "status --json" {
                let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
                #expect((object?["targetError"] != nil) == (c.code != 0), "\(c.name): \(run.stdout)")
            }
            #expect(run.stderr.contains("visible to other users") == c.onCommandLine, "\(c.name), \(label): \(run.stderr)")
        }
        #expect(FileManager.default.fileExists(atPath: buffer))
        for file in try filesWritten(under: w.dir) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            #expect(bytes.range(of: Data(c.secret.utf8)) == nil, "\(c.name): the secret is in \(file)")
        }
    }

    func filesWritten(under dir: String) throws -> [String] {
        let all = FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []
        return all.map { dir + "/" + $0 }.filter { path in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue && !path.hasSuffix("/.env")
        }
    }

    /// A password with URI delimiters in it (libpq reads `u:pw?x@host` as user and password): the
    /// buffer records its target by host, port and database, and neither that record nor the
    /// "bound to another target" message may take a piece of the password for a host or a port.
    @Test(.enabled(if: TestPostgres.configured, "PostgreSQL is not configured"))
    func aPasswordWithURIDelimitersIsNotTakenForAHost() throws {
        let w = try World(engine: .postgresql)
        try w.writeBase()
        let role = "sec_" + w.database.suffix(8)
        let password = Self.secret + "?x/y"
        let admin = try TestPostgres.admin()
        try admin.execute("CREATE ROLE \(role) LOGIN PASSWORD '\(password)'")
        defer {
            _ = try? admin.execute("DROP DATABASE IF EXISTS \(w.database) WITH (FORCE)")
            _ = try? admin.execute("DROP ROLE IF EXISTS \(role)")
        }
        try w.execute("GRANT CREATE ON DATABASE \(w.database) TO \(role)")
        let encoded = password.replacingOccurrences(of: "/", with: "%2F")
        let uri = "postgresql://\(role):\(encoded)@\(TestPostgres.host):\(TestPostgres.port)/\(w.database)"
        let buffer = w.dir + "/buffer.sqlite"
        let env = ["HOME": w.dir]
        let flush = try AgentProcess.run(["flush", "--csvpath", w.root, "--buffer", buffer], environment: .only(env.merging(["DB_CONNECTION_STRING": uri]) { $1 }), directory: w.dir)
        #expect(flush.code == 0, "\(flush.output)")
        #expect(!flush.output.contains(Self.secret), "\(flush.output)")
        // The same buffer pointed at another database: refused, naming both targets, no secret.
        let other = uri.replacingOccurrences(of: "/\(w.database)", with: "/postgres")
        let refused = try AgentProcess.run(["flush", "--csvpath", w.root, "--buffer", buffer], environment: .only(env.merging(["DB_CONNECTION_STRING": other]) { $1 }), directory: w.dir)
        #expect(refused.code != 0)
        #expect(refused.output.contains("forwards to"), "\(refused.output)")
        #expect(!refused.output.contains(Self.secret), "\(refused.output)")
        for file in try filesWritten(under: w.dir) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            #expect(bytes.range(of: Data(Self.secret.utf8)) == nil, "the secret is in \(file)")
        }
    }

    /// A watcher told the password on its command line: `ps` shows it blanked, its log and buffer
    /// never hold it, and it has no child process that could inherit it.
    @Test func aWatcherBlanksItsArgumentsAndHasNoChildren() throws {
        let w = try World()
        try w.writeBase()
        let buffer = w.dir + "/buffer.sqlite"
        let port = String(closedLoopbackPort())
        let watch = try AgentProcess(["watch", "--csvpath", w.root, "--buffer", buffer, "--settle-seconds", "0.2", "--log-level", "DEBUG",
                                      "--engine", "postgresql", "--server", "127.0.0.1", "--port", port, "--password", Self.secret,
                                      "--connection-string", "postgresql://lms:\(Self.secret)@127.0.0.1:\(port)/lms"],
                                     environment: .only(["HOME": w.dir]), directory: w.dir)
        #expect(eventually { watch.stderr.contains("Connection refused") })
        let cmdline = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(watch.pid)/cmdline"))
        let shown = String(decoding: cmdline.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        #expect(!shown.contains(Self.secret), "\(shown)")
        #expect(shown.contains("--password ****") && shown.contains("postgresql://lms:****"), "\(shown)")
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(watch.pid)/task")
        let children = try tasks.map { try String(contentsOfFile: "/proc/\(watch.pid)/task/\($0)/children", encoding: .utf8) }.joined()
        #expect(children.trimmingCharacters(in: .whitespaces).isEmpty, "children: \(children)")
        let stopped = watch.stop()
        #expect(stopped.code == 0)
        #expect(!stopped.output.contains(Self.secret), "\(stopped.output)")
        for file in try filesWritten(under: w.dir) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            #expect(bytes.range(of: Data(Self.secret.utf8)) == nil, "the secret is in \(file)")
        }
    }
}
