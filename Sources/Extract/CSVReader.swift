import Glibc

/// A source of bytes, read in chunks, so that no file is ever held whole in memory.
public protocol ByteChunkSource: AnyObject {
    /// Calls `body` with the next chunk; returns false at the end.
    func nextChunk(_ body: (UnsafeRawBufferPointer) -> Void) throws -> Bool
}

/// Reads a file with read(2) in 256 KiB chunks and hashes exactly the bytes it hands out.
public final class FileChunkReader: ByteChunkSource {
    private let fd: Int32
    private var buffer: [UInt8]
    private let hasher = SHA256()
    public private(set) var bytesRead = 0
    public let path: String

    public init(path: String, chunkSize: Int = 256 * 1024) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ExtractError(path: path, message: "cannot open: \(String(cString: strerror(errno)))", isUnreadable: true)
        }
        buffer = [UInt8](repeating: 0, count: chunkSize)
    }

    deinit { close(fd) }

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
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { self.bytes = Array(text.utf8) }
    public func nextChunk(_ body: (UnsafeRawBufferPointer) -> Void) throws -> Bool {
        guard let b = bytes else { return false }
        bytes = nil
        b.withUnsafeBytes { body($0) }
        return true
    }
}

/// One CSV record: its fields and the physical line it starts on.
public struct CSVRecord: Sendable, Equatable {
    public var fields: [String]
    public var line: Int
}

/// A streaming RFC 4180 reader over bytes: quoted fields, doubled quotes, CR/LF inside quotes,
/// CRLF or LF line ends, a leading UTF-8 BOM, blank lines skipped. It rejects invalid UTF-8,
/// NUL bytes, an unterminated quote and text after a closing quote, naming line and column.
///
/// Memory is one chunk plus the current record, whatever the file size.
public struct CSVReader {
    public let source: any ByteChunkSource
    private let path: String
    private var chunk: [UInt8] = []
    private var pos = 0
    private var atEnd = false
    private var atStart = true
    /// The physical line the reader is on (1-based).
    private var line = 1
    private var field: [UInt8] = []

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

    /// The next record, or nil at the end of the input.
    public mutating func next() throws -> CSVRecord? {
        var fields: [String] = []
        var startLine = line
        var fieldLine = line
        var quoted = false
        var afterQuote = false
        field.removeAll(keepingCapacity: true)

        func finishField(_ r: inout CSVReader) throws {
            if r.field.contains(0) {
                throw r.fail(fieldLine, fields.count + 1, "NUL byte in field")
            }
            guard UTF8Check.isValid(r.field) else {
                throw r.fail(fieldLine, fields.count + 1, "invalid UTF-8")
            }
            fields.append(String(decoding: r.field, as: UTF8.self))
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
                }
                continue
            }
            switch b {
            case UInt8(ascii: ","):
                try finishField(&self)
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
