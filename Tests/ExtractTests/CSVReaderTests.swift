import Foundation
import Testing
@testable import Extract

// MARK: - Helpers shared by the Extract tests

/// A temporary file in its own directory. Remove it with `defer { file.remove() }`, which also keeps
/// it alive to the end of the scope (a `deinit` could run right after the last use of `path`).
final class TempFile {
    let path: String

    init(_ bytes: [UInt8], name: String = "file.csv") throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("ExtractTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    convenience init(_ text: String, name: String = "file.csv") throws {
        try self.init(Array(text.utf8), name: name)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }
}

/// Hands out its bytes `size` at a time, so that every construct can straddle a chunk boundary.
final class ChunkedSource: ByteChunkSource {
    private let bytes: [UInt8]
    private let size: Int
    private var offset = 0
    private(set) var chunksHandedOut = 0

    init(_ bytes: [UInt8], size: Int) {
        self.bytes = bytes
        self.size = size
    }

    func nextChunk(_ body: (UnsafeRawBufferPointer) -> Void) throws -> Bool {
        guard offset < bytes.count else { return false }
        let end = min(offset + size, bytes.count)
        bytes[offset..<end].withUnsafeBytes { body($0) }
        offset = end
        chunksHandedOut += 1
        return true
    }
}

/// The outcome of reading a whole input: the records, or the first error (with the records before it).
struct ReadOutcome: Equatable, CustomStringConvertible {
    var records: [CSVRecord]
    var error: ExtractError?

    var description: String {
        records.map { "\($0.line): \($0.fields)" }.joined(separator: "\n") + (error.map { "\nerror: \($0)" } ?? "")
    }
}

func readAll<S: ByteChunkSource>(_ source: S, path: String = "t.csv") -> ReadOutcome {
    var reader = CSVReader(source: source, path: path)
    var records: [CSVRecord] = []
    do {
        while let r = try reader.next() { records.append(r) }
        return ReadOutcome(records: records, error: nil)
    } catch let e as ExtractError {
        return ReadOutcome(records: records, error: e)
    } catch {
        Issue.record("unexpected error type: \(error)")
        return ReadOutcome(records: records, error: nil)
    }
}

func readAll(_ text: String) -> ReadOutcome { readAll(BytesSource(text)) }
func readAll(_ bytes: [UInt8]) -> ReadOutcome { readAll(BytesSource(bytes)) }

/// Fields of every record, for compact expectations.
func fields(_ text: String) -> [[String]] { readAll(text).records.map(\.fields) }

