import Buffer
import Extract
import Foundation
import PropertyBased
import SQLiteDB
import Testing

/// The buffer's row versions (`RowVersions`) against a model that keeps every snapshot whole: after
/// any sequence of snapshots staged, rewritten (to new content, to the same, back to an earlier
/// one), with repeated keys, forwarded (some rows left waiting) or superseded, every snapshot the
/// buffer still needs reads back exactly as it was staged, and a delta and the dropped keys against
/// the newest applied snapshot are what comparing the two whole snapshots gives.
@Suite("Row versions against a model")
struct RowVersionModelTests {
    /// A snapshot's content from a seed: keys k0...k7, each absent or one of three values; bit 20
    /// adds an earlier row of the first key with another value (the later row wins).
    struct Content {
        let seed: Int

        var values: [String: String] {
            var v: [String: String] = [:]
            for k in 0..<8 where (seed >> (2 * k)) & 3 != 0 { v["k\(k)"] = "v\((seed >> (2 * k)) & 3)" }
            return v
        }

        /// The rows as the file has them, in line order.
        var lines: [(key: String, value: String)] {
            var rows = values.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
            if seed & (1 << 20) != 0, let first = rows.first { rows.insert((first.key, "earlier"), at: 0) }
            return rows
        }
    }

    enum Op: CustomStringConvertible {
        /// A new day's snapshot (a new path).
        case newDay(Content)
        /// The newest path written again.
        case rewrite(Content)
        /// The oldest pending snapshot forwarded; keys whose bit is set in the mask wait for a parent.
        case forward(waitingMask: Int)
        /// The oldest pending snapshot superseded.
        case supersede

        init(_ n: Int) {
            let seed = n >> 2
            switch n & 3 {
            case 0: self = .newDay(Content(seed: seed))
            case 1: self = .rewrite(Content(seed: seed))
            case 2: self = .forward(waitingMask: seed & 0xFF)
            default: self = .supersede
            }
        }

        var description: String {
            switch self {
            case .newDay(let c): "newDay(\(c.seed))"
            case .rewrite(let c): "rewrite(\(c.seed))"
            case .forward(let m): "forward(waiting \(m))"
            case .supersede: "supersede"
            }
        }
    }

    static let schema = ResourceRegistry.standard[.users]!

