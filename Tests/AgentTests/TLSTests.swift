import Foundation
import Glibc
import PostgresDB
import Testing

/// A PostgreSQL server of the test's own, started with `scripts/start-postgres.sh --ssl`: a
/// certificate from a throwaway CA, and TCP without TLS refused (so a working connection is known to
/// be encrypted).
final class TLSPostgres {
    let env: [String: String]

    init() throws {
        let out = try OwnPostgres.shell("\(OwnPostgres.repo)/scripts/start-postgres.sh --ssl")
        var env: [String: String] = [:]
        for line in out.split(separator: "\n") where line.hasPrefix("export ") {
            let kv = line.dropFirst(7).split(separator: "=", maxSplits: 1)
            if kv.count == 2 { env[String(kv[0])] = String(kv[1]) }
        }
        guard env["LMS_AGENT_TEST_PG_SSLROOTCERT"] != nil else { throw AgentTestError("start-postgres.sh --ssl failed: \(out)") }
        self.env = env
    }

    deinit { _ = try? OwnPostgres.shell("\(OwnPostgres.repo)/scripts/stop-postgres.sh", env: env) }

    var port: String { env["LMS_AGENT_TEST_PG_PORT"]! }
    var password: String { env["LMS_AGENT_TEST_PG_PASSWORD"]! }
    var rootCertificate: String { env["LMS_AGENT_TEST_PG_SSLROOTCERT"]! }

    func connection(_ db: String = "postgres") throws -> PostgresConnection {
        try PostgresConnection(parameters: [("host", "127.0.0.1"), ("port", port), ("user", "postgres"), ("password", password),
                                            ("dbname", db), ("sslmode", "verify-full"), ("sslrootcert", rootCertificate)])
    }
}

struct AgentTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// TLS to PostgreSQL: `--sslmode` (DB_SSLMODE) and the CA in libpq's own PGSSLROOTCERT, or
/// `sslrootcert=` in the connection string. A server certificate that the given CA did not sign is
/// a connection failure: exit 4, everything kept staged, no secret in the message; with the right
/// CA, `resume` loads it all.
@Suite("TLS to PostgreSQL", .serialized,
       .enabled(if: TestPostgres.configured && installed("openssl"), "PostgreSQL or the openssl CLI is not available"))
struct TLSTests {
    @Test func sslmodesAgainstASelfSignedServer() throws {
        let server = try TLSPostgres()
        let admin = try server.connection()
        func database(_ name: String) throws -> String {
            try admin.execute("CREATE DATABASE \(name)")
            return name
        }
        func users(_ db: String) throws -> String? {
            try server.connection(db).execute("SELECT count(*) FROM lms.lmsuser").rows.first?.first ?? nil
        }
        let w = try World()
        try w.writeBase()
        // A CA of the test's own, which did not sign the server's certificate.
        let wrongCA = w.dir + "/wrong-ca.crt"
        let made = try OwnPostgres.shell("openssl req -x509 -new -nodes -days 1 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj '/CN=not the CA' -keyout '\(w.dir)/wrong-ca.key' -out '\(wrongCA)' && echo made")
        #expect(made.contains("made"), "\(made)")

        func flush(_ db: String, sslmode: String, rootCert: String?, command: String = "flush") throws -> AgentProcess.Result {
            var env = ["HOME": w.dir, "DB_PASSWORD": server.password]
            if let rootCert { env["PGSSLROOTCERT"] = rootCert }
            let buffer = w.dir + "/buffer-\(db).sqlite"
            return try AgentProcess.run([command, "--csvpath", w.root, "--buffer", buffer, "--engine", "postgresql", "--server", "127.0.0.1",
                                     "--port", server.port, "--username", "postgres", "--dbname", db, "--sslmode", sslmode],
                                    environment: .only(env), directory: w.dir)
        }

        // Without TLS the server refuses: what works below is encrypted.
        let plain = try flush(try database("plain"), sslmode: "disable", rootCert: nil)
        #expect(plain.code == 4, "\(plain.output)")
        #expect(plain.output.contains("no encryption"), "\(plain.output)")

        // require: encrypted, the certificate is not checked.
        let required = try flush(try database("required"), sslmode: "require", rootCert: nil)
        #expect(required.code == 0, "\(required.output)")
        #expect(try users("required") == "4")

        // verify-ca and verify-full with the CA in PGSSLROOTCERT.
        for mode in ["verify-ca", "verify-full"] {
            let db = try database(mode.replacingOccurrences(of: "-", with: "_"))
            let run = try flush(db, sslmode: mode, rootCert: server.rootCertificate)
            #expect(run.code == 0, "\(mode): \(run.output)")
            #expect(try users(db) == "4")
        }

        // verify-ca with the wrong CA: a clean connection failure (exit 4), staged work kept, no secret.
        let db = try database("wrong_ca")
        let wrong = try flush(db, sslmode: "verify-ca", rootCert: wrongCA)
        #expect(wrong.code == 4, "\(wrong.output)")
        #expect(wrong.output.contains("certificate verify failed"), "\(wrong.output)")
        #expect(!wrong.output.contains(server.password))
        // verify-ca with no CA at all (none in ~/.postgresql either).
        let none = try flush(db, sslmode: "verify-ca", rootCert: nil)
        #expect(none.code == 4, "\(none.output)")
        #expect(none.output.contains("root certificate file"), "\(none.output)")
        // The right CA: resume loads what was kept.
        let fixed = try flush(db, sslmode: "verify-ca", rootCert: server.rootCertificate, command: "resume")
        #expect(fixed.code == 0, "\(fixed.output)")
        #expect(try users(db) == "4")

        // The same through a connection string: sslmode and sslrootcert as URI parameters.
        let viaURI = try database("via_uri")
        let uri = try AgentProcess.run(["flush", "--csvpath", w.root, "--buffer", w.dir + "/buffer-uri.sqlite", "--connection-string",
                                    "postgresql://postgres@127.0.0.1:\(server.port)/\(viaURI)?sslmode=verify-full&sslrootcert=\(server.rootCertificate)"],
                                   environment: .only(["HOME": w.dir, "DB_PASSWORD": server.password]), directory: w.dir)
        #expect(uri.code == 0, "\(uri.output)")
        #expect(try users(viaURI) == "4")
    }
}