/// Reads `text` as records, requiring success.
func records(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> [CSVRecord] {
    let outcome = readAll(bytes)
    #expect(outcome.error == nil, "unexpected error: \(String(describing: outcome.error))", sourceLocation: sourceLocation)
    return outcome.records
}

func records(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [CSVRecord] {
    records(Array(text.utf8), sourceLocation: sourceLocation)
}

/// The error reading `bytes` must produce.
func csvError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> ExtractError? {
    let outcome = readAll(bytes)
    #expect(outcome.error != nil, "expected an error, got \(outcome.records)", sourceLocation: sourceLocation)
    return outcome.error
}

func csvError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ExtractError? {
    csvError(Array(text.utf8), sourceLocation: sourceLocation)
}

func rec(_ line: Int, _ fields: String...) -> CSVRecord { CSVRecord(fields: fields, line: line) }

/// SHA-256 of a file by the system's `sha256sum`, as an independent reference.
func sha256sum(_ path: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    p.arguments = [path]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    return String(text.prefix(while: { $0 != " " }))
}

let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

// MARK: - Records and fields

@Suite("CSVReader: records and fields")
struct CSVReaderFieldTests {
    @Test func plainRecordsWithLineNumbers() {
        #expect(records("a,b,c\n1,2,3\nx,y,z\n") == [rec(1, "a", "b", "c"), rec(2, "1", "2", "3"), rec(3, "x", "y", "z")])
    }

    @Test func emptyInputHasNoRecords() {
        #expect(records("") == [])
        #expect(records("\n") == [])
        #expect(records("\r\n\n\r\n") == [])
    }

    @Test func nextKeepsReturningNilAtTheEnd() throws {
        var reader = CSVReader(source: BytesSource("a\n"), path: "t.csv")
        #expect(try reader.next() == rec(1, "a"))
        #expect(try reader.next() == nil)
        #expect(try reader.next() == nil)
    }

    @Test func quotedFieldKeepsCommas() {
        #expect(fields("\"255901001_2019-2020_Fall,255901001_2019-2020_Spring\",x\n")
            == [["255901001_2019-2020_Fall,255901001_2019-2020_Spring", "x"]])
    }

    @Test func doubledQuotesAreOneQuote() {
        #expect(fields("\"he said \"\"hi\"\"\",b\n") == [["he said \"hi\"", "b"]])
        #expect(fields("\"\"\"\"\n") == [["\""]])
        #expect(fields("\"a\"\"\"\"b\"\n") == [["a\"\"b"]])
    }

    @Test func quotedEmptyFieldIsAnEmptyString() {
        #expect(fields("a,\"\",c\n") == [["a", "", "c"]])
        // A line holding only `""` is a record with one empty field, not a blank line.
        #expect(records("h\n\"\"\nz\n") == [rec(1, "h"), rec(2, ""), rec(3, "z")])
    }

    @Test func quotedFieldsMayBeFollowedByEndOfInput() {
        #expect(fields("a,\"b\"") == [["a", "b"]])
        #expect(fields("\"a\"") == [["a"]])
    }

    @Test func newlinesInsideQuotesAreKeptAndCountedAsPhysicalLines() {
        let text = "h1,h2\n\"line1\nline2\nline3\",b\nnext,row\n\"x\r\ny\",z\r\nlast,one\n"
        #expect(records(text) == [
            rec(1, "h1", "h2"),
            rec(2, "line1\nline2\nline3", "b"),
            rec(5, "next", "row"),
            rec(6, "x\r\ny", "z"),
            rec(8, "last", "one"),
        ])
    }

    @Test func quotedFieldOnALaterColumnSpanningLines() {
        #expect(records("a,b\n1,\"two\n\nlines\"\n3,4\n") == [rec(1, "a", "b"), rec(2, "1", "two\n\nlines"), rec(5, "3", "4")])
    }

    @Test func crlfLineEnds() {
        #expect(records("a,b\r\n1,2\r\n") == [rec(1, "a", "b"), rec(2, "1", "2")])
    }

    @Test func mixedLineEnds() {
        #expect(records("a,b\r\n1,2\n3,4\r\n5,6\n7,8") == [
            rec(1, "a", "b"), rec(2, "1", "2"), rec(3, "3", "4"), rec(4, "5", "6"), rec(5, "7", "8"),
        ])
    }

    @Test func loneCarriageReturnEndsARecord() {
        #expect(records("a,b\r1,2\r") == [rec(1, "a", "b"), rec(2, "1", "2")])
    }

    @Test func missingFinalNewline() {
        #expect(records("a,b\n1,2") == [rec(1, "a", "b"), rec(2, "1", "2")])
    }

    @Test func blankLinesAreSkippedButCounted() {
        #expect(records("\na,b\n\n1,2\n\r\n\n3,4\n\n\n") == [rec(2, "a", "b"), rec(4, "1", "2"), rec(7, "3", "4")])
    }

    @Test func manyBlankLinesDoNotExhaustTheStack() {
        // Many consecutive blank lines (a corrupt or padded file) must be skipped iteratively.
        let text = String(repeating: "\n", count: 300_000) + "a,b\n" + String(repeating: "\r\n", count: 300_000) + "c,d"
        #expect(records(text) == [rec(300_001, "a", "b"), rec(600_002, "c", "d")])
    }

    @Test func emptyFields() {
        #expect(fields("a,,b\n") == [["a", "", "b"]])
        #expect(fields(",,\n") == [["", "", ""]])
        #expect(fields(",\n") == [["", ""]])
    }

    @Test func trailingEmptyField() {
        #expect(fields("a,b,\n") == [["a", "b", ""]])
        #expect(fields("a,b,") == [["a", "b", ""]])
        #expect(fields("a,b,\r\nc,d,") == [["a", "b", ""], ["c", "d", ""]])
    }

    @Test func whitespaceIsNotTrimmed() {
        #expect(fields(" a , 2021-05-01 00:00:00\t,\n") == [[" a ", " 2021-05-01 00:00:00\t", ""]])
    }

    @Test func multiByteUTF8IsKept() {
        #expect(fields("Zoë,日本語,\"😀,x\"\n") == [["Zoë", "日本語", "😀,x"]])
    }

    @Test func fieldsLargerThanAnyChunk() {
        let big = String(repeating: "x", count: 600_000)
        #expect(fields("\(big),\"\(big)\"\n") == [[big, big]])
    }

    @Test func leadingBOMIsDropped() {
        #expect(records(bom + Array("a,b\n1,2\n".utf8)) == [rec(1, "a", "b"), rec(2, "1", "2")])
        #expect(records(bom + Array("\"a\",b\n".utf8)) == [rec(1, "a", "b")])
        #expect(records(bom) == [])
        #expect(records(bom + Array("\n".utf8)) == [])
    }

    @Test func onlyTheLeadingBOMIsDropped() {
        // A BOM elsewhere is data (it would make a header name unknown, which is then reported).
        #expect(records(Array("a\n".utf8) + bom + Array("b\n".utf8)) == [rec(1, "a"), rec(2, "\u{FEFF}b")])
        #expect(records(bom + bom + Array("a\n".utf8)) == [rec(1, "\u{FEFF}a")])
    }

    @Test func partialBOMIsData() {
        // EF BB followed by something else is not a BOM; as bytes it is not valid UTF-8 either.
        let e = csvError([0xEF, 0xBB, 0x61, 0x0A])
        #expect(e?.line == 1)
        #expect(e?.column == "#1")
    }
}

