import Foundation
import Glibc
import Testing
@testable import Extract

// Unit tests of the Extract defences the hostile-input corpus relies on (the end-to-end cases are in
// Tests/AgentTests/HostileInputTests.swift).

@Suite("Rows must belong to their folder's section or assignment")
struct FolderScopeTests {
    static let enrollments = ResourceSchema.of(.sectionAssociations)

    static func enrollmentText(_ sections: [String]) -> String {
        csvText(enrollments.columns.map(\.name), sections.enumerated().map { i, s in
            validRow(enrollments, overriding: ["SourceSystemIdentifier": "e\(i)", "LMSSectionSourceSystemIdentifier": s])
        })
    }

    @Test(arguments: [Resource.sectionAssociations, .assignments, .attendanceEvents, .sectionActivities])
    func sectionFolderRowsMustNameThatSection(_ resource: Resource) throws {
        let schema = resource.schema
        let folder = resource == .sectionAssociations ? "section-associations" : resource.rawValue
        let path = "section=S-1/\(folder)/2026-09-01-06-00-00.csv"
        let names = schema.columns.map(\.name)
        let ok = try readResource(resource, csvText(names, [validRow(schema, overriding: ["LMSSectionSourceSystemIdentifier": "S-1"])]), path: path)
        #expect(ok.rowCount == 1)

        let text = csvText(names, [validRow(schema, overriding: ["LMSSectionSourceSystemIdentifier": "S-1"]),
                                   validRow(schema, overriding: ["LMSSectionSourceSystemIdentifier": "s-1"])])
        let e = resourceError(resource, text, path: path)
        #expect(e?.path == path)
        #expect(e?.column == "LMSSectionSourceSystemIdentifier")
        #expect(e?.message == "the row names section 's-1', but the file is in the folder of section 'S-1': a file in a section= folder may only hold that section's rows")
    }

    @Test func assignmentFolderRowsMustNameThatAssignment() throws {
        let schema = ResourceSchema.of(.submissions)
        let path = "section=1/Assignment=A7/submissions/2026-09-01-06-00-00.csv"
        let names = schema.columns.map(\.name)
        #expect(try readResource(.submissions, csvText(names, [validRow(schema, overriding: ["AssignmentSourceSystemIdentifier": "A7"])]), path: path).rowCount == 1)
        let e = resourceError(.submissions, csvText(names, [validRow(schema, overriding: ["AssignmentSourceSystemIdentifier": "A7 "])]), path: path)
        #expect(e?.line == 2)
        #expect(e?.column == "AssignmentSourceSystemIdentifier")
        #expect(e?.message.hasPrefix("the row names assignment 'A7 ', but the file is in the folder of assignment 'A7'") == true)
    }

    @Test func anExplicitScopeOverridesThePath() throws {
        let text = Self.enrollmentText(["s2"])
        var reader = try ResourceFileReader(source: BytesSource(text), path: "anything.csv", schema: Self.enrollments, scope: Scope(sectionId: "s1"))
        #expect(throws: ExtractError.self) { _ = try reader.next() }
        var free = try ResourceFileReader(source: BytesSource(text), path: "anything.csv", schema: Self.enrollments)
        #expect(try free.next() != nil, "a path that names no folder checks nothing")
    }

    @Test func resourcesWithoutAFolderScopeAreNotChecked() {
        #expect(ResourceSchema.of(.users).folderScopeColumn == nil)
        #expect(ResourceSchema.of(.sections).folderScopeColumn == nil)
        #expect(ResourceSchema.of(.systemActivities).folderScopeColumn == nil)
        #expect(ResourceSchema.of(.submissions).folderScopeColumn?.column == "AssignmentSourceSystemIdentifier")
    }
}

