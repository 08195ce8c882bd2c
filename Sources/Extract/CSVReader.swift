import Glibc

/// A source of bytes, read in chunks, so that no file is ever held whole in memory.
public protocol ByteChunkSource: AnyObject {
    /// Calls `body` with the next chunk; returns false at the end.
    func nextChunk(_ body: (UnsafeRawBufferPointer) -> Void) throws -> Bool
}

/// Reads a file with read(2) in 256 KiB chunks and hashes exactly the bytes it hands out.
///
/// Only a regular file is read. A symbolic link is not followed (`O_NOFOLLOW`), and a FIFO, socket
/// or device is refused without blocking (`O_NONBLOCK`, then `fstat` of what was opened): a FIFO
/// named `.csv` would otherwise hang the reader until some process writes to it, and a link could
/// point anywhere on the machine. The scanner already skips them; this closes the window in which
/// a file is replaced after the scan.
public final class FileChunkReader: ByteChunkSource {
    private let fd: Int32
    private var buffer: [UInt8]
    private let hasher = SHA256()
    /// Bytes handed out so far: the file's size once the reader has reached its end.
    public private(set) var bytesRead = 0
    /// The file being read, as errors name it (the relative path for `init(beneath:relativePath:)`).
    public let path: String

    /// Opens `path` for reading, refusing anything but a regular file (see the type's note).
    public init(path: String, chunkSize: Int = 256 * 1024) throws {
        self.path = path
        fd = try FileChunkReader.openRegularFile(path, at: AT_FDCWD, shownAs: path)
        buffer = [UInt8](repeating: 0, count: chunkSize)
    }

    /// Opens `relativePath` below `root` without following a symbolic link in any component, so
    /// that nothing outside the root is read even if a folder of the tree is replaced by a link
    /// after it was scanned. Errors name the relative path.
    public init(beneath root: String, relativePath: String, chunkSize: Int = 256 * 1024) throws {
        self.path = relativePath
        var dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else {
            throw ExtractError(path: relativePath, message: "cannot open the extract directory: \(String(cString: strerror(errno)))")
        }
        let parts = relativePath.split(separator: "/").map(String.init)
        guard !parts.isEmpty, !parts.contains(where: { $0 == "." || $0 == ".." }) else {
            close(dir)
            throw ExtractError(path: relativePath, message: "cannot open: not a path inside the extract directory")
        }
        for folder in parts.dropLast() {
            let next = openat(dir, folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let err = errno
            close(dir)
            guard next >= 0 else {
                let why = err == ELOOP || err == ENOTDIR ? "the folder \(quotedForMessage(folder)) is not a directory (a symbolic link is never followed)" : String(cString: strerror(err))
                throw ExtractError(path: relativePath, message: "cannot open: \(why)")
            }
            dir = next
        }
        defer { close(dir) }
        fd = try FileChunkReader.openRegularFile(parts.last ?? ".", at: dir, shownAs: relativePath)
        buffer = [UInt8](repeating: 0, count: chunkSize)
    }

    private static func openRegularFile(_ name: String, at dir: Int32, shownAs path: String) throws -> Int32 {
        let fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            let err = errno
            let why = err == ELOOP ? "it is a symbolic link, and links are never followed" : String(cString: strerror(err))
            // A link is what the file is; a permission or I/O error is how it is now, and may change.
            throw ExtractError(path: path, message: "cannot open: \(why)", isUnreadable: err != ELOOP)
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw ExtractError(path: path, message: "cannot open: \(why)", isUnreadable: true)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ExtractError(path: path, message: "not a regular file (\(FileChunkReader.kind(of: st.st_mode))): it is never read")
        }
        // Back to blocking reads (O_NONBLOCK was only for the open; it means nothing to a regular file).
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    /// `a FIFO`, `a directory`, ... for a file mode.
    public static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a directory"
        case S_IFLNK: return "a symbolic link"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return "an unknown kind of file"
        }
    }

    deinit { close(fd) }

    /// Reads the next chunk, adds it to the checksum and hands it to `body`; false at the end of the file.
    public func nextChunk(_ body: (UnsafeRawBufferPointer) -> Void) throws -> Bool {
        let fd = self.fd
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            throw ExtractError(path: path, message: "read failed: \(String(cString: strerror(errno)))", isUnreadable: true)
        }
        if n == 0 { return false }
        bytesRead += n
        buffer.withUnsafeBytes { raw in
            let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
            hasher.update(chunk)
            body(chunk)
        }
        return true
    }

    /// The SHA-256 of every byte read so far (call once, at the end).
    public func finalizeChecksum() -> String { hasher.finalize() }
}

