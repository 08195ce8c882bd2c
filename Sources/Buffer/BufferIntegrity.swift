import Extract
import Foundation
import Glibc
import SQLiteDB

/// Telling a damaged buffer file from a sound one, and putting a damaged one out of the way.
///
/// A buffer is only a cache of work in progress: the extract and the LMS-DS's ProcessedFiles say
/// everything needed to build it again. So a corrupt buffer is not repaired; it is moved aside (kept
/// for a post-mortem) and a new one is built.
extension Buffer {
    /// Why the file at `path` is not a usable SQLite database, or nil when it is sound (or absent).
    /// Only damage counts: a file that cannot be opened for another reason (permission, I/O, full
    /// disk) is not damaged, and opening it reports that error as it is.
    public static func damage(at path: String) -> String? {
        guard access(path, F_OK) == 0 else { return nil }
        do {
            let db = try SQLiteDatabase(path: path)
            // quick_check reads every page and checks the b-trees (not the indexes against their
            // tables): about 20 ms for 10 MB, once per start of flush or watch.
            let lines = try db.query("PRAGMA quick_check(5)").compactMap { $0.first?.text }
            return lines == ["ok"] ? nil : lines.joined(separator: "; ")
        } catch let e as SQLiteError {
            return e.fault == .damaged ? e.message : nil
        } catch {
            return nil
        }
    }

    /// Renames a damaged buffer to `<path>.corrupt-<UTC time>` (its WAL beside it as `<that>-wal`,
    /// so that `sqlite3` opens the same state) and removes its shared-memory index. Returns the new name.
    public static func moveAside(_ path: String, at date: Date = Date()) throws -> String {
        let stamp = Timestamp.format(seconds: Int(date.timeIntervalSince1970.rounded(.down)), style: .compact)
        var aside = path + ".corrupt-" + stamp
        var n = 1
        while access(aside, F_OK) == 0 { n += 1; aside = path + ".corrupt-" + stamp + "-\(n)" }
        guard rename(path, aside) == 0 else {
            throw BufferError.io("cannot move the corrupt buffer \(path) aside: \(String(cString: strerror(errno)))")
        }
        if access(path + "-wal", F_OK) == 0 { _ = rename(path + "-wal", aside + "-wal") }
        unlink(path + "-shm")
        return aside
    }
}