@Suite("Bounded records and recognisable non-CSV files")
struct HostileBytesTests {
    @Test func aRecordOverTheLimitIsAnErrorNamingItsFirstLine() throws {
        var reader = CSVReader(source: ChunkedSource(Array("a,b\nok,1\n\"long\nfield,x".utf8) + [UInt8](repeating: 0x78, count: 100), size: 7), path: "t.csv")
        reader.maxRecordBytes = 64
        #expect(try reader.next()?.fields == ["a", "b"])
        #expect(try reader.next()?.fields == ["ok", "1"])
        #expect {
            _ = try reader.next()
        } throws: { error in
            let e = error as? ExtractError
            return e?.line == 3 && e?.message.hasPrefix("the record starting on this line is longer than 64 bytes") == true
        }
    }

    @Test func aRecordAtTheLimitIsFine() throws {
        var reader = CSVReader(source: BytesSource(String(repeating: "x", count: 30) + "," + String(repeating: "y", count: 33) + "\n"), path: "t.csv")
        reader.maxRecordBytes = 64
        #expect(try reader.next()?.fields.map(\.count) == [30, 33])
    }

    @Test func manyEmptyFieldsAreBoundedToo() {
        var reader = CSVReader(source: BytesSource(String(repeating: ",", count: 50) + "\n"), path: "t.csv")
        reader.maxFields = 20
        #expect(throws: ExtractError.self) { _ = try reader.next() }
    }

    @Test(arguments: [
        ([0xFF, 0xFE, 0x53, 0x00, 0x6F, 0x00, 0x2C, 0x00, 0x0A, 0x00], "the file is UTF-16 text"),
        ([0xFE, 0xFF, 0x00, 0x53, 0x00, 0x6F, 0x00, 0x2C, 0x00, 0x0A], "the file is UTF-16 text"),
        ([0x1F, 0x8B, 0x08, 0x00, 0x2C, 0x0A], "the file is gzip-compressed, not CSV text"),
        ([0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x2C, 0x0A], "the file is a ZIP archive (an Excel .xlsx workbook?), not CSV text"),
        ([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0x0A], "the file is an OLE document (an Excel .xls workbook?), not CSV text"),
        ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00], "the file is a PNG image, not CSV text"),
        (Array("SQLite format 3".utf8) + [0, 0x10, 0x00, 0x0A], "the file is an SQLite database, not CSV text"),
        ([0x00, 0x01, 0x02, 0x0A], "the header row is not CSV text (NUL byte in field): a binary file, or text in another encoding than UTF-8?"),
        (Array("Name,Gr".utf8) + [0xF6, 0xDF, 0x65, 0x0A], "the header row is not CSV text (invalid UTF-8)"),
    ] as [([UInt8], String)])
    func aFileThatIsNotCSVSaysWhatItIs(_ bytes: [UInt8], _ message: String) {
        let e = resourceErrorBytes(.users, bytes)
        #expect(e?.line == 1)
        #expect(e?.message.hasPrefix(message) == true, "\(String(describing: e))")
    }

    @Test func aHeaderLongerThan64KiBIsNotAHeader() {
        let e = resourceErrorBytes(.users, Array(String(repeating: "Name", count: 20_000).utf8))
        #expect(e?.line == 1)
        #expect(e?.message.contains("longer than 64 KiB") == true, "\(String(describing: e))")
    }

    @Test func aLongRowAfterTheHeaderMayUseTheFullLimit() throws {
        // The header's 64 KiB limit does not carry over to the rows.
        let schema = ResourceSchema.of(.assignments)
        let text = csvText(schema.columns.map(\.name), [validRow(schema, overriding: ["AssignmentDescription": String(repeating: "d", count: 200_000)])])
        #expect(try readResource(.assignments, text).rows.first?.values[schema.index(of: "AssignmentDescription")!]?.count == 1024)
    }

    @Test func invisibleCharactersInMessagesAreSpelledOut() {
        #expect(quotedForMessage("Name") == "'Name'")
        #expect(quotedForMessage("\u{FEFF}Name ") == "'\\u{FEFF}Name '")
        #expect(quotedForMessage("a\nb\tc\u{0}") == "'a\\u{A}b\\u{9}c\\u{0}'")
        #expect(quotedForMessage("no\u{A0}break") == "'no\\u{A0}break'")
        #expect(quotedForMessage("é😀") == "'é😀'")
        #expect(quotedForMessage(String(repeating: "x", count: 100), limit: 3) == "'xxx…'")
        let e = resourceError(.users, csvLine(usersHeader + ["", "Na\u{200B}me"]))
        #expect(e?.message.hasSuffix("unknown column(s) '', 'Na\\u{200B}me'") == true, "\(String(describing: e))")
    }

    @Test func aBadValueWithALineBreakStaysOnOneLine() {
        let e = resourceError(.users, csvText(usersHeader, [userRow(["CreateDate": "2020-01-01\n12:00"])]))
        #expect(e?.message == "not a date and time: '2020-01-01\\u{A}12:00'")
    }
}

