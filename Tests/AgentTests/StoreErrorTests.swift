@testable import Agent
import Buffer
import Extract
import Foundation
@testable import PostgresDB
@testable import SQLiteDB
@testable import Stores
import Testing

/// A store's errors carry a typed cause and the engine's own code, so that callers switch on the
/// cause (never on words) and an operator can look the code up; the words stay as they were.
@Suite("Store errors: typed cause and engine code")
struct StoreErrorTests {
    func storeError(_ e: any Error) throws -> StoreError { try #require(e as? StoreError, "\(e)") }

    @Test func eachEnginesClassifierGivesTheCauseTheCodeAndTheWordsOfBefore() throws {
        let unique = try storeError(SQLiteStore.classify(SQLiteError(code: 2067, message: "UNIQUE constraint failed", sql: nil)))
        #expect(unique.cause == .dataRefused)
        #expect(unique.engineCode == .sqlite(2067))
        #expect(unique.description == "LMS-DS refused the data: SQLite error 2067: UNIQUE constraint failed")

        let full = try storeError(SQLiteStore.classify(SQLiteError(code: 13, message: "database or disk is full", sql: nil),
                                                       during: .working(path: "/d/lms.sqlite")))
        #expect(full.cause == .unavailable)
        #expect(full.engineCode == .sqlite(13))
        #expect(full.message == "the LMS-DS file /d/lms.sqlite: SQLite error 13: database or disk is full")

        let sqliteScript = try storeError(SQLiteStore.classify(SQLiteError(code: 1, message: "near \"x\": syntax error", sql: nil), during: .migrating))
        #expect(sqliteScript.cause == .migration)
        #expect(sqliteScript.engineCode == .sqlite(1))

        let check = try storeError(PostgresStore.classify(PostgresError(sqlState: "23514", message: "check violated", connectionLost: false)))
        #expect(check.cause == .dataRefused)
        #expect(check.engineCode == .sqlState("23514"))
        #expect(check.description == "LMS-DS refused the data: [23514] check violated")

        let lost = try storeError(PostgresStore.classify(PostgresError(sqlState: nil, message: "server closed the connection", connectionLost: true)))
        #expect(lost.cause == .unavailable)
        #expect(lost.engineCode == nil)

        // A script the server refuses is a failed migration, named; a lost connection during it is not.
        let syntax = PostgresError(sqlState: "42601", message: "syntax error", connectionLost: false)
        let script = try storeError(PostgresStore.classify(syntax, during: .migrating(script: "0011_x.sql")))
        #expect(script.cause == .migration)
        #expect(script.message == "0011_x.sql: [42601] syntax error")
        let down = PostgresError(sqlState: "57P01", message: "terminating connection", connectionLost: false)
        #expect(try storeError(PostgresStore.classify(down, during: .migrating(script: "0011_x.sql"))).cause == .unavailable)

        // What a store finds itself carries no engine code; errors of others pass unchanged.
        #expect(StoreError.guarded(deleting: 60, live: 100).description == "it would soft-delete 60 of the 100 live rows of its scope (60 %)")
        #expect(SQLiteStore.classify(BufferError.noSuchFile(1)) is BufferError)
        #expect(PostgresStore.classify(BufferError.noSuchFile(1)) is BufferError)
    }

    /// A real refusal, by a real engine: a trigger (SQLite) or a CHECK constraint (PostgreSQL)
    /// refuses a user; the store's error says data refused with the engine's code for it.
    @Test(arguments: TestEngine.available)
    func aFileTheEngineRefusesComesWithTheEnginesCode(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        w.migrationsDir = try ReviewDefectTests.refusingMigration(w, name: "refuse-me")
        try w.write("users/2026-09-01-06-00-00.csv", .users, [Row.user("u1", name: "refuse-me")])
        #expect(try w.flush().exitCode == .rejectedFiles)

        let agent = try w.agent()
        defer { agent.close() }
        let store = try agent.openStore()
        let file = try #require(try agent.buffer.files(ofResource: .users).first)
        #expect(file.state == .rejected)
        let request = try agent.forwarder(store: store).request(for: file, mode: .snapshot)
        let error = try storeError(#require(throws: (any Error).self) {
            try store.apply(request) { body in try agent.buffer.rows(of: file, body) }
        })
        #expect(error.cause == .dataRefused)
        switch engine {
        case .sqlite: #expect(error.engineCode == .sqlite(1811))   // SQLITE_CONSTRAINT_TRIGGER
        case .postgresql: #expect(error.engineCode == .sqlState("23514"))   // check_violation
        }
        // The buffer kept the same words as its rejection reason (PostgreSQL's detail names the
        // row's serial id, which differs between the two attempts: compare the first line).
        let firstLine = String(error.message.prefix { $0 != "\n" })
        #expect(file.lastError?.hasPrefix(firstLine) == true, "\(file.lastError ?? "-") vs \(error.message)")
    }
}