/// In-memory bytes as a source (tests, small inputs).
public final class BytesSource: ByteChunkSource {
    private var bytes: [UInt8]?
    /// A source that hands out `bytes` as one chunk.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    /// A source that hands out the UTF-8 bytes of `text` as one chunk.
    public init(_ text: String) { self.bytes = Array(text.utf8) }
    /// Hands out all the bytes on the first call; false after that.
    public func nextChunk(_ body: (UnsafeRawBufferPointer) -> Void) throws -> Bool {
        guard let b = bytes else { return false }
        bytes = nil
        b.withUnsafeBytes { body($0) }
        return true
    }
}

/// One CSV record: its fields and the physical line it starts on.
public struct CSVRecord: Sendable, Equatable {
    /// The record's fields, unquoted, in the file's order.
    public var fields: [String]
    /// The 1-based physical line the record starts on (a quoted line break makes a record span lines).
    public var line: Int
}

/// A streaming RFC 4180 reader over bytes: quoted fields, doubled quotes, CR/LF inside quotes,
/// CRLF or LF line ends, a leading UTF-8 BOM, blank lines skipped. It rejects invalid UTF-8,
/// NUL bytes, an unterminated quote and text after a closing quote, naming line and column.
///
/// Memory is one chunk plus the current record, whatever the file size.
public struct CSVReader {
    /// Where the bytes come from; a `FileChunkReader` also hashes them.
    public let source: any ByteChunkSource
    private let path: String
    private var chunk: [UInt8] = []
    private var pos = 0
    private var atEnd = false
    private var atStart = true
    /// The physical line the reader is on (1-based).
    private var line = 1
    private var field: [UInt8] = []

    /// The most bytes one record may have. A record holds a row's values, and no column of the LMS-DS
    /// is longer than 1,024 characters (descriptions are cut to that), so a record far larger is
    /// not data: a file without line ends, a binary file, or a quote that never closes. The limit
    /// keeps the reader's memory bounded whatever the file; a record over it is an error.
    public var maxRecordBytes = CSVReader.defaultMaxRecordBytes
    /// 16 MiB: far above any real record, far below what would strain memory.
    public static let defaultMaxRecordBytes = 16 << 20
    /// The most fields one record may have (an LMS file has at most 16 columns): many empty fields
    /// cost memory out of proportion to their bytes.
    public var maxFields = 10_000
    /// Bytes of the current record's completed fields (the current field is `field`).
    private var recordBytes = 0
    /// The first bytes of the input (up to 4), before any BOM is dropped: lets the caller tell a
    /// UTF-16 file or a known binary format from a broken CSV.
    public private(set) var leadingBytes: [UInt8] = []

    /// A reader over `source`; `path` names the file in errors.
    public init(source: any ByteChunkSource, path: String) {
        self.source = source
        self.path = path
        field.reserveCapacity(256)
    }

    private mutating func fill() throws -> Bool {
        if atEnd { return false }
        var got: [UInt8] = []
        let more = try source.nextChunk { got = Array($0) }
        if !more { atEnd = true; return false }
        if atStart {
            // The BOM may straddle chunks (or follow empty ones): gather three bytes before looking.
            while got.count < 3 {
                var next: [UInt8] = []
                guard try source.nextChunk({ next = Array($0) }) else { atEnd = true; break }
                got += next
            }
        }
        chunk = got
        pos = 0
        if atStart {
            atStart = false
            leadingBytes = Array(chunk.prefix(4))
            if chunk.count >= 3, chunk[0] == 0xEF, chunk[1] == 0xBB, chunk[2] == 0xBF { pos = 3 }
        }
        return true
    }

    @inline(__always)
    private mutating func nextByte() throws -> UInt8? {
        if pos >= chunk.count { guard try fill() else { return nil } ; if pos >= chunk.count { return try nextByte() } }
        let b = chunk[pos]
        pos += 1
        return b
    }

    @inline(__always)
    private mutating func peekByte() throws -> UInt8? {
        if pos >= chunk.count { guard try fill() else { return nil }; if pos >= chunk.count { return try peekByte() } }
        return chunk[pos]
    }

    private func fail(_ line: Int, _ column: Int, _ message: String) -> ExtractError {
        ExtractError(path: path, line: line, column: "#\(column)", message: message)
    }

    static func size(_ bytes: Int) -> String {
        bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : bytes >= 1 << 10 && bytes % (1 << 10) == 0 ? "\(bytes >> 10) KiB" : "\(bytes) bytes"
    }

