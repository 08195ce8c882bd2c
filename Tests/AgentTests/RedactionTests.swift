import Agent
import Foundation
import PostgresDB
import Stores
import Testing

/// A password nobody else would write, and connection strings libpq refuses in ways that used to
/// quote it (defect 7: the password reached the log, the flush summary and `status`).
enum Malformed {
    static let marker = "S3cretMarker"

    /// libpq 15 quotes the first six; the last three fail without quoting but must stay clean too.
    static let strings: [String] = [
        "postgresql://u:\(marker)@[]/db",                       // IPv6 host address may not be empty in URI: "..."
        "postgresql://u:\(marker)@[::1/db",                     // end of string reached when looking for "]"
        "postgresql://u:\(marker)@[::1]x/db",                   // unexpected character "x" at position ... in URI
        "postgresql://u:\(marker)%ZZ@127.0.0.1/db",             // invalid percent-encoded token: "S3cretMarker%ZZ"
        "host=127.0.0.1 \(marker)",                             // missing "=" after "S3cretMarker"
        "host=127.0.0.1 \(marker)=x",                           // invalid connection option "S3cretMarker"
        "postgresql://u:\(marker)@host:notaport/db",            // invalid integer value "notaport"
        "host=127.0.0.1 port=1 password='\(marker)",            // unterminated quoted string
        "host=127.0.0.1 password=\(marker) sslmode=bogus",      // invalid sslmode value
    ]
}

@Suite("Secrets are taken out of connection messages")
struct RedactionTests {
    @Test(arguments: Malformed.strings)
    func aMalformedConnectionStringNeverQuotesItsPassword(_ connectionString: String) throws {
        // Straight from libpq, through the store, the agent's run summary and status.
        do {
            _ = try PostgresConnection(parameters: [("dbname", connectionString)], expandDBName: true)
            Issue.record("connected with \(connectionString)")
        } catch {
            #expect(!"\(error)".contains(Malformed.marker), "\(error)")
        }
        do {
            _ = try PostgresStore(target: PostgresTarget(connectionString: connectionString))
            Issue.record("connected with \(connectionString)")
        } catch {
            #expect(!"\(error)".contains(Malformed.marker), "\(error)")
            #expect("\(error)".contains("LMS-DS unavailable"))
        }

        let w = try World()
        try w.writeBase()
        var settings = w.settings
        settings.engine = .postgresql
        settings.dbname = nil
        settings.connectionString = connectionString
        let agent = try LMSAgent(settings: settings, logger: w.logger, requireExtract: true)
        let run = try agent.run(scan: true)
        #expect(run.exitCode == .targetUnavailable)
        let summary = String(decoding: try JSONEncoder().encode(run), as: UTF8.self)
        #expect(!summary.contains(Malformed.marker), "\(summary)")
        let status = try agent.status()
        #expect(status.targetError != nil)
        let statusText = String(decoding: try JSONEncoder().encode(status), as: UTF8.self)
        #expect(!statusText.contains(Malformed.marker), "\(statusText)")
    }

    @Test func knownSecretsAreReplacedWhereverTheyAppear() {
        let r = Redactor(parameters: [("dbname", "postgresql://u:pa%20ss-word@h/db"), ("password", "hunter22"), ("user", "u")])
        #expect(r.redact("x hunter22 y") == "x *** y")
        #expect(r.redact("token \"pa%20ss-word\" and \"pa ss-word\"") == "token \"***\" and \"***\"")
        // Short secrets are not replaced as text (it would garble messages), but still masked by shape.
        let short = Redactor(secrets: ["ab"])
        #expect(short.redact("table ab") == "table ab")
        #expect(short.redact("postgresql://u:ab@h/db") == "postgresql://u:***@h/db")
    }

    @Test(arguments: [
        ("URI \"postgresql://u:pw@h/db\"", "URI \"postgresql://u:***@h/db\""),
        ("postgres://user:p%40ss@host:5432/db?sslmode=require", "postgres://user:***@host:5432/db?sslmode=require"),
        ("host=h password=pw dbname=d", "host=h password=*** dbname=d"),
        ("host=h password = 'p w\\' x' dbname=d", "host=h password = *** dbname=d"),
        ("host=h password='unterminated", "host=h password=***"),
        ("postgresql://h/db?sslpassword=kp&password=pw", "postgresql://h/db?sslpassword=***&password=***"),
        ("PGPASSWORD=pw psql", "PGPASSWORD=*** psql"),
        ("password authentication failed for user \"u\"", "password authentication failed for user \"u\""),
        ("mail u@example.org", "mail u@example.org"),
    ])
    func secretsAreMaskedByShape(_ input: String, _ expected: String) {
        #expect(Redactor.redactShapes(input) == expected)
    }

    @Test(arguments: [
        ("postgresql://u:pw99@h/db", ["pw99"]),
        ("postgresql://u:p%2Fw9@h/db", ["p%2Fw9", "p/w9"]),
        ("postgresql://u:p/w@9@h/db", ["p/w@9"]),
        ("postgresql://h/db?password=pw99&sslmode=require", ["pw99"]),
        ("host=h password=pw99 user=u", ["pw99"]),
        ("host=h password='p w\\'99' user=u", ["p w'99"]),
        ("host=h password='unterminated", ["unterminated"]),
        ("postgres:/u:typo99@h/db", ["typo99"]),
        ("host=h user=a@b dbname=d", []),
        ("postgresql://u@h/db", []),
        ("lms_ds", []),
    ])
    func secretsAreFoundInValidAndMalformedStrings(_ connectionString: String, _ expected: [String]) {
        let found = Set(ConnectionString.secrets(in: connectionString))
        for e in expected { #expect(found.contains(e), "\(connectionString): \(found)") }
        #expect(ConnectionString.hasPassword(connectionString) == !expected.isEmpty)
    }
}