// MARK: - Errors

@Suite("CSVReader: errors")
struct CSVReaderErrorTests {
    @Test func unterminatedQuoteNamesTheLineWhereTheFieldStarted() {
        let e = csvError("a,b\n1,\"abc\nmore\nand more\n")
        #expect(e?.path == "t.csv")
        #expect(e?.line == 2)
        #expect(e?.column == "#2")
        #expect(e?.message.contains("unterminated") == true)
        #expect(e?.message.contains("line 2") == true)
    }

    @Test func unterminatedQuoteAfterAMultiLineRecord() {
        let e = csvError("a,b\n\"x\ny\",z\n\n\"open,2\n")
        #expect(e?.line == 5)
        #expect(e?.column == "#1")
    }

    @Test func quoteEscapedAtTheEndIsStillUnterminated() {
        // `""` at the end is an escaped quote, so the field never closes.
        let e = csvError("a,\"b\"\"")
        #expect(e?.line == 1)
        #expect(e?.column == "#2")
        #expect(e?.message.contains("unterminated") == true)
    }

    @Test func textAfterClosingQuote() {
        let e = csvError("h\n\"abc\"x,y\n")
        #expect(e?.line == 2)
        #expect(e?.column == "#1")
        #expect(e?.message.contains("after the closing quote") == true)

        let blank = csvError("a,\"b\" ,c\n")
        #expect(blank?.line == 1)
        #expect(blank?.column == "#2")

        let two = csvError("\"a\"\"b\"\"c\" \"d\"\n")
        #expect(two?.column == "#1")
    }

    @Test func textAfterClosingQuoteOfAMultiLineFieldNamesTheCurrentLine() {
        let e = csvError("h\n\"a\nb\"x\n")
        #expect(e?.line == 3)
    }

    @Test func quoteInsideAnUnquotedField() {
        let e = csvError("a,b\nab\"c,d\n")
        #expect(e?.line == 2)
        #expect(e?.column == "#1")
        #expect(e?.message.contains("quote inside an unquoted field") == true)

        let later = csvError("x,y,5\"\n")
        #expect(later?.column == "#3")
    }

    @Test func invalidUTF8NamesLineAndColumn() {
        let e = csvError(Array("a,b\n1,2\nok,".utf8) + [0x66, 0xFF, 0x6F] + Array("\n".utf8))
        #expect(e?.line == 3)
        #expect(e?.column == "#2")
        #expect(e?.message.contains("UTF-8") == true)
        #expect(e?.description == "t.csv:3: column '#2': invalid UTF-8")
    }

    @Test func invalidUTF8InAQuotedMultiLineFieldNamesItsFirstLine() {
        let e = csvError(Array("h,i\nx,\"a\nb".utf8) + [0xC3] + Array("\"\n".utf8))
        #expect(e?.line == 2)
        #expect(e?.column == "#2")
    }

    @Test func truncatedMultiByteSequenceAtEndOfInput() {
        let e = csvError(Array("a,b\nc,".utf8) + [0xE6, 0x97])
        #expect(e?.line == 2)
        #expect(e?.column == "#2")
    }

    @Test func overlongAndSurrogateEncodingsAreInvalid() {
        #expect(csvError([0xC0, 0xAF, 0x0A])?.column == "#1")          // overlong "/"
        #expect(csvError([0xED, 0xA0, 0x80, 0x0A])?.column == "#1")    // UTF-16 surrogate
    }

