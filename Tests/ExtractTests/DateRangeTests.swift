import Testing
@testable import Extract

/// Every engine stores years 1 to 9999 (SQL Server's datetime2 has no more, and the canonical text
/// has four digits). A value is checked after its conversion to UTC, since that is what is stored:
/// `0001-01-01T00:00:00+01:00` is year 0 in UTC, which PostgreSQL refused at forwarding time
/// (defect 9), and `9999-12-31T23:30:00-01:00` is year 10000.
@Suite("Dates that leave years 1 to 9999 once converted to UTC")
struct DateRangeTests {
    static let outside = [
        "0001-01-01T00:00:00+01:00",
        "0001-01-01T00:59:59.999+01:00",
        "0001-01-01 00:00 +14:00",
        "1/1/0001 00:29+00:30",
        "9999-12-31T23:30:00-01:00",
        "9999-12-31T23:59:59.999999-00:01",
    ]

    @Test(arguments: outside)
    func refusedWhenConvertedButValidAsWritten(_ text: String) {
        #expect(Values.dateTime(text) == nil)
        #expect(Values.date(text) == nil)
        #expect(Values.leavesRangeInUTC(text))
        // Kept as wall-clock time (no conversion), the same text is in range.
        #expect(Values.dateTime(text, zone: .dropZone) != nil)
    }

    @Test func theEdgesThemselvesAreKept() {
        #expect(Values.dateTime("0001-01-01T01:00:00+01:00") == "0001-01-01 00:00:00")
        #expect(Values.dateTime("0001-01-01T00:00:00Z") == "0001-01-01 00:00:00")
        #expect(Values.dateTime("0001-01-01T00:00:00-01:00") == "0001-01-01 01:00:00")
        #expect(Values.dateTime("9999-12-31T23:59:59.999999Z") == "9999-12-31 23:59:59.999999")
        #expect(Values.dateTime("9999-12-31T23:59:59+01:00") == "9999-12-31 22:59:59")
        #expect(Values.date("9999-12-31T22:59:59-01:00") == "9999-12-31")
        #expect(!Values.leavesRangeInUTC("0001-01-01T01:00:00+01:00"))
        // Invalid as written is a different fault, with its own message.
        #expect(!Values.leavesRangeInUTC("2021-02-30T10:00:00+01:00"))
    }

    @Test func theReaderNamesFileLineAndColumn() throws {
        let text = csvText(usersHeader, [userRow(), userRow(["SourceSystemIdentifier": "u2", "CreateDate": "0001-01-01T00:00:00+01:00"])])
        let e = try #require(resourceError(.users, text, path: "users/2026-09-01-06-00-00.csv"))
        #expect(e.path == "users/2026-09-01-06-00-00.csv")
        #expect(e.line == 3)
        #expect(e.column == "CreateDate")
        #expect(e.message.contains("outside 0001-01-01 to 9999-12-31 once converted to UTC"), "\(e)")
        #expect(e.message.contains("'0001-01-01T00:00:00+01:00'"))
    }

    @Test func aDateColumnToo() throws {
        let attendance = ResourceSchema.of(.attendanceEvents)
        let row = validRow(attendance, overriding: ["EventDate": "9999-12-31T23:30:00-01:00"])
        let e = try #require(resourceError(.attendanceEvents, csvText(attendance.columns.map(\.name), [row])))
        #expect(e.line == 2)
        #expect(e.column == "EventDate")
        #expect(e.message.contains("once converted to UTC"), "\(e)")
    }
}