    private func tooLong(_ startLine: Int) -> ExtractError {
        ExtractError(path: path, line: startLine, message: "the record starting on this line is longer than \(CSVReader.size(maxRecordBytes)), the most a record may have (no line end, an unclosed quote, or not a CSV file)")
    }

    /// The next record, or nil at the end of the input.
    public mutating func next() throws -> CSVRecord? {
        var fields: [String] = []
        var startLine = line
        var fieldLine = line
        var quoted = false
        var afterQuote = false
        field.removeAll(keepingCapacity: true)
        recordBytes = 0

        func finishField(_ r: inout CSVReader) throws {
            if r.field.contains(0) {
                throw r.fail(fieldLine, fields.count + 1, "NUL byte in field")
            }
            guard UTF8Check.isValid(r.field) else {
                throw r.fail(fieldLine, fields.count + 1, "invalid UTF-8")
            }
            fields.append(String(decoding: r.field, as: UTF8.self))
            r.recordBytes += r.field.count + 1
            r.field.removeAll(keepingCapacity: true)
        }

        while true {
            guard let b = try nextByte() else {
                // End of input.
                if quoted {
                    throw fail(fieldLine, fields.count + 1, "unterminated quoted field (it starts on line \(fieldLine))")
                }
                if fields.isEmpty && field.isEmpty && !afterQuote { return nil }
                try finishField(&self)
                return CSVRecord(fields: fields, line: startLine)
            }
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if try peekByte() == UInt8(ascii: "\"") {
                        _ = try nextByte()
                        field.append(b)
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                    if field.count &+ recordBytes > maxRecordBytes { throw tooLong(startLine) }
                }
                continue
            }
            switch b {
            case UInt8(ascii: ","):
                try finishField(&self)
                if recordBytes > maxRecordBytes { throw tooLong(startLine) }
                if fields.count >= maxFields {
                    throw ExtractError(path: path, line: startLine, message: "the record starting on this line has more than \(maxFields) fields (not an LMS extract file)")
                }
                afterQuote = false
                fieldLine = line
            case UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                if b == UInt8(ascii: "\r"), try peekByte() == UInt8(ascii: "\n") { _ = try nextByte() }
                line += 1
                if fields.isEmpty && field.isEmpty && !afterQuote {
                    // A blank line: skip it (in the loop, not by recursion: many blank lines must not
                    // exhaust the stack).
                    startLine = line
                    fieldLine = line
                    continue
                }
                try finishField(&self)
                return CSVRecord(fields: fields, line: startLine)
            case UInt8(ascii: "\""):
                if field.isEmpty && !afterQuote {
                    quoted = true
                    fieldLine = line
                } else {
                    throw fail(line, fields.count + 1, "quote inside an unquoted field (a field with quotes must be enclosed in quotes)")
                }
            default:
                if afterQuote {
                    throw fail(line, fields.count + 1, "text after the closing quote of a field")
                }
                field.append(b)
                if field.count &+ recordBytes > maxRecordBytes { throw tooLong(startLine) }
            }
        }
    }
}

/// Strict UTF-8 validation (no overlong forms, no surrogates, nothing above U+10FFFF), with a fast
/// path for ASCII. The standard library's `String(validating:)` is several times slower here.
enum UTF8Check {
    static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { b in
            let n = b.count
            var i = 0
            @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
                k < n && b[k] >= lo && b[k] <= hi
            }
            while i < n {
                let c = b[i]
                if c < 0x80 { i += 1; continue }
                switch c {
                case 0xC2...0xDF:
                    guard cont(i + 1) else { return false }
                    i += 2
                case 0xE0:
                    guard cont(i + 1, 0xA0), cont(i + 2) else { return false }
                    i += 3
                case 0xE1...0xEC, 0xEE, 0xEF:
                    guard cont(i + 1), cont(i + 2) else { return false }
                    i += 3
                case 0xED:
                    guard cont(i + 1, 0x80, 0x9F), cont(i + 2) else { return false }
                    i += 3
                case 0xF0:
                    guard cont(i + 1, 0x90), cont(i + 2), cont(i + 3) else { return false }
                    i += 4
                case 0xF1...0xF3:
                    guard cont(i + 1), cont(i + 2), cont(i + 3) else { return false }
                    i += 4
                case 0xF4:
                    guard cont(i + 1, 0x80, 0x8F), cont(i + 2), cont(i + 3) else { return false }
                    i += 4
                default:
                    return false
                }
            }
            return true
        }
    }
}
