import Agent
import Extract
import Foundation
import Stores
import Testing

/// The operator's own scripts (`--migrations-dir`): run after all of ours, once, journaled with a
/// checksum; one changed after it was applied stops the run, named.
@Suite struct UserMigrationTests {
    /// A script whose every run leaves a row: a second run would show as a second row (or fail on
    /// its CREATE TABLE). Its low number would sort it before our scripts; it needs LMSUser.
    static let counting = """
        CREATE TABLE user_script_runs (n INTEGER);
        INSERT INTO user_script_runs (n) SELECT count(*) FROM %@;
        """

    func writeScript(_ w: World, _ name: String, _ sql: String, folder: String? = nil) throws -> String {
        let dir = w.dir + "/migrations" + (folder.map { "/" + $0 } ?? "")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try sql.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        return dir + "/" + name
    }

    /// The message of the migration error that a flush of `w` stops with; records an issue naming
    /// `what` when the flush is not refused.
    func migrationRefusal(_ w: World, _ what: String) throws -> String {
        do { _ = try w.flush() } catch let e as StoreError where e.cause == .migration { return e.message }
        Issue.record("\(what) was not refused")
        return ""
    }

    func journalChecksum(_ w: World, _ script: String) throws -> String? {
        try w.query("SELECT Checksum FROM \(w.t("MigrationJournal")) WHERE Script = '\(script)'").first?.first ?? nil
    }

    @Test(arguments: TestEngine.available)
    func aScriptRunsOnceAfterOursAndIsJournaledWithItsChecksum(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        let sql = String(format: Self.counting, w.t("LMSUser"))
        _ = try writeScript(w, "0000_count_users.sql", sql)
        w.migrationsDir = w.dir + "/migrations"
        try w.writeBase()
        #expect(try w.flush().exitCode == .success)
        #expect(try w.value("SELECT count(*) FROM user_script_runs") == "1")
        #expect(try journalChecksum(w, "0000_count_users") == SHA256.hex(of: Array(sql.utf8)))
        // Not run again by later runs, with or without new data.
        #expect(try w.flush().exitCode == .success)
        try w.writeBase(day: 2)
        #expect(try w.flush().exitCode == .success)
        #expect(try w.value("SELECT count(*) FROM user_script_runs") == "1")
        // A journal row without a checksum (written before checksums were journaled) gets one.
        try w.execute("UPDATE \(w.t("MigrationJournal")) SET Checksum = NULL WHERE Script = '0000_count_users'")
        #expect(try w.resume().exitCode == .success)
        #expect(try journalChecksum(w, "0000_count_users") == SHA256.hex(of: Array(sql.utf8)))
        #expect(try w.value("SELECT count(*) FROM user_script_runs") == "1")
    }

    @Test(arguments: TestEngine.available)
    func aChangedScriptStopsTheRunNamingItAndRunsNothing(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        let path = try writeScript(w, "5000_count_users.sql", String(format: Self.counting, w.t("LMSUser")))
        w.migrationsDir = w.dir + "/migrations"
        try w.writeBase()
        #expect(try w.flush().exitCode == .success)
        // Changed in place, and a new script beside it: neither runs, and no data is forwarded.
        try (String(format: Self.counting, w.t("LMSUser")) + "\nINSERT INTO user_script_runs (n) VALUES (99);").write(toFile: path, atomically: true, encoding: .utf8)
        _ = try writeScript(w, "5001_later.sql", "CREATE TABLE later_script (n INTEGER);")
        try w.write("users/2026-09-02-06-00-00.csv", .users, (1...5).map { Row.user("u\($0)") })
        let message = try migrationRefusal(w, "a changed script")
        #expect(message.contains(path))
        #expect(message.contains("new script with a higher number"))
        #expect(try w.value("SELECT count(*) FROM user_script_runs") == "1")
        #expect(try w.count("LMSUser") == 4)
        #expect(try journalChecksum(w, "5001_later") == nil)
        // Through the binary: exit 1, the file named.
        let run = try w.runAgent(["flush"])
        #expect(run.code == 1)
        #expect(run.stderr.contains(path))
        // Put back as it was, the run goes on, and the new script runs once.
        try String(format: Self.counting, w.t("LMSUser")).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try w.flush().exitCode == .success)
        #expect(try w.count("LMSUser") == 5)
        #expect(try w.value("SELECT count(*) FROM user_script_runs") == "1")
        #expect(try journalChecksum(w, "5001_later") != nil)
    }

    /// One folder for both engines: `DIR/sqlite/` and `DIR/postgresql/`, each engine reading its own.
    @Test(arguments: TestEngine.available)
    func aFolderLaidOutPerEngineRunsTheTargetsScripts(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        _ = try writeScript(w, "5000_mine.sql", "CREATE TABLE mine_sqlite (n INTEGER);", folder: "sqlite")
        _ = try writeScript(w, "5000_mine.sql", "CREATE TABLE mine_postgresql (n INTEGER);", folder: "postgresql")
        w.migrationsDir = w.dir + "/migrations"
        try w.writeBase()
        #expect(try w.flush().exitCode == .success)
        #expect(try w.value("SELECT count(*) FROM mine_\(engine.rawValue)") == "0")
        #expect(throws: (any Error).self) { try w.value("SELECT count(*) FROM mine_\(engine == .sqlite ? "postgresql" : "sqlite")") }
        // A loose script beside the engine folders is for no engine in particular: refused, named.
        _ = try writeScript(w, "5001_loose.sql", "SELECT 1;")
        let message = try migrationRefusal(w, "a loose script beside engine folders")
        #expect(message.contains("5001_loose.sql"))
    }

    @Test func aScriptNamedLikeOneOfOursIsRefused() throws {
        let w = try World(engine: .sqlite)
        _ = try writeScript(w, "0002_create_user_tables.sql", "SELECT 1;")
        w.migrationsDir = w.dir + "/migrations"
        try w.writeBase()
        let message = try migrationRefusal(w, "a script with a shipped name")
        #expect(message.contains("0002_create_user_tables.sql"))
    }

    @Test func aMissingFolderIsNamed() throws {
        let w = try World(engine: .sqlite)
        w.migrationsDir = w.dir + "/no-such-folder"
        try w.writeBase()
        let message = try migrationRefusal(w, "a missing migrations folder")
        #expect(message.contains("no-such-folder"))
    }
}