    /// A new empty folder for one test's buffer (the caller removes it).
    static func scratchFolder(_ prefix: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func row(_ key: String, _ value: String, line: Int) -> ResourceRow {
        var values = [String?](repeating: nil, count: schema.columns.count)
        values[schema.index(of: "SourceSystemIdentifier")!] = key
        values[schema.index(of: "SourceSystem")!] = "Canvas"
        values[schema.index(of: "Name")!] = value
        return ResourceRow(line: line, values: values)
    }

    static func stage(_ buffer: Buffer, _ path: String, _ content: Content) throws -> StageOutcome {
        let file = ExtractFile(relativePath: path, resource: .users, scope: Scope(), snapshot: String(path.split(separator: "/").last!))
        return try buffer.stage(file, size: 1, mtimeNs: 1) { sink in
            for (n, r) in content.lines.enumerated() { try sink.append(row(r.key, r.value, line: n + 2)) }
            return StagedContent(sha256: "seed-\(content.seed)", present: schema.columns.map { _ in true }, rowCount: content.lines.count)
        }
    }

    /// The rows the buffer hands back for a file, by key (a key twice is a failure).
    static func read(_ buffer: Buffer, _ file: LedgerFile, _ body: (LedgerFile, (ResourceRow) throws -> Void) throws -> Void) throws -> [String: String] {
        var v: [String: String] = [:]
        let sid = schema.index(of: "SourceSystemIdentifier")!, name = schema.index(of: "Name")!
        try body(file) { row in
            let key = row.values[sid]!
            #expect(v[key] == nil, "\(key) twice in file \(file.id)")
            v[key] = row.values[name] ?? "NULL"
        }
        return v
    }

    @Test("every needed snapshot reads back whole; deltas and dropped keys match whole snapshots")
    func versionsMatchWholeSnapshots() async throws {
        await propertyCheck(count: 120, input: Gen.int(in: 0...(1 << 23 - 1)).array(of: 1...30)) { codes in
            let ops = codes.map(Op.init)
            do {
                let dir = try RowVersionModelTests.scratchFolder("rowversions")
                defer { try? FileManager.default.removeItem(atPath: dir) }
                let buffer = try Buffer(path: dir + "/buffer.sqlite", extractRoot: dir)
                defer { buffer.close() }
                var staged: [Int64: [String: String]] = [:]  // ledger id -> the snapshot's rows
                var waiting: [Int64: Set<String>] = [:]       // applied ledger id -> keys left waiting
                var day = 0
                for op in ops {
                    switch op {
                    case .newDay(let c), .rewrite(let c):
                        if case .newDay = op { day += 1 }
                        let path = String(format: "users/2026-10-%02d-06-00-00.csv", max(day, 1))
                        if case .staged(let id, _, _) = try Self.stage(buffer, path, c) { staged[id] = c.values }
                    case .forward(let mask):
                        guard let f = try buffer.files(inState: .staged).min(by: { ($0.snapshot, $0.id) < ($1.snapshot, $1.id) }) else { continue }
                        var ids: [Int64] = [], keys: Set<String> = []
                        let sid = Self.schema.index(of: "SourceSystemIdentifier")!
                        try buffer.rows(of: f) { row in
                            let key = row.values[sid]!
                            if mask & (1 << Int(key.dropFirst())!) != 0 { ids.append(row.id); keys.insert(key) }
                        }
                        try buffer.markForwarded(f, waitingRowIds: ids)
                        waiting[f.id] = keys
                    case .supersede:
                        guard let f = try buffer.files(inState: .staged).min(by: { ($0.snapshot, $0.id) < ($1.snapshot, $1.id) }) else { continue }
                        try buffer.markSuperseded(f, by: "(the test)")
                    }
                    try check(buffer, staged, waiting, after: op)
                }
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    /// A snapshot applied with rows left waiting, then superseded by a new version of its path, is
    /// still what the LMS-DS holds: the older applied snapshot must not be the base of a delta (its
    /// rows that the newer one changed were pruned, and the LMS-DS has the newer values anyway).
    @Test("the base of a delta is the newest snapshot the LMS-DS took, even one superseded since")
    func aSupersededWaitingSnapshotRulesOutOlderBases() throws {
        let dir = try RowVersionModelTests.scratchFolder("rowversions")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let buffer = try Buffer(path: dir + "/buffer.sqlite", extractRoot: dir)
        defer { buffer.close() }
        let path = "users/2026-10-01-06-00-00.csv"
        func stage(_ seed: Int) throws -> LedgerFile {
            guard case .staged(let id, _, _) = try Self.stage(buffer, path, Content(seed: seed)), let f = try buffer.file(id: id) else {
                throw BufferError.io("seed \(seed) was not staged")
            }
            return f
        }
        let first = try stage(0b01_01_01)
        try buffer.markForwarded(first, waitingRowIds: [])
        let second = try stage(0b10_10_01)
        var waiting: [Int64] = []
        try buffer.rows(of: second) { waiting.append($0.id) }
        try buffer.markForwarded(second, waitingRowIds: waiting)
        let third = try stage(0b11_01_11)
        #expect(try buffer.file(id: second.id)?.state == .superseded)
        #expect(try !buffer.canBeDeltaBase(try #require(try buffer.file(id: first.id)), for: third))
    }

    /// A bad-input file of the scope (rejected, nothing staged) does not keep the versions of the
    /// snapshots around it: once a newer snapshot is applied, only its rows stay.
    @Test("a rejected bad-input file keeps no staged rows alive")
    func aBadInputFileKeepsNoRowsAlive() throws {
        let dir = try RowVersionModelTests.scratchFolder("rowversions")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let buffer = try Buffer(path: dir + "/buffer.sqlite", extractRoot: dir)
        defer { buffer.close() }
        func stage(_ day: Int, _ seed: Int) throws -> LedgerFile {
            guard case .staged(let id, _, _) = try Self.stage(buffer, "users/2026-10-0\(day)-06-00-00.csv", Content(seed: seed)),
                  let f = try buffer.file(id: id) else { throw BufferError.io("day \(day) was not staged") }
            return f
        }
        try buffer.markForwarded(try stage(1, 0b01_01_01_01), waitingRowIds: [])
        let bad = "users/2026-10-02-06-00-00.csv"
        try buffer.record(bad, file: ExtractFile(relativePath: bad, resource: .users, scope: Scope(), snapshot: "2026-10-02-06-00-00.csv"),
                          sha256: "bad", size: 1, mtimeNs: 1, state: .rejected, error: nil, reason: "bad input")
        let third = try stage(3, 0b10_10_10_10)
        try buffer.markForwarded(third, waitingRowIds: [])
        let db = try SQLiteDatabase(path: dir + "/buffer.sqlite")
        defer { db.close() }
        #expect(try db.scalar("SELECT count(*) FROM rows_users")?.integer == 4, "only day 3's four rows stay staged")
    }

    func check(_ buffer: Buffer, _ staged: [Int64: [String: String]], _ waiting: [Int64: Set<String>], after op: Op) throws {
        let files = try buffer.files()
        // The newest snapshot the LMS-DS took: the only possible delta base, if it is still applied.
        let taken = files.filter { $0.forwardedAt != nil }.max { ($0.snapshot, $0.id) < ($1.snapshot, $1.id) }
        let applied = taken.flatMap { FileState.applied.contains($0.state) ? $0 : nil }
        for f in files where f.state == .staged || f.state == .waiting || f.id == applied?.id {
            let rows = try Self.read(buffer, f) { f, body in try buffer.rows(of: f, body) }
            #expect(rows == staged[f.id], "after \(op): file \(f.id) (\(f.state.rawValue)) reads \(rows), was staged as \(staged[f.id] ?? [:])")
        }
        if applied == nil, let older = files.filter({ FileState.applied.contains($0.state) }).max(by: { ($0.snapshot, $0.id) < ($1.snapshot, $1.id) }) {
            // The LMS-DS holds a newer snapshot than the newest applied one the ledger shows.
            for f in files where f.state == .staged {
                #expect(try !buffer.canBeDeltaBase(older, for: f), "after \(op): \(older.id) vouches for \(f.id) behind a newer snapshot the LMS-DS took")
            }
        }
        guard let base = applied, let old = staged[base.id] else { return }
        for f in files where f.state == .staged {
            #expect(try buffer.canBeDeltaBase(base, for: f) == (!f.sourceSystems.isEmpty && base.sourceSystems == f.sourceSystems),
                    "after \(op): whether \(base.id) can be the delta base of \(f.id)")
            guard let new = staged[f.id] else { continue }
            let delta = try Self.read(buffer, f) { f, body in try buffer.changedRows(of: f, since: base, body) }
            let mustSend = Set(new.keys.filter { new[$0] != old[$0] || waiting[base.id, default: []].contains($0) })
            #expect(mustSend.isSubset(of: Set(delta.keys)), "after \(op): delta of \(f.id) since \(base.id) lacks \(mustSend.subtracting(delta.keys))")
            #expect(delta.allSatisfy { new[$0.key] == $0.value }, "after \(op): delta of \(f.id) since \(base.id) sends rows it does not have: \(delta)")
            let dropped = Set(try buffer.keysDropped(from: base, to: f).map(\.0))
            #expect(dropped == Set(old.keys).subtracting(new.keys), "after \(op): dropped keys from \(base.id) to \(f.id): \(dropped)")
        }
    }
}
