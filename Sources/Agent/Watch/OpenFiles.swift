import Foundation
import Glibc

/// Files that some process has open for writing, read from /proc (the processes this user may
/// inspect: the extractor usually runs as the same service user or is readable by root). Used for
/// files no close event vouches for: those a scan found while they may still be being written.
enum OpenFiles {
    static func openForWriting() -> Set<String> {
        var out = Set<String>()
        guard let proc = opendir("/proc") else { return out }
        defer { closedir(proc) }
        let me = getpid()
        while let e = readdir(proc) {
            let name = entryName(e)
            guard let pid = Int32(name), pid != me else { continue }
            guard let fds = opendir("/proc/\(pid)/fd") else { continue }
            while let f = readdir(fds) {
                let fd = entryName(f)
                guard Int(fd) != nil else { continue }
                var buf = [CChar](repeating: 0, count: 4096)
                let n = readlink("/proc/\(pid)/fd/\(fd)", &buf, buf.count - 1)
                guard n > 0, buf[0] == 0x2F else { continue }
                let target = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                guard target.hasSuffix(".csv") else { continue }
                if writable(pid: pid, fd: fd) { out.insert(target) }
            }
            closedir(fds)
        }
        return out
    }

    private static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String { direntName(entry) }

    /// The fd's `flags:` line (octal) says O_WRONLY (1) or O_RDWR (2).
    private static func writable(pid: Int32, fd: String) -> Bool {
        guard let file = fopen("/proc/\(pid)/fdinfo/\(fd)", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("flags:") {
                let octal = text.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines)
                guard let flags = Int(octal, radix: 8) else { return false }
                return flags & 3 != 0
            }
        }
        return false
    }
}
