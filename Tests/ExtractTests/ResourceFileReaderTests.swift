import Foundation
import Testing
@testable import Extract

// MARK: - Helpers

/// A valid raw value for a column and the value the reader must store for it.
func sampleValue(_ column: Column) -> (raw: String, stored: String) {
    switch column.type {
    case .text: return ("\(column.name), \"v\"", "\(column.name), \"v\"")
    case .truncatedText: return ("line one\nline two", "line one\nline two")
    case .dateTime: return ("2021-01-02T03:04:05+01:00", "2021-01-02 02:04:05")
    case .wallClockDateTime: return ("2021-01-02T03:04:05+01:00", "2021-01-02 03:04:05")
    case .date: return ("2020-08-28 00:01:03", "2020-08-28")
    case .integer: return ("10.0", "10")
    case .submissionTypes: return ("['online_text_entry', 'online_upload']", "['online_text_entry', 'online_upload']")
    }
}

/// RFC 4180 quoting, when needed.
func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
        ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

func csvLine(_ fields: [String]) -> String { fields.map(csvField).joined(separator: ",") + "\n" }

/// A header and rows built from column names and, per row, a value per name.
func csvText(_ names: [String], _ rows: [[String: String]]) -> String {
    csvLine(names) + rows.map { row in csvLine(names.map { row[$0] ?? "" }) }.joined()
}

/// A complete valid row for a schema: raw value per column name.
func validRow(_ schema: ResourceSchema, overriding: [String: String] = [:]) -> [String: String] {
    var row: [String: String] = [:]
    for c in schema.columns { row[c.name] = sampleValue(c).raw }
    for (k, v) in overriding { row[k] = v }
    return row
}

struct ReadResult {
    var present: [Bool]
    var rows: [ResourceRow]
    var rowCount: Int
}

func readResource<S: ByteChunkSource>(_ source: S, _ resource: Resource, path: String) throws -> ReadResult {
    var reader = try ResourceFileReader(source: source, path: path, schema: ResourceSchema.of(resource))
    var rows: [ResourceRow] = []
    while let r = try reader.next() { rows.append(r) }
    return ReadResult(present: reader.present, rows: rows, rowCount: reader.rowCount)
}

func readResource(_ resource: Resource, _ text: String, path: String = "x.csv") throws -> ReadResult {
    try readResource(BytesSource(text), resource, path: path)
}

