import Agent
import Foundation
import PostgresDB
import Stores
import Testing

/// The least privileges the README lists, each tried with a role that has exactly those and no more,
/// through a full load, a second day (updates and soft deletes) and a re-run.
@Suite("PostgreSQL: the least privileges the account needs", .serialized,
       .enabled(if: TestPostgres.configured, "PostgreSQL is not configured"))
struct PostgresPrivilegeTests {
    /// A login role of the test's own; `drop()` removes it and the test's database (which may hold
    /// objects it owns).
    final class Role {
        let name: String
        let database: String
        let password = "role-" + UUID().uuidString.prefix(8).lowercased()
        let admin: PostgresConnection
        init(_ w: World) throws {
            name = "r_" + w.database.suffix(10)
            database = w.database
            admin = try TestPostgres.admin()
            try admin.execute("CREATE ROLE \(name) LOGIN PASSWORD '\(password)'")
        }
        func drop() {
            _ = try? admin.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
            _ = try? admin.execute("DROP OWNED BY \(name) CASCADE")
            _ = try? admin.execute("DROP ROLE IF EXISTS \(name)")
        }
        func settings(_ w: World, noMigrate: Bool = false) -> Settings {
            var s = w.settings
            s.username = name
            s.password = password
            s.noMigrate = noMigrate
            return s
        }
    }

    /// Day 1, then day 2 (u4 dropped from the users snapshot: a soft delete, and a rename: an update).
    func loadTwoDays(_ w: World, as settings: Settings) throws -> [String] {
        var problems: [String] = []
        let day1 = try LMSAgent(settings: settings, logger: w.logger, requireExtract: true).run(scan: true)
        if day1.exitCode != .success { problems.append("day 1: \(day1.exitCode) \(day1.unavailable ?? "") \(day1.forward.errors)") }
        try w.write("users/2026-09-02-06-00-00.csv", .users, [Row.user("u1", name: "Renamed")] + (2...3).map { Row.user("u\($0)") })
        let day2 = try LMSAgent(settings: settings, logger: w.logger, requireExtract: true).run(scan: true)
        if day2.exitCode != .success { problems.append("day 2: \(day2.exitCode) \(day2.unavailable ?? "") \(day2.forward.errors)") }
        return problems
    }

    func expectLoaded(_ w: World) throws {
        #expect(try w.count("LMSUser") == 3)
        #expect(try w.count("LMSUser", live: false) == 4)
        #expect(try w.value("SELECT Name FROM lms.LMSUser WHERE SourceSystemIdentifier = 'u1'") == "Renamed")
        #expect(try w.count("LMSUserLMSSectionAssociation") == 8)
    }

    /// With migrations: CREATE on the database (and PUBLIC's default CONNECT and TEMPORARY) is all.
    @Test func migrationsNeedCreateOnTheDatabase() throws {
        let w = try World(engine: .postgresql)
        try w.writeBase()
        let role = try Role(w)
        defer { role.drop() }
        try w.execute("GRANT CREATE ON DATABASE \(w.database) TO \(role.name)")
        #expect(try loadTwoDays(w, as: role.settings(w)) == [])
        try expectLoaded(w)
        // A later run migrates again (nothing to do) with the same rights.
        #expect(try LMSAgent(settings: role.settings(w), logger: w.logger, requireExtract: true).run(scan: true).exitCode == .success)
    }

    /// Or no right on the database at all, when an administrator made the schema `lms` for the account.
    @Test func orOwnershipOfASchemaAnAdministratorMade() throws {
        let w = try World(engine: .postgresql)
        try w.writeBase()
        let role = try Role(w)
        defer { role.drop() }
        try w.execute("CREATE SCHEMA lms AUTHORIZATION \(role.name)")
        #expect(try loadTwoDays(w, as: role.settings(w)) == [])
        try expectLoaded(w)
    }

    /// Without migrations, on a database that grants nothing to PUBLIC: CONNECT and TEMPORARY on the
    /// database, USAGE on the schema, SELECT, INSERT and UPDATE on its tables. Nothing else (no
    /// DELETE: deletes are soft; no sequence rights: the keys are identity columns).
    @Test(arguments: [true, false])
    func withoutMigrationsOnAHardenedDatabase(grantTemporary: Bool) throws {
        let w = try World(engine: .postgresql)
        try w.writeBase()
        let role = try Role(w)
        defer { role.drop() }
        _ = try w.agent().openStore()   // the owner migrates once
        try w.execute("REVOKE ALL ON DATABASE \(w.database) FROM PUBLIC")
        try w.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        try w.execute("GRANT CONNECT ON DATABASE \(w.database) TO \(role.name)")
        try w.execute("GRANT USAGE ON SCHEMA lms TO \(role.name)")
        try w.execute("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA lms TO \(role.name)")
        if grantTemporary {
            try w.execute("GRANT TEMPORARY ON DATABASE \(w.database) TO \(role.name)")
            #expect(try loadTwoDays(w, as: role.settings(w, noMigrate: true)) == [])
            try expectLoaded(w)
        } else {
            // Without TEMPORARY the staging tables cannot be made: nothing is applied.
            let run = try LMSAgent(settings: role.settings(w, noMigrate: true), logger: w.logger, requireExtract: true).run(scan: true)
            #expect(run.exitCode != .success)
            #expect("\(run.forward.errors) \(run.unavailable ?? "")".contains("permission denied"))
            #expect(try w.count("LMSUser") == 0)
        }
    }
}
