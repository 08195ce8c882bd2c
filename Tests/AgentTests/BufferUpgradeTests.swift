import Buffer
import Extract
import Foundation
import SQLiteDB
import Testing

/// A buffer of format 3 (one copy of the staged rows per file, keyed by file and line) opened by
/// this agent: its rows become row versions, every snapshot reads back as it was staged, rows left
/// waiting still wait, and the next snapshot stages and forwards against them.
@Suite("Buffer format upgrade")
struct BufferUpgradeTests {
    typealias Model = RowVersionModelTests

    /// Rewrites a buffer into format 3 as that version wrote it: the rows of each file that has
    /// them in `rows_<resource>` (file_id, line, waiting, row_hash, every column), no scopes table.
    static func downgrade(_ path: String, files: [(LedgerFile, [ResourceRow], Set<Int>)]) throws {
        let db = try SQLiteDatabase(path: path)
        defer { db.close() }
        for schema in ResourceRegistry.standard.schemas {
            let t = "rows_" + schema.resource.rawValue.replacingOccurrences(of: "-", with: "_")
            let cols = schema.columns.map { "\"\($0.name)\" TEXT" }.joined(separator: ", ")
            try db.execute("DROP TABLE \(t)")
            try db.execute("""
                CREATE TABLE \(t) (file_id INTEGER NOT NULL, line INTEGER NOT NULL, waiting INTEGER NOT NULL DEFAULT 0, row_hash INTEGER, \(cols),
                PRIMARY KEY (file_id, line)) WITHOUT ROWID
                """)
            try db.execute("CREATE INDEX \(t)_key ON \(t) (file_id, SourceSystemIdentifier, SourceSystem, row_hash, waiting)")
        }
        let schema = Model.schema
        let names = schema.columns.map { "\"\($0.name)\"" }.joined(separator: ", ")
        let marks = Array(repeating: "?", count: schema.columns.count + 4).joined(separator: ", ")
        for (file, rows, waitingLines) in files {
            // Format 3 kept each file's own lines: the rows, in key order, from line 2.
            for (n, r) in rows.enumerated() {
                let line = Int64(n + 2)
                _ = try db.run("INSERT INTO rows_users (file_id, line, waiting, row_hash, \(names)) VALUES (\(marks))",
                               [.integer(file.id), .integer(line), .integer(waitingLines.contains(Int(line)) ? 1 : 0), .integer(line)]
                               + r.values.map { SQLValue($0) })
            }
        }
        try db.execute("DROP TABLE scopes")
        _ = try db.run("DELETE FROM meta WHERE key = 'last_file_id'")
        try db.execute("PRAGMA user_version = 3")
    }

    @Test("a format-3 buffer's snapshots read back whole, waiting rows still wait, and the next day stages against them")
    func formatThreeBufferUpgrades() throws {
        let dir = try RowVersionModelTests.scratchFolder("upgrade")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/buffer.sqlite"
        let day1 = Model.Content(seed: 0b11_10_01_11_10_01), day2 = Model.Content(seed: 0b01_01_10_11_00_11_01)
        var before: [(LedgerFile, [ResourceRow], Set<Int>)] = []
        do {
            let buffer = try Buffer(path: path, extractRoot: dir)
            defer { buffer.close() }
            _ = try Model.stage(buffer, "users/2026-10-01-06-00-00.csv", day1)
            let applied = try #require(buffer.files(inState: .staged).first)
            var waitingIds: [Int64] = []
            try buffer.rows(of: applied) { if $0.line == 3 { waitingIds.append($0.id) } }
            try buffer.markForwarded(applied, waitingRowIds: waitingIds)
            _ = try Model.stage(buffer, "users/2026-10-02-06-00-00.csv", day2)
            // A header-only snapshot staged after it: it has no rows in format 3, and must read back
            // empty, not as day 2.
            _ = try Model.stage(buffer, "users/2026-10-02-18-00-00.csv", Model.Content(seed: 0))
            let key = Model.schema.index(of: "SourceSystemIdentifier")!
            for f in try buffer.files() {
                var rows: [ResourceRow] = []
                try buffer.rows(of: f) { rows.append($0) }
                before.append((f, rows.sorted { $0.values[key]! < $1.values[key]! }, f.id == applied.id ? [3] : []))
            }
        }
        try Self.downgrade(path, files: before)

        let buffer = try Buffer(path: path, extractRoot: dir)
        defer { buffer.close() }
        let key = Model.schema.index(of: "SourceSystemIdentifier")!
        for (f, rows, waiting) in before {
            let file = try #require(try buffer.file(id: f.id))
            var after: [ResourceRow] = []
            try buffer.rows(of: file) { after.append($0) }
            #expect(after.sorted { $0.values[key]! < $1.values[key]! }.map(\.values) == rows.map(\.values), "file \(f.id) after the upgrade")
            #expect(Set(try buffer.stagedRows(of: file, waitingOnly: true).map(\.line)) == waiting, "file \(f.id)'s waiting rows")
        }
        let (base, pending) = (try #require(before.first?.0), try #require(before.first { $0.0.path.hasSuffix("10-02-06-00-00.csv") }?.0))
        #expect(try buffer.canBeDeltaBase(base, for: pending))
        // A third day: staged against the upgraded rows, read back whole.
        let day3 = Model.Content(seed: 0b10_01_10_11_01_00_01)
        guard case .staged(let id, _, _) = try Model.stage(buffer, "users/2026-10-03-06-00-00.csv", day3) else {
            Issue.record("day 3 was not staged")
            return
        }
        let third = try #require(try buffer.file(id: id))
        let rows = try Model.read(buffer, third) { f, body in try buffer.rows(of: f, body) }
        #expect(rows == day3.values)
        let delta = try Model.read(buffer, pending) { f, body in try buffer.changedRows(of: f, since: base, body) }
        let mustSend = day2.values.filter { day1.values[$0.key] != $0.value || $0.key == "k1" }
        #expect(Set(mustSend.keys).isSubset(of: Set(delta.keys)), "the delta of day 2 since day 1 after the upgrade: \(delta)")
    }

    @Test("a buffer of a newer format is refused, by name, and left as it is")
    func aNewerFormatIsRefused() throws {
        let dir = try RowVersionModelTests.scratchFolder("upgrade")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/buffer.sqlite"
        try Buffer(path: path, extractRoot: dir).close()
        do {
            let db = try SQLiteDatabase(path: path)
            try db.execute("PRAGMA user_version = 99")
            db.close()
        }
        #expect { try Buffer(path: path, extractRoot: dir) } throws: { "\($0)".contains("format 99, written by a newer lms-agent") }
        let db = try SQLiteDatabase(path: path)
        defer { db.close() }
        #expect(try db.scalar("PRAGMA user_version")?.integer == 99)
    }
}