    @Test func nulByte() {
        let e = csvError(Array("a,b\nx,".utf8) + [0x79, 0x00, 0x7A] + Array("\n".utf8))
        #expect(e?.line == 2)
        #expect(e?.column == "#2")
        #expect(e?.message.contains("NUL") == true)

        let quoted = csvError(Array("\"a".utf8) + [0x00] + Array("\"\n".utf8))
        #expect(quoted?.message.contains("NUL") == true)
    }

    @Test func recordsBeforeAnErrorAreDelivered() {
        let outcome = readAll("a,b\n1,2\n3,\"4\n")
        #expect(outcome.records == [rec(1, "a", "b"), rec(2, "1", "2")])
        #expect(outcome.error?.line == 3)
    }
}

// MARK: - Chunk boundaries

@Suite("CSVReader: chunk boundaries")
struct CSVReaderChunkTests {
    /// Inputs that exercise every state of the reader, each with its expected outcome checked elsewhere.
    static let corpus: [[UInt8]] = [
        Array("a,b,c\n1,2,3\n".utf8),
        Array("a,b\r\n1,2\r\n3,4".utf8),
        Array("a,b\r\n1,2\n3,4\r\n5,6\n".utf8),
        Array("\"x,y\",\"he said \"\"hi\"\"\",\"\"\n\"multi\r\nline\nfield\",z\r\nlast,row".utf8),
        Array("\n\r\n\na,b\n\n\r\n1,2\n\n".utf8),
        Array("a,b,\n,,\n,\n\"\"\n".utf8),
        bom + Array("SourceSystemIdentifier,SourceSystem\r\n1,Canvas\r\n".utf8),
        bom + Array("\"q\"\n".utf8),
        bom,
        [0xEF, 0xBB],
        Array("Zoë,日本語,\"😀\r\n✓\"\n".utf8),
        Array("a,\"b\"\"".utf8),                                 // unterminated
        Array("h\n\"abc\"x,y\n".utf8),                           // text after quote
        Array("h\nab\"c,d\n".utf8),                              // quote in unquoted field
        Array("a,b\n1,2\nok,".utf8) + [0x66, 0xFF] + [0x0A],     // invalid UTF-8
        Array("a,b\nx,".utf8) + [0x00] + [0x0A],                 // NUL
        Array("a,\"b\"\r".utf8),
        Array("\"\"\"\"\r\n\"\"\r\n".utf8),
    ]

    static let chunkSizes = [1, 2, 3, 4, 5, 7, 13]

    @Test(arguments: corpus.indices)
    func inMemoryChunksGiveTheSameResult(index: Int) {
        let input = Self.corpus[index]
        let whole = readAll(input)
        for size in Self.chunkSizes {
            let chunked = readAll(ChunkedSource(input, size: size))
            #expect(chunked == whole, "chunk size \(size):\n\(chunked)\n--- whole:\n\(whole)")
        }
    }

    @Test(arguments: corpus.indices)
    func fileChunksGiveTheSameResult(index: Int) throws {
        let input = Self.corpus[index]
        let file = try TempFile(input)
        defer { file.remove() }
        let reference = readAll(try FileChunkReader(path: file.path, chunkSize: 1 << 20))
        #expect(reference == readAll(input))
        for size in [1, 2, 3, 7] {
            let got = readAll(try FileChunkReader(path: file.path, chunkSize: size))
            #expect(got == reference, "chunk size \(size):\n\(got)\n--- reference:\n\(reference)")
        }
    }

    @Test(arguments: [1, 2, 3])
    func bomSplitAcrossChunksIsStillDropped(size: Int) throws {
        let input = bom + Array("SourceSystemIdentifier,SourceSystem\n1,Canvas\n".utf8)
        let expected = [rec(1, "SourceSystemIdentifier", "SourceSystem"), rec(2, "1", "Canvas")]
        #expect(readAll(ChunkedSource(input, size: size)).records == expected)
        let file = try TempFile(input)
        defer { file.remove() }
        #expect(readAll(try FileChunkReader(path: file.path, chunkSize: size)).records == expected)
    }

    @Test func bomFollowedByEmptyChunksIsStillDropped() {
        // A source may hand out empty chunks; the BOM check must not be spent on them.
        final class Gappy: ByteChunkSource {
            var chunks: [[UInt8]] = [[], [0xEF], [], [0xBB, 0xBF, 0x61], [0x0A]]
            func nextChunk(_ body: (UnsafeRawBufferPointer) -> Void) throws -> Bool {
                guard !chunks.isEmpty else { return false }
                chunks.removeFirst().withUnsafeBytes { body($0) }
                return true
            }
        }
        #expect(readAll(Gappy()) == ReadOutcome(records: [rec(1, "a")], error: nil))
    }