/// The ExtractError reading `text` must throw (in the header or any row).
func resourceError(_ resource: Resource, _ text: String, path: String = "x.csv",
                   sourceLocation: SourceLocation = #_sourceLocation) -> ExtractError? {
    do {
        let r = try readResource(resource, text, path: path)
        Issue.record("expected an error, got \(r.rows.count) rows", sourceLocation: sourceLocation)
        return nil
    } catch let e as ExtractError {
        return e
    } catch {
        Issue.record("unexpected error type \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

let users = ResourceSchema.of(.users)
let usersHeader = users.columns.map(\.name)

func userRow(_ overriding: [String: String] = [:]) -> [String: String] {
    validRow(users, overriding: [
        "SourceSystemIdentifier": "u1", "SourceSystem": "Canvas", "UserRole": "student", "Name": "Ann",
        "EmailAddress": "ann@example.org", "LocalUserIdentifier": "L1", "SISUserIdentifier": "S1",
        "CreateDate": "2020-08-20 12:34:56", "LastModifiedDate": "9/3/2020 1:02",
        "SourceCreateDate": "", "SourceLastModifiedDate": "2020-08-20T12:34:56Z",
    ].merging(overriding) { $1 })
}

let allColumns: [(Resource, String)] = Resource.allCases.flatMap { r in r.schema.columns.map { (r, $0.name) } }

// MARK: - Good files

@Suite("ResourceFileReader: good files")
struct ResourceFileReaderGoodTests {
    @Test(arguments: Resource.allCases)
    func schemaOrderGivesValuesInSchemaOrder(resource: Resource) throws {
        let schema = resource.schema
        let names = schema.columns.map(\.name)
        let text = csvText(names, [validRow(schema), validRow(schema)])
        let result = try readResource(resource, text)
        #expect(result.present == Array(repeating: true, count: names.count))
        #expect(result.rowCount == 2)
        // The truncated-text sample spans two physical lines, so the second row starts later when present.
        let extraLines = schema.columns.contains { $0.type == .truncatedText(maxLength: 1024) } ? 1 : 0
        #expect(result.rows.map(\.line) == [2, 3 + extraLines])
        let expected: [String?] = schema.columns.map { sampleValue($0).stored }
        for row in result.rows { #expect(row.values == expected) }
    }

    @Test(arguments: Resource.allCases)
    func anyColumnOrderGivesValuesInSchemaOrder(resource: Resource) throws {
        let schema = resource.schema
        var names = schema.columns.map(\.name)
        names.reverse()
        names.swapAt(0, names.count / 2)
        let text = csvText(names, [validRow(schema)])
        let result = try readResource(resource, text)
        #expect(result.rows.count == 1)
        #expect(result.rows.first?.values == schema.columns.map { sampleValue($0).stored })
    }

    @Test(arguments: Resource.allCases)
    func optionalColumnsMayBeAbsent(resource: Resource) throws {
        let schema = resource.schema
        let names = schema.columns.filter(\.isRequired).map(\.name)
        let result = try readResource(resource, csvText(names, [validRow(schema)]))
        #expect(result.present == schema.columns.map(\.isRequired))
        let expected: [String?] = schema.columns.map { $0.isRequired ? sampleValue($0).stored : nil }
        #expect(result.rows.first?.values == expected)
    }

    @Test func usersFileValuesAndPresentFlags() throws {
        let names = ["SourceSystemIdentifier", "SourceSystem", "UserRole", "Name", "EmailAddress",
                     "CreateDate", "LastModifiedDate", "SourceCreateDate", "SourceLastModifiedDate"]
        let text = "\u{FEFF}" + csvText(names, [userRow(), userRow(["SourceSystemIdentifier": "u2", "Name": "Zoë, \"Z\""])])
        let result = try readResource(.users, text)
        #expect(result.present == [true, true, true, false, false, true, true, true, true, true, true])
        #expect(result.rows.map(\.values) == [
            ["u1", "Canvas", "student", nil, nil, "Ann", "ann@example.org",
             "2020-08-20 12:34:56", "2020-09-03 01:02:00", nil, "2020-08-20 12:34:56"],
            ["u2", "Canvas", "student", nil, nil, "Zoë, \"Z\"", "ann@example.org",
             "2020-08-20 12:34:56", "2020-09-03 01:02:00", nil, "2020-08-20 12:34:56"],
        ])
    }

    @Test func textIsKeptExactly() throws {
        // Only an empty field is NULL: NULL-looking tokens, blanks and numeric-looking text stay as written.
        let result = try readResource(.users, csvText(usersHeader, [
            userRow(["SourceSystemIdentifier": "007", "Name": "NA", "LocalUserIdentifier": " x ", "SISUserIdentifier": "null"]),
        ]))
        let v = result.rows.first?.values
        #expect(v?[0] == "007")
        #expect(v?[5] == "NA")
        #expect(v?[3] == " x ")
        #expect(v?[4] == "null")
    }

    @Test func emptyOptionalValuesAreNull() throws {
        let result = try readResource(.users, csvText(usersHeader, [
            userRow(["LocalUserIdentifier": "", "SISUserIdentifier": "", "SourceCreateDate": "", "SourceLastModifiedDate": ""]),
        ]))
        let v = try #require(result.rows.first?.values)
        #expect(v[3] == nil && v[4] == nil && v[9] == nil && v[10] == nil)
        #expect(result.present.allSatisfy { $0 })
    }

    @Test func datesAreCanonicalizedPerColumnType() throws {
        let schema = ResourceSchema.of(.assignments)
        let text = csvText(schema.columns.map(\.name), [validRow(schema, overriding: [
            "StartDateTime": "2021-01-01T10:00:00+02:00",   // unparsed upstream: wall clock kept
            "DueDateTime": "9/3/2020 1:02",
            "EndDateTime": "",
            "CreateDate": "2021-01-01T10:00:00+02:00",      // parsed upstream: converted to UTC
            "LastModifiedDate": " 2021-05-01 00:00:00",
        ])])
        let v = try #require(try readResource(.assignments, text).rows.first?.values)
        func value(_ name: String) -> String? { v[schema.index(of: name)!] }
        #expect(value("StartDateTime") == "2021-01-01 10:00:00")
        #expect(value("DueDateTime") == "2020-09-03 01:02:00")
        #expect(value("EndDateTime") == nil)
        #expect(value("CreateDate") == "2021-01-01 08:00:00")
        #expect(value("LastModifiedDate") == "2021-05-01 00:00:00")
    }

    @Test func eventDateKeepsOnlyTheDate() throws {
        let schema = ResourceSchema.of(.attendanceEvents)
        let text = csvText(schema.columns.map(\.name), [validRow(schema, overriding: ["EventDate": "2020-08-28 00:01:03"])])
        let v = try #require(try readResource(.attendanceEvents, text).rows.first?.values)
        #expect(v[schema.index(of: "EventDate")!] == "2020-08-28")
    }

    @Test func integersAreCanonicalized() throws {
        let schema = ResourceSchema.of(.submissions)
        let text = csvText(schema.columns.map(\.name), [
            validRow(schema, overriding: ["EarnedPoints": "8.0"]),
            validRow(schema, overriding: ["EarnedPoints": ""]),
            validRow(schema, overriding: ["EarnedPoints": "-2"]),
        ])
        let rows = try readResource(.submissions, text).rows
        let i = schema.index(of: "EarnedPoints")!
        #expect(rows.map { $0.values[i] } == ["8", nil, "-2"])
    }

    @Test func headerOnlyFileHasNoRowsAndNoError() throws {
        for header in [csvLine(usersHeader), "\u{FEFF}" + csvLine(usersHeader), csvLine(usersHeader) + "\n\n",
                       usersHeader.joined(separator: ","), csvLine(usersHeader).replacingOccurrences(of: "\n", with: "\r\n")] {
            let result = try readResource(.users, header)
            #expect(result.rows.isEmpty)
            #expect(result.rowCount == 0)
            #expect(result.present.allSatisfy { $0 })
        }
    }

    @Test func rowsAfterBlankLinesKeepTheirPhysicalLine() throws {
        let text = csvLine(usersHeader) + "\n" + csvLine(usersHeader.map { userRow()[$0]! }) + "\r\n\n"
            + csvLine(usersHeader.map { userRow(["SourceSystemIdentifier": "u2"])[$0]! })
        let rows = try readResource(.users, text).rows
        #expect(rows.map(\.line) == [3, 6])
        #expect(rows.map { $0.values[0] } == ["u1", "u2"])
    }

    @Test func readingAFileInTinyChunksGivesTheSameRowsAndTheFileChecksum() throws {
        let schema = ResourceSchema.of(.sections)
        var rows: [[String: String]] = []
        for i in 0..<200 {
            rows.append(validRow(schema, overriding: ["SourceSystemIdentifier": "s\(i)", "Term": "T\(i % 3)",
                                                      "SectionDescription": i % 2 == 0 ? "a \"quoted\"\r\ndescription, \(i)" : ""]))
        }
        let text = "\u{FEFF}" + csvText(schema.columns.map(\.name), rows).replacingOccurrences(of: "\n", with: "\r\n")
        let file = try TempFile(text)
        defer { file.remove() }
        let big = try readResource(try FileChunkReader(path: file.path), .sections, path: file.path)
        #expect(big.rows.count == 200)
        #expect(big.rows.first?.values[0] == "s0")
        for size in [1, 2, 3, 7] {
            let source = try FileChunkReader(path: file.path, chunkSize: size)
            let small = try readResource(source, .sections, path: file.path)
            #expect(small.rows == big.rows, "chunk size \(size)")
            #expect(small.present == big.present)
            #expect(source.finalizeChecksum() == (try sha256sum(file.path)))
        }
    }
}

// MARK: - Header problems

@Suite("ResourceFileReader: header problems")
struct ResourceFileReaderHeaderTests {
    static let requiredColumns: [(Resource, String)] = allColumns.filter { r, name in r.schema.column(named: name)!.isRequired }

    @Test(arguments: requiredColumns)
    func missingRequiredColumnIsNamed(resource: Resource, column: String) {
        let schema = resource.schema
        let names = schema.columns.map(\.name).filter { $0 != column }
        let e = resourceError(resource, csvText(names, [validRow(schema)]), path: "p/x.csv")
        #expect(e?.path == "p/x.csv")
        #expect(e?.line == 1)
        #expect(e?.column == nil)
        #expect(e?.message.contains("missing required column(s) \(column)") == true, "\(String(describing: e))")
        #expect(e?.message.contains(resource.rawValue) == true)
        #expect(e?.message.contains("unknown") == false)
    }

    @Test func headerRequiredColumnsFollowTheSpec() {
        // Spec 7: the four audit dates are required in every file, plus the per-resource parsed dates.
        for r in Resource.allCases {
            for name in ["SourceSystemIdentifier", "SourceSystem", "CreateDate", "LastModifiedDate",
                         "SourceCreateDate", "SourceLastModifiedDate"] {
                #expect(r.schema.column(named: name)?.headerRequired == true, "\(r) \(name)")
            }
        }
        #expect(ResourceSchema.of(.assignments).column(named: "SubmissionType")?.headerRequired == true)
        #expect(ResourceSchema.of(.submissions).column(named: "SubmissionDateTime")?.headerRequired == true)
        #expect(ResourceSchema.of(.attendanceEvents).column(named: "EventDate")?.headerRequired == true)
        #expect(ResourceSchema.of(.sectionActivities).column(named: "ActivityDateTime")?.headerRequired == true)
        #expect(ResourceSchema.of(.systemActivities).column(named: "ActivityDateTime")?.headerRequired == true)
        #expect(ResourceSchema.of(.users).column(named: "LocalUserIdentifier")?.isRequired == false)
    }

    @Test func severalMissingColumnsAreAllNamed() {
        let names = usersHeader.filter { $0 != "CreateDate" && $0 != "Name" }
        let e = resourceError(.users, csvLine(names))
        #expect(e?.message.contains("Name") == true)
        #expect(e?.message.contains("CreateDate") == true)
    }

    @Test func unknownColumnIsNamed() {
        let e = resourceError(.users, csvText(usersHeader + ["FavoriteColor"], [userRow(["FavoriteColor": "blue"])]))
        #expect(e?.line == 1)
        #expect(e?.message.contains("unknown column(s) FavoriteColor") == true, "\(String(describing: e))")
        #expect(e?.message.contains("missing") == false)
    }

    @Test func removedStartDateOfSectionAssociationsIsUnknown() {
        // Loader 1.0 removed StartDate/EndDate; a file that still has them fails (spec 7.3).
        let schema = ResourceSchema.of(.sectionAssociations)
        let e = resourceError(.sectionAssociations, csvLine(schema.columns.map(\.name) + ["StartDate"]))
        #expect(e?.message.contains("StartDate") == true)
    }

    @Test func columnNamesAreCaseSensitive() {
        let names = usersHeader.map { $0 == "Name" ? "name" : $0 }
        let e = resourceError(.users, csvLine(names))
        #expect(e?.message.contains("missing required column(s) Name") == true)
        #expect(e?.message.contains("unknown column(s) name") == true)
    }

    @Test func columnNamesAreNotTrimmed() {
        let names = usersHeader.map { $0 == "Name" ? " Name" : $0 }
        let e = resourceError(.users, csvLine(names))
        #expect(e?.message.contains("unknown column(s) ' Name'") == true, "\(String(describing: e))")
    }

    @Test func missingAndUnknownAreBothReported() {
        let names = usersHeader.filter { $0 != "EmailAddress" } + ["Email"]
        let e = resourceError(.users, csvLine(names))
        #expect(e?.message.contains("missing required column(s) EmailAddress") == true)
        #expect(e?.message.contains("unknown column(s) Email") == true)
    }

    @Test func duplicateHeaderColumn() {
        let e = resourceError(.users, csvLine(usersHeader + ["Name"]))
        #expect(e?.line == 1)
        #expect(e?.column == "Name")
        #expect(e?.message.contains("twice") == true)
    }

    @Test func duplicateOptionalHeaderColumn() {
        let e = resourceError(.users, csvLine(["LocalUserIdentifier"] + usersHeader))
        #expect(e?.column == "LocalUserIdentifier")
    }

    @Test func completelyEmptyFileIsAnError() {
        for text in ["", "\n", "\r\n\n", "\u{FEFF}"] {
            let e = resourceError(.users, text, path: "users/2021.csv")
            #expect(e?.path == "users/2021.csv")
            #expect(e?.line == 1)
            #expect(e?.message.contains("empty file") == true)
        }
    }

    @Test func headerOnABlankLinePaddedFileNamesItsLine() {
        let e = resourceError(.users, "\n\n" + csvLine(["Bogus"]))
        #expect(e?.line == 3)
    }
}

// MARK: - Row problems

@Suite("ResourceFileReader: row problems")
struct ResourceFileReaderRowTests {
    @Test func tooFewFields() {
        let text = csvText(usersHeader, [userRow()]) + "u2,Canvas,student\n"
        let e = resourceError(.users, text)
        #expect(e?.line == 3)
        #expect(e?.message.contains("expected 11 fields") == true)
        #expect(e?.message.contains("found 3") == true)
    }

    @Test func tooManyFields() {
        let text = csvText(usersHeader, [userRow()]).dropLast() + ",extra\n"
        let e = resourceError(.users, String(text))
        #expect(e?.line == 2)
        #expect(e?.message.contains("found 12") == true)
    }

    @Test func raggedRowAfterAMultiLineFieldNamesItsFirstLine() {
        let text = csvText(usersHeader, [userRow(["Name": "two\nlines"])]) + "\"three\n\nlines\",x\n"
        let e = resourceError(.users, text)
        #expect(e?.line == 4)
    }

    @Test func rowsBeforeTheBadOneAreDelivered() throws {
        let text = csvText(usersHeader, [userRow(), userRow(["SourceSystemIdentifier": "u2"])]) + "short\n"
        var reader = try ResourceFileReader(source: BytesSource(text), path: "x.csv", schema: users)
        #expect(try reader.next()?.values[0] == "u1")
        #expect(try reader.next()?.values[0] == "u2")
        #expect(reader.rowCount == 2)
        #expect(throws: ExtractError.self) { _ = try reader.next() }
    }

    static let notNullColumns: [(Resource, String)] = allColumns.filter { r, name in r.schema.column(named: name)!.valueRequired }

    @Test(arguments: notNullColumns)
    func emptyValueInANotNullColumn(resource: Resource, column: String) {
        let schema = resource.schema
        let text = csvText(schema.columns.map(\.name), [validRow(schema), validRow(schema, overriding: [column: ""])])
        let e = resourceError(resource, text, path: "f.csv")
        let extraLines = schema.columns.contains { $0.type == .truncatedText(maxLength: 1024) } ? 1 : 0
        #expect(e?.line == 3 + extraLines)
        #expect(e?.column == column)
        #expect(e?.message == "a value is required")
    }

    @Test func notNullColumnsFollowTheSpec() {
        // Spec 7: the columns a row must fill.
        let expected: [Resource: Set<String>] = [
            .users: ["SourceSystemIdentifier", "SourceSystem", "UserRole", "Name", "EmailAddress", "CreateDate", "LastModifiedDate"],
            .sections: ["SourceSystemIdentifier", "SourceSystem", "Title", "CreateDate", "LastModifiedDate"],
            .sectionAssociations: ["SourceSystemIdentifier", "SourceSystem", "EnrollmentStatus", "LMSUserSourceSystemIdentifier",
                                   "LMSSectionSourceSystemIdentifier", "CreateDate", "LastModifiedDate"],
            .assignments: ["SourceSystemIdentifier", "SourceSystem", "Title", "AssignmentCategory",
                           "LMSSectionSourceSystemIdentifier", "CreateDate", "LastModifiedDate"],
            .submissions: ["SourceSystemIdentifier", "SourceSystem", "AssignmentSourceSystemIdentifier",
                           "LMSUserSourceSystemIdentifier", "CreateDate", "LastModifiedDate"],
            .sectionActivities: ["SourceSystemIdentifier", "SourceSystem", "ActivityType", "ActivityDateTime", "ActivityStatus",
                                 "LMSSectionSourceSystemIdentifier", "LMSUserSourceSystemIdentifier", "CreateDate", "LastModifiedDate"],
            .systemActivities: ["SourceSystemIdentifier", "SourceSystem", "ActivityType", "ActivityDateTime", "ActivityStatus",
                                "LMSUserSourceSystemIdentifier", "CreateDate", "LastModifiedDate"],
        ]
        for (r, names) in expected {
            #expect(Set(r.schema.columns.filter(\.valueRequired).map(\.name)) == names, "\(r)")
        }
    }

    @Test func badDateNamesFileLineAndColumn() {
        let schema = ResourceSchema.of(.assignments)
        let inSection1 = ["LMSSectionSourceSystemIdentifier": "1"]
        let text = csvText(schema.columns.map(\.name), [validRow(schema, overriding: inSection1),
                                                          validRow(schema, overriding: inSection1.merging(["CreateDate": "2021-02-30"]) { $1 })])
        let e = resourceError(.assignments, text, path: "section=1/assignments/2021.csv")
        #expect(e?.path == "section=1/assignments/2021.csv")
        #expect(e?.line == 4)   // the valid row's description spans lines 2-3
        #expect(e?.column == "CreateDate")
        #expect(e?.description == "section=1/assignments/2021.csv:4: column 'CreateDate': not a date and time: '2021-02-30'")
    }

    @Test(arguments: [
        (Resource.users, "LastModifiedDate", "abc"),
        (.users, "SourceCreateDate", "2021-13-01"),
        (.submissions, "SubmissionDateTime", "2021-01-01 25:00"),
        (.assignments, "DueDateTime", "tomorrow"),
        (.sectionActivities, "ActivityDateTime", "2021-01-01 10:00:00 junk"),
        (.attendanceEvents, "EventDate", "2020-02-30"),
    ])
    func badDatesAreRejected(resource: Resource, column: String, value: String) {
        let schema = resource.schema
        let e = resourceError(resource, csvText(schema.columns.map(\.name), [validRow(schema, overriding: [column: value])]))
        #expect(e?.column == column)
        #expect(e?.message.hasPrefix("not a date") == true)
        #expect(e?.message.hasSuffix("'\(value)'") == true)
    }

    @Test func badIntegerNamesFileLineAndColumn() {
        let schema = ResourceSchema.of(.assignments)
        let text = csvText(schema.columns.map(\.name), [validRow(schema, overriding: ["MaxPoints": "1O", "AssignmentDescription": ""])])
        let e = resourceError(.assignments, text, path: "section=1/assignments/2021.csv")
        #expect(e?.description == "section=1/assignments/2021.csv:2: column 'MaxPoints': not a whole number in the 32-bit range: '1O'")
    }

    @Test(arguments: [
        (Resource.submissions, "EarnedPoints", "8.5"),
        (.submissions, "EarnedPoints", "1e3"),
        (.sectionActivities, "ActivityTimeInMinutes", "3000000000"),
        (.systemActivities, "ActivityTimeInMinutes", "ten"),
        (.assignments, "MaxPoints", "10.5"),
    ])
    func badIntegersAreRejected(resource: Resource, column: String, value: String) {
        let schema = resource.schema
        let e = resourceError(resource, csvText(schema.columns.map(\.name), [validRow(schema, overriding: [column: value])]))
        #expect(e?.column == column)
        #expect(e?.message.hasPrefix("not a whole number") == true)
    }

    @Test func longBadValuesAreShortenedInTheMessage() {
        let long = String(repeating: "x", count: 500)
        let e = resourceError(.users, csvText(usersHeader, [userRow(["CreateDate": long])]))
        #expect(e?.message == "not a date and time: '\(String(repeating: "x", count: 80))…'")
    }

    @Test func textAtTheLimitIsAcceptedAndOverItIsAnError() throws {
        let ok = try readResource(.users, csvText(usersHeader, [userRow(["Name": String(repeating: "n", count: 255)])]))
        #expect(ok.rows.first?.values[5]?.count == 255)

        let e = resourceError(.users, csvText(usersHeader, [userRow(["Name": String(repeating: "n", count: 256)])]))
        #expect(e?.line == 2)
        #expect(e?.column == "Name")
        #expect(e?.message == "value is 256 characters long; the limit is 255")
    }

    @Test func lengthIsCountedInCharactersNotBytes() throws {
        let name = String(repeating: "é", count: 255)   // 510 bytes
        let ok = try readResource(.users, csvText(usersHeader, [userRow(["Name": name])]))
        #expect(ok.rows.first?.values[5] == name)
    }

    @Test(arguments: [
        (Resource.users, "UserRole", 60),
        (.sections, "Term", 60),
        (.sections, "SectionDescription", 1024),
        (.submissions, "Grade", 20),
        (.submissions, "SubmissionStatus", 255),
        (.attendanceEvents, "AttendanceStatus", 60),
        (.systemActivities, "ActivityType", 60),
    ])
    func perColumnLimits(resource: Resource, column: String, limit: Int) throws {
        let schema = resource.schema
        let names = schema.columns.map(\.name)
        let ok = try readResource(resource, csvText(names, [validRow(schema, overriding: [column: String(repeating: "a", count: limit)])]))
        #expect(ok.rows.count == 1)
        let e = resourceError(resource, csvText(names, [validRow(schema, overriding: [column: String(repeating: "a", count: limit + 1)])]))
        #expect(e?.column == column)
        #expect(e?.message.contains("limit is \(limit)") == true)
    }

    @Test func longAssignmentDescriptionIsTruncatedTo1024Characters() throws {
        let schema = ResourceSchema.of(.assignments)
        let i = schema.index(of: "AssignmentDescription")!
        let long = String(repeating: "abcdé", count: 300)   // 1500 characters
        let exact = String(repeating: "z", count: 1024)
        let text = csvText(schema.columns.map(\.name), [
            validRow(schema, overriding: ["AssignmentDescription": long]),
            validRow(schema, overriding: ["AssignmentDescription": exact]),
            validRow(schema, overriding: ["AssignmentDescription": ""]),
        ])
        let rows = try readResource(.assignments, text).rows
        #expect(rows.count == 3)
        #expect(rows[0].values[i] == String(long.prefix(1024)))
        #expect(rows[0].values[i]?.unicodeScalars.count == 1024)
        #expect(rows[1].values[i] == exact)
        #expect(rows[2].values[i] == nil)
    }

    @Test func csvErrorsCarryThePath() {
        let e = resourceError(.users, csvText(usersHeader, [userRow()]) + "\"unterminated\n", path: "users/x.csv")
        #expect(e?.path == "users/x.csv")
        #expect(e?.line == 3)
        #expect(e?.column == "#1")
    }

    @Test func submissionTypeLongerThan60IsAnError() throws {
        let schema = ResourceSchema.of(.assignments)
        let names = schema.columns.map(\.name)
        let long = String(repeating: "t", count: 61)
        let e = resourceError(.assignments, csvText(names, [validRow(schema, overriding: ["SubmissionType": "['ok', '\(long)']"])]))
        #expect(e?.column == "SubmissionType")
        #expect(e?.message.hasPrefix("submission type longer than 60 characters") == true)
        let ok = try readResource(.assignments, csvText(names, [validRow(schema, overriding: ["SubmissionType": String(repeating: "t", count: 60)])]))
        #expect(ok.rows.count == 1)
    }

    @Test func submissionTypeIsKeptRawAndMayBeEmpty() throws {
        let schema = ResourceSchema.of(.assignments)
        let i = schema.index(of: "SubmissionType")!
        let text = csvText(schema.columns.map(\.name), [
            validRow(schema, overriding: ["SubmissionType": "online_upload"]),
            validRow(schema, overriding: ["SubmissionType": ""]),
        ])
        let rows = try readResource(.assignments, text).rows
        #expect(rows.map { $0.values[i] } == ["online_upload", nil])
    }
}

// MARK: - ExtractError and SubmissionTypes

@Suite("ExtractError and SubmissionTypes")
struct ExtractErrorAndSubmissionTypesTests {
    @Test func descriptionFormat() {
        #expect(ExtractError(path: "section=1/assignments/2021.csv", line: 12, column: "MaxPoints", message: "not an integer: '1O'").description
            == "section=1/assignments/2021.csv:12: column 'MaxPoints': not an integer: '1O'")
        #expect(ExtractError(path: "a.csv", line: 1, message: "empty file: no header row").description == "a.csv:1: empty file: no header row")
        #expect(ExtractError(path: "a.csv", message: "cannot open").description == "a.csv: cannot open")
        #expect(ExtractError(path: "a.csv", line: 3, column: "#2", message: "invalid UTF-8").description == "a.csv:3: column '#2': invalid UTF-8")
    }

    @Test(arguments: [
        ("", [String]()),
        ("online_upload", ["online_upload"]),
        ("a,b", ["a,b"]),
        ("['online_text_entry', 'online_upload']", ["online_text_entry", "online_upload"]),
        ("['online_upload']", ["online_upload"]),
        ("[]", ["[]"]),
        ("['a', 'b', 'a']", ["a", "b"]),
        ("['a','a']", ["a"]),
        ("['external_tool', 'none', 'on_paper']", ["external_tool", "none", "on_paper"]),
    ])
    func parse(input: String, expected: [String]) {
        #expect(SubmissionTypes.parse(input) == expected)
    }

    @Test func parseNil() {
        #expect(SubmissionTypes.parse(nil) == [])
    }
}

// MARK: - Upstream sample trees

/// The upstream sample trees (spec/../samples), when this checkout can see them.
let samplesRoot: String? = {
    let here = URL(fileURLWithPath: #filePath)
    let package = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var candidates = [package.appendingPathComponent("samples").path,
                      package.deletingLastPathComponent().appendingPathComponent("shared/samples").path,
                      "/work/shared/samples"]
    if let env = ProcessInfo.processInfo.environment["LMS_SAMPLES"] { candidates.insert(env, at: 0) }
    return candidates.first { FileManager.default.fileExists(atPath: $0 + "/starter-kit/users") }
}()

@Suite("Upstream sample trees", .enabled(if: samplesRoot != nil, "sample trees not found"))
struct SampleTreeTests {
    /// Every `.csv` under `root`, relative to it, with its size.
    static func csvFiles(under root: String) -> [(String, Int)] {
        let e = FileManager.default.enumerator(atPath: root)
        var out: [(String, Int)] = []
        while let p = e?.nextObject() as? String {
            guard p.hasSuffix(".csv") else { continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: root + "/" + p)[.size] as? Int) ?? 0
            out.append((p, size))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    @Test(arguments: ["sample-out", "starter-kit", "loader-e2e/e2e_users", "loader-e2e/e2e_sections",
                      "loader-e2e/e2e_section_associations", "loader-e2e/e2e_assignments",
                      "loader-e2e/e2e_assignment_submissions", "loader-e2e/e2e_attendance",
                      "loader-e2e/e2e_section_activities", "loader-e2e/e2e_system_activities"])
    func everySampleFileReads(tree: String) throws {
        let root = samplesRoot! + "/" + tree
        let files = Self.csvFiles(under: root)
        #expect(!files.isEmpty)
        for (path, size) in files where size > 4 {
            switch ExtractPath.classify(path) {
            case .ignored(let why):
                #expect(path.contains("/grades/"), "\(path) ignored: \(why)")
            case .file(let f):
                let source = try FileChunkReader(path: root + "/" + path, chunkSize: 4096)
                let result = try readResource(source, f.resource, path: path)
                #expect(source.finalizeChecksum() == (try sha256sum(root + "/" + path)), "\(path)")
                #expect(result.rows.allSatisfy { $0.values[0] != nil && $0.values[1] != nil }, "\(path)")
            }
        }
    }

    @Test func starterKitCounts() throws {
        let root = samplesRoot! + "/starter-kit"
        var counts: [Resource: Int] = [:]
        var sources: Set<String> = []
        for (path, size) in Self.csvFiles(under: root) where size > 4 {
            guard case .file(let f) = ExtractPath.classify(path) else { continue }
            let rows = try readResource(try FileChunkReader(path: root + "/" + path), f.resource, path: path).rows
            counts[f.resource, default: 0] += rows.count
            for r in rows { sources.insert(r.values[1]!) }
        }
        // Spec samples/README: 6 sections, 196 enrollments, 24 assignments, 901 submissions, source system Canvas.
        #expect(counts[.sections] == 6)
        #expect(counts[.sectionAssociations] == 196)
        #expect(counts[.assignments] == 24)
        #expect(counts[.submissions] == 901)
        #expect(sources == ["Canvas"])
    }

    @Test func sampleOutUSDatesAreCanonicalized() throws {
        let root = samplesRoot! + "/sample-out"
        let path = "sections/2020-09-17-15-04-23.csv"
        let schema = ResourceSchema.of(.sections)
        let rows = try readResource(try FileChunkReader(path: root + "/" + path), .sections, path: path).rows
        let dates = rows.flatMap { r in schema.columns.indices.filter { schema.columns[$0].type == .dateTime }.compactMap { r.values[$0] } }
        #expect(!dates.isEmpty)
        // Every parsed date is in the canonical form, whatever its spelling in the file.
        #expect(dates.allSatisfy { $0.count == 19 && Values.dateTime($0) == $0 })
        #expect(dates.contains("2020-09-03 01:02:00"))
    }
}
