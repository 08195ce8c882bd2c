import Agent
import Extract
import Foundation
import Glibc
import PostgresDB
import SQLiteDB
import Testing

/// A tmpfs of a set size mounted on a fresh folder of a World, for "the disk is full". Needs root
/// (CI and the build machine run as root); the suites that use it are skipped, saying so, otherwise.
/// Declare it with `defer { fs.unmount() }`: it must stay mounted while the agent's processes run.
final class Tmpfs {
    let path: String
    /// Kept alive as long as the mount: the World's folder is removed only after the unmount.
    private let world: World
    private var mounted = false
    static var canMount: Bool { getuid() == 0 }

    init(in world: World, _ name: String, megabytes: Int) throws {
        self.world = world
        path = world.dir + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let out = try OwnPostgres.shell("mount -t tmpfs -o size=\(megabytes)m,mode=0700 tmpfs '\(path)' && echo mounted")
        guard out.contains("mounted") else { throw AgentError.config("cannot mount a tmpfs on \(path): \(out)") }
        mounted = true
    }

    /// Grows (or shrinks, down to what is in use) the file system in place; its files stay.
    func resize(megabytes: Int) throws { try resize("\(megabytes)m") }
    func resize(kilobytes: Int) throws { try resize("\(kilobytes)k") }

    private func resize(_ size: String) throws {
        let out = try OwnPostgres.shell("mount -o remount,size=\(size) '\(path)' && echo resized")
        guard out.contains("resized") else { throw AgentError.config("cannot resize the tmpfs on \(path): \(out)") }
    }

    /// Bytes in use on it now.
    var usedBytes: Int {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return 0 }
        return Int(s.f_blocks - s.f_bfree) * Int(s.f_frsize)
    }

    /// Always unmounted, even when the test failed (lazily if a process still has a file open).
    func unmount() {
        guard mounted else { return }
        mounted = false
        _ = try? OwnPostgres.shell("umount '\(path)' || umount -l '\(path)'")
    }

    deinit { unmount() }
}

/// `PRAGMA integrity_check` of a SQLite file (the buffer or the SQLite LMS-DS): "ok" when sound.
func sqliteIntegrity(_ path: String) -> String {
    do {
        let db = try SQLiteDatabase(path: path)
        return try db.query("PRAGMA integrity_check").compactMap { $0.first?.text }.joined(separator: "; ")
    } catch {
        return "cannot check \(path): \(error)"
    }
}

/// The whole LMS-DS by natural key and every column, comparable across two databases: synthetic
/// keys become the parent's natural key, database-clock columns (DeletedAt, the submission types'
/// CreateDate, ProcessedFiles' upload time) count by NULL-ness only, and ProcessedFiles paths are
/// relative to the extract root. Equal contents mean the same data, whatever order it arrived in.
struct LMSContents: Equatable {
    var rows: [String]

