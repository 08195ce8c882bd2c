import Foundation
import Glibc
import Logging
import SQLiteDB

/// One writer per buffer at a time: an exclusive `flock` on `<buffer>.lock`, which records the
/// holder's pid and command.
///
/// - `watch` owns its buffer for as long as it runs. `flush`, `resume`, `retry`, `release`, `harmonize` and a
///   second `watch` refuse (exit 1), naming its pid: a watcher stages and forwards by itself, and work done
///   by hand behind its back would race it. Stop the watcher to work by hand.
/// - `flush`, `resume`, `retry`, `release` and `harmonize` take turns: the second one waits for the first, saying so once
///   (overlapping cron runs queue up instead of failing). A `watch` started meanwhile waits too.
/// - `status` and `inspect` take no lock: they only read, and SQLite's WAL lets them read while a
///   writer works.
///
/// The kernel drops the lock when its holder exits, however it exits (`kill -9` included), so a
/// leftover lock file never blocks anyone. The lock is taken before the buffer is opened, so that
/// moving a corrupt buffer aside never pulls it from under another process.
public final class BufferLock {
    /// The commands that take the lock, by their CLI names; the holder's is written in the lock file.
    public enum Command: String, Sendable {
        /// `watch` holds the buffer alone; the others take turns.
        case watch, flush, resume, retry, release, harmonize
    }

    /// Who holds a buffer's lock.
    public struct Holder: Sendable, Equatable, CustomStringConvertible {
        /// The holder's process id, as written in the lock file.
        public var pid: String
        /// The holder's command (`watch`, `flush`, ...).
        public var command: String
        /// `flush (pid 1234)`, for the messages that name the holder.
        public var description: String { "\(command) (pid \(pid))" }
    }

    /// The lock file (`<buffer>.lock`, its folder resolved).
    public let path: String
    private let fd: Int32

    /// The lock file of a buffer, beside it. Its folder is resolved (symbolic links, `..`), so that
    /// two spellings of one buffer's path share one lock.
    public static func lockPath(bufferPath: String) -> String {
        let dir = (bufferPath as NSString).deletingLastPathComponent
        let name = (bufferPath as NSString).lastPathComponent
        guard let resolved = realpath(dir.isEmpty ? "." : dir, nil) else { return bufferPath + ".lock" }
        defer { free(resolved) }
        let real = String(cString: resolved)
        return (real == "/" ? "" : real) + "/" + name + ".lock"
    }

    /// Takes the lock of the buffer at `bufferPath` for `command`, waiting for a `flush`, `resume`,
    /// `retry` or `release` that holds it, refusing when a watcher does.
    public init(bufferPath: String, for command: Command, logger: Logger) throws {
        // Folders made 0700 from the start, as the buffer's own (FileManager makes 0777, then chmods).
        try? SQLiteDatabase.createFolders(containing: bufferPath)
        // After the folders exist: the lock's path resolves them.
        path = BufferLock.lockPath(bufferPath: bufferPath)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AgentError.config("cannot open the buffer's lock file \(path): \(String(cString: strerror(errno)))") }
        var announced = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let why = String(cString: strerror(errno))
                close(fd)
                throw AgentError.config("cannot lock \(path): \(why)")
            }
            // Between a new holder's flock and its writing its name, the file may still name the
            // previous holder (gone) or nothing: only a live holder counts.
            if let holder = BufferLock.readHolder(fd), BufferLock.isAlive(holder.pid) {
                if holder.command == Command.watch.rawValue {
                    close(fd)
                    if command == .watch {
                        throw AgentError.config("another watcher (pid \(holder.pid)) is running on the buffer \(bufferPath)")
                    }
                    throw AgentError.config("""
                        a watcher (pid \(holder.pid)) holds the buffer \(bufferPath): it stages and forwards by itself, and \
                        `\(command.rawValue)` would race it. Stop the watcher first (systemctl stop lms-agent, or kill -TERM \
                        \(holder.pid)); `status` and `inspect` work while it runs
                        """)
                }
                if !announced {
                    logger.warning("waiting for \(holder) to finish with the buffer \(bufferPath)")
                    announced = true
                }
            }
            usleep(100_000)
        }
        _ = ftruncate(fd, 0)
        let text = Array("\(getpid()) \(command.rawValue)\n".utf8)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        if announced { logger.info("the buffer \(bufferPath) is free; going on") }
    }

    deinit {
        // Cleared first, so that the file never names a holder that has let go.
        _ = ftruncate(fd, 0)
        close(fd)
    }

    /// Who holds the lock of the buffer at `bufferPath`, or nil when nobody does.
    public static func holder(bufferPath: String) -> Holder? {
        let fd = open(lockPath(bufferPath: bufferPath), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        return readHolder(fd) ?? Holder(pid: "?", command: "?")
    }

    private static func readHolder(_ fd: Int32) -> Holder? {
        var buf = [UInt8](repeating: 0, count: 64)
        let n = pread(fd, &buf, buf.count, 0)
        guard n > 0 else { return nil }
        let parts = String(decoding: buf[0..<n], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count >= 2 else { return nil }
        return Holder(pid: String(parts[0]), command: String(parts[1]))
    }

    private static func isAlive(_ pid: String) -> Bool {
        guard let p = pid_t(pid), p > 0 else { return false }
        return kill(p, 0) == 0 || errno == EPERM
    }
}