    @Test func crlfSplitAcrossChunksIsOneLineEnd() {
        // With chunk size 2, "a\r" and "\nb" land in different chunks.
        #expect(readAll(ChunkedSource(Array("a\r\nb\r\n".utf8), size: 2)).records == [rec(1, "a"), rec(2, "b")])
    }

    @Test func largeGeneratedFileAtManyChunkSizes() throws {
        var text = "\u{FEFF}id,text,n\r\n"
        for i in 0..<500 {
            switch i % 5 {
            case 0: text += "\(i),\"comma, inside\",\(i)\r\n"
            case 1: text += "\(i),\"quote \"\" and\r\nnewline\",\(i)\n"
            case 2: text += "\(i),plain é,\n"
            case 3: text += "\n\(i),,\(i)\r\n"
            default: text += "\(i),\"\",\"\(i)\"\n"
            }
        }
        let file = try TempFile(text)
        defer { file.remove() }
        let reference = readAll(try FileChunkReader(path: file.path))
        #expect(reference.error == nil)
        #expect(reference.records.count == 501)
        #expect(reference.records.first?.fields == ["id", "text", "n"])
        for size in [1, 2, 3, 7, 64, 4093] {
            #expect(readAll(try FileChunkReader(path: file.path, chunkSize: size)) == reference, "chunk size \(size)")
        }
    }
}

// MARK: - FileChunkReader and SHA-256

@Suite("FileChunkReader and checksums")
struct FileChunkReaderTests {
    @Test func checksumOfABC() throws {
        let file = try TempFile("abc")
        defer { file.remove() }
        let reader = try FileChunkReader(path: file.path, chunkSize: 2)
        var bytes: [UInt8] = []
        while try reader.nextChunk({ bytes += Array($0) }) {}
        #expect(bytes == Array("abc".utf8))
        #expect(reader.bytesRead == 3)
        #expect(reader.finalizeChecksum() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func checksumOfAnEmptyFile() throws {
        let file = try TempFile([UInt8]())
        defer { file.remove() }
        let reader = try FileChunkReader(path: file.path)
        #expect(try reader.nextChunk { _ in Issue.record("no chunk expected") } == false)
        #expect(reader.bytesRead == 0)
        #expect(reader.finalizeChecksum() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test(arguments: [1, 3, 7, 4096, 256 * 1024])
    func checksumAfterCSVReadingMatchesSha256sum(chunkSize: Int) throws {
        // The checksum covers exactly the bytes parsed, BOM and CRLF included.
        var bytes = bom + Array("SourceSystemIdentifier,Name\r\n".utf8)
        for i in 0..<3000 { bytes += Array("\(i),\"name \(i), \"\"q\"\"\"\r\n".utf8) }
        let file = try TempFile(bytes)
        defer { file.remove() }
        let source = try FileChunkReader(path: file.path, chunkSize: chunkSize)
        var reader = CSVReader(source: source, path: file.path)
        var count = 0
        while try reader.next() != nil { count += 1 }
        #expect(count == 3001)
        #expect(source.bytesRead == bytes.count)
        let expected = try sha256sum(file.path)
        #expect(expected.count == 64)
        #expect(source.finalizeChecksum() == expected)
    }

    @Test func checksumOfAFileWithoutFinalNewline() throws {
        let file = try TempFile("a,b\n1,2")
        defer { file.remove() }
        let source = try FileChunkReader(path: file.path, chunkSize: 3)
        var reader = CSVReader(source: source, path: file.path)
        while try reader.next() != nil {}
        #expect(source.finalizeChecksum() == (try sha256sum(file.path)))
    }

    @Test func sha256HexHelper() {
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let h = SHA256()
        h.update(Array("a".utf8))
        h.update([UInt8]())
        h.update(Array("bc".utf8))
        #expect(h.finalize() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func missingFileIsAnExtractError() {
        let path = "/nonexistent-\(UUID().uuidString)/x.csv"
        #expect {
            _ = try FileChunkReader(path: path)
        } throws: { error in
            guard let e = error as? ExtractError else { return false }
            return e.path == path && e.line == nil && e.message.hasPrefix("cannot open")
        }
    }

    @Test func readingADirectoryIsAnExtractError() throws {
        let file = try TempFile("x")
        defer { file.remove() }
        let dir = (file.path as NSString).deletingLastPathComponent
        // Refused when opened (only regular files are read), naming what it is.
        #expect {
            _ = try FileChunkReader(path: dir)
        } throws: { error in
            (error as? ExtractError)?.message == "not a regular file (a directory): it is never read"
        }
    }
}
