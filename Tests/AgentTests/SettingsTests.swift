import Agent
import Foundation
import Testing

@Suite("Settings: upstream names, command line over environment over .env")
struct SettingsTests {
    func dotEnv(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("env-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func precedenceAndUpstreamVariables() throws {
        let env = try dotEnv("""
            # upstream .env
            export CSV_PATH=/from/dotenv
            DB_SERVER="db.from.dotenv"
            DB_NAME=lms_dotenv
            DB_PASSWORD='secret from .env'
            LOG_LEVEL=DEBUG # trailing comment
            """)
        defer { try? FileManager.default.removeItem(atPath: env) }
        var cli = CommandLineOptions()
        cli.dbname = "from_cli"
        let s = try Settings.resolve(cli, environment: ["DB_SERVER": "db.from.env", "DB_ENGINE": "postgresql", "HOME": "/home/x"], dotEnvPath: env)
        #expect(s.csvPath == "/from/dotenv")
        #expect(s.server == "db.from.env")        // the environment wins over .env
        #expect(s.dbname == "from_cli")           // the command line wins over both
        #expect(s.password == "secret from .env")
        #expect(s.logLevel == "DEBUG")
        #expect(s.engine == .postgresql)
        #expect(!s.postgresTarget.description.contains("secret"))
        #expect(s.stateDirectory == "/home/x/.local/state/lms-agent")
    }

    @Test func engineDefaults() throws {
        let none = "/nonexistent/.env"
        #expect(try Settings.resolve(CommandLineOptions(), environment: [:], dotEnvPath: none).engine == .sqlite)
        var withServer = CommandLineOptions()
        withServer.server = "sql.example.org"
        #expect(try Settings.resolve(withServer, environment: [:], dotEnvPath: none).engine == .mssql)   // upstream's default
        var uri = CommandLineOptions()
        uri.connectionString = "postgresql://u@h/db"
        #expect(try Settings.resolve(uri, environment: [:], dotEnvPath: none).engine == .postgresql)
        var bad = CommandLineOptions()
        bad.port = "http"
        #expect(throws: AgentError.self) { try Settings.resolve(bad, environment: [:], dotEnvPath: none) }
        var zero = CommandLineOptions()
        zero.port = "0"   // upstream: 0 means the engine's default
        #expect(try Settings.resolve(zero, environment: [:], dotEnvPath: none).port == nil)
        #expect(try Settings.resolve(CommandLineOptions(), environment: ["STATE_DIRECTORY": "/var/lib/lms-agent/canvas"], dotEnvPath: none).stateDirectory == "/var/lib/lms-agent/canvas")
        #expect(try Settings.resolve(CommandLineOptions(), environment: ["USE_INTEGRATED_SECURITY": "Yes"], dotEnvPath: none).useIntegratedSecurity)
    }

    @Test func oneBufferPerExtractDirectory() throws {
        var a = CommandLineOptions()
        a.csvPath = "/srv/extracts/canvas"
        var b = CommandLineOptions()
        b.csvPath = "/srv/extracts/schoology"
        let pa = try Settings.resolve(a, environment: ["HOME": "/h"], dotEnvPath: "/none").resolvedBufferPath()
        let pb = try Settings.resolve(b, environment: ["HOME": "/h"], dotEnvPath: "/none").resolvedBufferPath()
        #expect(pa != pb)
        #expect(pa.hasPrefix("/h/.local/state/lms-agent/buffer-canvas-"))
        #expect(!pa.hasPrefix("/srv/extracts/canvas"))   // outside the watched tree
    }
}
