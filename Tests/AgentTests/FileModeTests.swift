import Foundation
import Glibc
import SQLiteDB
import Testing

/// Defect 8: the buffer and the SQLite LMS-DS hold the extract's personal data. They were created by
/// SQLite with 0644 less the umask and chmod'ed afterwards (the LMS-DS to 0640, its folder made with
/// 0777 less the umask). Now they are created 0600 in folders made 0700, so that they never exist
/// with a wider mode, and SQLite gives their `-wal` and `-shm` the same mode. Tested under umask 000,
/// the most permissive, with the built binary.
@Suite("Files are created owner-only whatever the umask", .serialized)
struct FileModeTests {
    static func tree() throws -> World {
        let w = try World()
        try w.writeBase()
        return w
    }

    /// Every file creation and folder creation the agent made, read from strace: no window exists
    /// between a creation and a chmod if the creation itself has the final mode.
    @Test(.enabled(if: installed("strace"), "strace is not installed (scripts/install-deps.sh installs it)"))
    func everyCreationHasTheFinalMode() throws {
        let w = try Self.tree()
        let trace = w.dir + "/strace.txt"
        let buffer = w.dir + "/state/sub/buffer.sqlite", lmsds = w.dir + "/ds/sub/lms-ds.sqlite"
        let run = try AgentProcess.run(["flush", "--csvpath", w.root, "--buffer", buffer, "--dbname", lmsds],
                                   environment: .only(["HOME": w.dir]), directory: w.dir, umask: 0,
                                   prefix: ["strace", "-f", "-qq", "-o", trace, "-e", "trace=open,openat,creat,mkdir,mkdirat"])
        #expect(run.code == 0, "\(run.output)")
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        var created: [String: String] = [:]
        for line in lines {
            guard let path = line.firstMatch(of: #/"(?<path>[^"]+)"/#)?.output.path, path.hasPrefix(w.dir + "/state") || path.hasPrefix(w.dir + "/ds"),
                  !line.hasSuffix("= -1 EEXIST (File exists)"), !line.contains("ENOENT") else { continue }
            if line.contains("mkdir"), let mode = line.firstMatch(of: #/, (?<mode>0[0-7]+)\)/#)?.output.mode {
                created[String(path)] = String(mode)
            } else if line.contains("O_CREAT"), let mode = line.firstMatch(of: #/, (?<mode>0[0-7]+)\)/#)?.output.mode {
                created[String(path)] = created[String(path)] ?? String(mode)
            }
        }
        for folder in [w.dir + "/state", w.dir + "/state/sub", w.dir + "/ds", w.dir + "/ds/sub"] {
            #expect(created[folder] == "0700", "\(folder) created with \(created[folder] ?? "?")")
        }
        for file in [buffer, buffer + "-wal", buffer + "-shm", lmsds, lmsds + "-wal", lmsds + "-shm"] {
            #expect(created[file] == "0600", "\(file) created with \(created[file] ?? "?")")
        }
    }

    /// The modes themselves, after a flush and while a watcher holds the files open (that is when
    /// `-wal` and `-shm` exist), including the default state directory.
    @Test func buffersLMSDSAndTheirSidecarsAre0600AndFolders0700() throws {
        let w = try Self.tree()
        let home = w.dir + "/home"
        let state = home + "/.local/state/lms-agent"
        let env = ["HOME": home]
        let flush = try AgentProcess.run(["flush", "--csvpath", w.root], environment: .only(env), directory: w.dir, umask: 0)
        #expect(flush.code == 0, "\(flush.output)")
        for folder in [home, home + "/.local", home + "/.local/state", state] {
            #expect(permissions(folder) == 0o700, "\(folder): \(String(permissions(folder) ?? 0, radix: 8))")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: state)
        let bufferName = try #require(names.first { $0.hasPrefix("buffer-") && $0.hasSuffix(".sqlite") })
        let buffer = state + "/" + bufferName
        let lmsds = state + "/lms-ds.sqlite"
        #expect(permissions(buffer) == 0o600)
        #expect(permissions(lmsds) == 0o600, "\(String(permissions(lmsds) ?? 0, radix: 8))")

        // A watcher keeps both open in WAL mode: their -wal and -shm exist and must be 0600 too.
        try w.write("users/2026-09-02-06-00-00.csv", .users, (1...5).map { Row.user("u\($0)") })
        let watch = try AgentProcess(["watch", "--csvpath", w.root, "--settle-seconds", "0.2"], environment: .only(env), directory: w.dir, umask: 0)
        #expect(eventually { try w.countIn(lmsds, "LMSUser") == 5 })
        for file in [buffer + "-wal", buffer + "-shm", lmsds + "-wal", lmsds + "-shm"] {
            #expect(permissions(file) == 0o600, "\(file): \(permissions(file).map { String($0, radix: 8) } ?? "missing")")
        }
        let stopped = watch.stop()
        #expect(stopped.code == 0, "\(stopped.output)")
        for file in try FileManager.default.contentsOfDirectory(atPath: state) {
            #expect((permissions(state + "/" + file) ?? 0) & 0o077 == 0, "\(file)")
        }
    }

    @Test func anOlderBufferWithAWiderModeIsTakenBack() throws {
        let w = try Self.tree()
        let buffer = w.dir + "/buffer.sqlite"
        #expect(try AgentProcess.run(["flush", "--csvpath", w.root, "--buffer", buffer, "--dbname", w.dir + "/lms-ds.sqlite"],
                                 environment: .only(["HOME": w.dir]), directory: w.dir).code == 0)
        chmod(buffer, 0o644)
        #expect(try AgentProcess.run(["status", "--buffer", buffer, "--dbname", w.dir + "/lms-ds.sqlite"],
                                 environment: .only(["HOME": w.dir]), directory: w.dir).code == 0)
        #expect(permissions(buffer) == 0o600)
    }
}

extension World {
    /// Live rows of `table` in a SQLite LMS-DS file (read with a connection of the test's own).
    func countIn(_ sqlitePath: String, _ table: String) throws -> Int {
        let db = try SQLiteDatabase(path: sqlitePath)
        return Int(try db.scalar("SELECT count(*) FROM \(table) WHERE DeletedAt IS NULL")?.integer ?? -1)
    }
}