/// Reading bytes as a resource file, expecting an error.
func resourceErrorBytes(_ resource: Resource, _ bytes: [UInt8]) -> ExtractError? {
    do {
        var reader = try ResourceFileReader(source: BytesSource(bytes), path: "x.csv", schema: resource.schema)
        while try reader.next() != nil {}
        Issue.record("expected an error")
        return nil
    } catch {
        return error as? ExtractError
    }
}

@Suite("FileChunkReader reads regular files only, never through a link")
struct FileChunkReaderSafetyTests {
    /// A directory with `inside/file.csv`, a file outside it, and links.
    final class Tree {
        let dir: String
        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("ExtractSafety-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir + "/root/inside", withIntermediateDirectories: true)
            try Data("a,b\n1,2\n".utf8).write(to: URL(fileURLWithPath: dir + "/root/inside/file.csv"))
            try Data("secret\n".utf8).write(to: URL(fileURLWithPath: dir + "/outside.csv"))
            try FileManager.default.createSymbolicLink(atPath: dir + "/root/inside/link.csv", withDestinationPath: dir + "/outside.csv")
            try FileManager.default.createSymbolicLink(atPath: dir + "/root/linkdir", withDestinationPath: dir + "/root/inside")
        }
        func remove() { try? FileManager.default.removeItem(atPath: dir) }
        var root: String { dir + "/root" }
    }

    static func read(_ r: FileChunkReader) throws -> String {
        var bytes: [UInt8] = []
        while try r.nextChunk({ bytes += $0 }) {}
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func aLinkIsRefused() throws {
        let t = try Tree()
        defer { t.remove() }
        #expect(try Self.read(FileChunkReader(path: t.root + "/inside/file.csv")) == "a,b\n1,2\n")
        #expect {
            _ = try FileChunkReader(path: t.root + "/inside/link.csv")
        } throws: { error in
            (error as? ExtractError)?.message == "cannot open: it is a symbolic link, and links are never followed"
        }
    }

    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let t = try Tree()
        defer { t.remove() }
        #expect(mkfifo(t.root + "/inside/fifo.csv", 0o644) == 0)
        // No writer ever opens it: a blocking open would hang this test.
        #expect {
            _ = try FileChunkReader(path: t.root + "/inside/fifo.csv")
        } throws: { error in
            (error as? ExtractError)?.message == "not a regular file (a FIFO): it is never read"
        }
        #expect(throws: ExtractError.self) { _ = try FileChunkReader(beneath: t.root, relativePath: "inside/fifo.csv") }
    }

    @Test func beneathTheRootNoComponentMayBeALink() throws {
        let t = try Tree()
        defer { t.remove() }
        let r = try FileChunkReader(beneath: t.root, relativePath: "inside/file.csv")
        #expect(r.path == "inside/file.csv")
        #expect(try Self.read(r) == "a,b\n1,2\n")
        // The same file through a linked folder: refused, where a plain open would follow the link.
        #expect(try Self.read(FileChunkReader(path: t.root + "/linkdir/file.csv")) == "a,b\n1,2\n")
        #expect {
            _ = try FileChunkReader(beneath: t.root, relativePath: "linkdir/file.csv")
        } throws: { error in
            let e = error as? ExtractError
            return e?.path == "linkdir/file.csv" && e?.message.contains("'linkdir' is not a directory (a symbolic link is never followed)") == true
        }
        for path in ["inside/link.csv", "../outside.csv", "inside/../../outside.csv", ""] {
            #expect(throws: ExtractError.self, "\(path)") { _ = try FileChunkReader(beneath: t.root, relativePath: path) }
        }
    }
}
