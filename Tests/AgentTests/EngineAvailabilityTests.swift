import Foundation
import PostgresDB
import Testing

/// Says, in the test output, whether the PostgreSQL half of the suite ran.
@Suite("Engines under test")
struct EngineAvailabilityTests {
    @Test("PostgreSQL scenarios run (start one with scripts/start-postgres.sh, as scripts/test.sh does)",
          .disabled(if: !TestPostgres.configured && ProcessInfo.processInfo.environment["LMS_AGENT_REQUIRE_PG"] == nil,
                    "PostgreSQL is not configured: the PostgreSQL cases of every scenario were SKIPPED"))
    func postgresqlIsConfigured() throws {
        // scripts/test.sh (and so CI) sets LMS_AGENT_REQUIRE_PG: there a missing server is a failure.
        #expect(TestPostgres.configured, "LMS_AGENT_REQUIRE_PG is set but no PostgreSQL was started")
        if TestPostgres.configured {
            let version = try TestPostgres.admin().execute("SHOW server_version").rows.first?.first ?? nil
            #expect(version != nil)
        }
    }
}
