// The byte writer of one CSV file as the extractors write it: a UTF-8 BOM, LF line ends, RFC 4180
// quoting, and a lone "\n" for a file without rows. It knows bytes, not resources.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Extract

/// Writes one CSV file through a 64 KiB buffer. The BOM and header are written with the first
/// row; a file that gets no row is written as a lone "\n".
final class CSVFile {
    static let capacity = 64 * 1024
    let path: String
    private var fd: Int32
    private let buffer: UnsafeMutablePointer<UInt8>
    private var used = 0
    private var failure: Int32 = 0
    private let header: [UInt8]
    private(set) var rows = 0
    private var firstField = true

    init(path: String, columns: [String]) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SampleError("cannot create \(path): \(String(cString: strerror(errno)))") }
        buffer = .allocate(capacity: Self.capacity)
        header = [0xEF, 0xBB, 0xBF] + Array(columns.joined(separator: ",").utf8) + [0x0A]
    }

    deinit {
        buffer.deallocate()
        if fd >= 0 { close(fd) }
    }

    private func flush() {
        var offset = 0
        while offset < used && failure == 0 {
            let n = write(fd, buffer + offset, used - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
            } else {
                offset += n
            }
        }
        used = 0
    }

    @inline(__always) private func byte(_ b: UInt8) {
        if used == Self.capacity { flush() }
        buffer[used] = b
        used += 1
    }

    @inline(__always) private func reserve(_ n: Int) {
        if Self.capacity - used < n { flush() }
    }

    private func bytes(_ p: UnsafeBufferPointer<UInt8>) {
        guard var source = p.baseAddress else { return }
        var left = p.count
        while left > 0 {
            if used == Self.capacity { flush() }
            let k = min(left, Self.capacity - used)
            (buffer + used).update(from: source, count: k)
            used += k
            source += k
            left -= k
        }
    }

    @inline(__always) private func separator() {
        if firstField { firstField = false } else { byte(0x2C) }
    }

    func beginRow() {
        if rows == 0 { header.withUnsafeBufferPointer { bytes($0) } }
        firstField = true
    }

    func endRow() {
        byte(0x0A)
        rows += 1
    }

    func null() { separator() }

    /// A text value, quoted (RFC 4180) when it holds a comma, a quote or a line break.
    func text(_ value: String) {
        separator()
        var value = value
        value.withUTF8 { p in
            var needsQuotes = false
            for b in p where b == 0x2C || b == 0x22 || b == 0x0A || b == 0x0D {
                needsQuotes = true
                break
            }
            if !needsQuotes { bytes(p); return }
            byte(0x22)
            for b in p {
                if b == 0x22 { byte(0x22) }
                byte(b)
            }
            byte(0x22)
        }
    }

    func int(_ value: Int) {
        separator()
        if value < 0 { byte(0x2D) }
        digits(UInt64(value.magnitude))
    }

    func id(_ value: UInt64) {
        separator()
        digits(value)
    }

    private func digits(_ value: UInt64) {
        reserve(20)
        var v = value
        var count = 1
        while v >= 10 { v /= 10; count += 1 }
        v = value
        var i = used + count - 1
        repeat {
            buffer[i] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
            v /= 10
            i -= 1
        } while v > 0
        used += count
    }

    /// `YYYY-MM-DD HH:MM:SS`.
    func date(_ t: Int) {
        separator()
        reserve(19)
        let (y, m, d) = Values.civilFromDays(t / WallClock.dayLength)
        let s = t % WallClock.dayLength
        let p = buffer + used
        @inline(__always) func two(_ at: Int, _ n: Int) {
            p[at] = UInt8(truncatingIfNeeded: n / 10) &+ 0x30
            p[at + 1] = UInt8(truncatingIfNeeded: n % 10) &+ 0x30
        }
        two(0, y / 100 % 100); two(2, y % 100)
        p[4] = 0x2D; two(5, m); p[7] = 0x2D; two(8, d)
        p[10] = 0x20; two(11, s / 3600); p[13] = 0x3A; two(14, s / 60 % 60); p[16] = 0x3A; two(17, s % 60)
        used += 19
    }

    /// Completes the file; throws if any write failed.
    func finish() throws {
        if rows == 0 { byte(0x0A) }
        flush()
        let rc = close(fd)
        fd = -1
        if failure != 0 { throw SampleError("cannot write \(path): \(String(cString: strerror(failure)))") }
        if rc != 0 { throw SampleError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}