    init(root: String, postgres: Bool, query: (String) throws -> [[String?]]) throws {
        func t(_ name: String) -> String { postgres ? "lms.\(name)" : name }
        var out: [String] = []
        for r in Resource.allCases {
            let s = r.schema
            var select = ["t.SourceSystemIdentifier", "t.SourceSystem"]
            select += s.dataColumns.map(\.name).filter { !ResourceSchema.naturalKey.contains($0) }.map { "t.\($0)" }
            var joins: [String] = []
            for (i, link) in s.parents.enumerated() {
                let p = link.parent.schema
                joins.append("LEFT JOIN \(t(p.table)) p\(i) ON p\(i).\(p.identity) = t.\(link.foreignKey)")
                select.append("p\(i).SourceSystemIdentifier")
            }
            for (i, link) in s.throughLinks.enumerated() {
                let a = link.resource.schema
                joins.append("LEFT JOIN \(t(a.table)) e\(i) ON e\(i).\(a.identity) = t.\(link.foreignKey)")
                select.append("e\(i).SourceSystemIdentifier")
            }
            select.append("CASE WHEN t.DeletedAt IS NULL THEN 'live' ELSE 'deleted' END")
            for row in try query("SELECT \(select.joined(separator: ", ")) FROM \(t(s.table)) t \(joins.joined(separator: " "))") {
                out.append("\(s.table): " + row.map { $0 ?? "NULL" }.joined(separator: "|"))
            }
        }
        for row in try query("""
            SELECT a.SourceSystemIdentifier, a.SourceSystem, x.SubmissionType, CASE WHEN x.DeletedAt IS NULL THEN 'live' ELSE 'deleted' END
            FROM \(t("AssignmentSubmissionType")) x JOIN \(t("Assignment")) a ON a.AssignmentIdentifier = x.AssignmentIdentifier
            """) {
            out.append("AssignmentSubmissionType: " + row.map { $0 ?? "NULL" }.joined(separator: "|"))
        }
        let prefix = root.hasSuffix("/") ? root : root + "/"
        for row in try query("SELECT FullPath, ResourceName, NumberOfRows, Checksum FROM \(t("ProcessedFiles"))") {
            var path = row[0] ?? "NULL"
            if path.hasPrefix(prefix) { path = String(path.dropFirst(prefix.count)) }
            out.append("ProcessedFiles: " + ([path] + row.dropFirst().map { $0 ?? "NULL" }).joined(separator: "|"))
        }
        rows = out.sorted()
    }

    /// The World's own LMS-DS.
    init(_ w: World) throws {
        try self.init(root: w.root, postgres: w.engine == .postgresql, query: w.query)
    }

    /// A SQLite LMS-DS file somewhere else (on a test's tmpfs).
    init(sqlite path: String, root: String) throws {
        let db = try SQLiteDatabase(path: path)
        try self.init(root: root, postgres: false) { sql in try db.query(sql).map { $0.map(\.text) } }
    }

    /// A database on a PostgreSQL server of the test's own.
    init(postgres connection: PostgresConnection, root: String) throws {
        try self.init(root: root, postgres: true) { sql in try connection.execute(sql).rows }
    }

    var processedFiles: Int { rows.filter { $0.hasPrefix("ProcessedFiles: ") }.count }

    /// The first differences, for a readable failure message.
    func differences(from other: LMSContents, limit: Int = 12) -> String {
        let a = Set(rows), b = Set(other.rows)
        let missing = other.rows.filter { !a.contains($0) }.prefix(limit)
        let extra = rows.filter { !b.contains($0) }.prefix(limit)
        return "\(rows.count) rows vs \(other.rows.count) expected; missing: \(Array(missing)); unexpected: \(Array(extra))"
    }
}

extension World {
    /// ProcessedFiles paths recorded more than once (an empty list is the only right answer).
    func processedPathsTwice() throws -> [String] {
        try query("SELECT FullPath FROM \(t("ProcessedFiles")) GROUP BY FullPath HAVING count(*) > 1").compactMap { $0.first ?? nil }
    }

    /// Every ledger version as "path: state", for comparing what two runs left in their buffers.
    func ledgerStates(buffer path: String? = nil) throws -> [String] {
        let db = try SQLiteDatabase(path: path ?? settings.bufferPath!)
        return try db.query("SELECT path, state FROM files ORDER BY path, id").map { "\($0[0].text ?? ""): \($0[1].text ?? "")" }
    }
}

extension OwnPostgres {
    /// `pg_ctl stop -m immediate`: the server is killed at once, as a crash or a power cut would;
    /// open transactions are lost and the next start runs crash recovery.
    func stopImmediately() throws {
        let data = env["LMS_AGENT_TEST_PGDATA"]!, bin = env["LMS_AGENT_TEST_PGBIN"]!
        let cmd = "'\(bin)/pg_ctl' -D '\(data)' -w -m immediate stop"
        _ = try OwnPostgres.shell(getuid() == 0 ? "su postgres -s /bin/sh -c \"\(cmd)\"" : cmd)
    }

    var isRunning: Bool { (try? connection("postgres")) != nil }
}
