import Testing
@testable import Extract

@Suite("Values.dateTime")
struct DateTimeTests {
    /// Every accepted form of spec 5.2, with its canonical `YYYY-MM-DD HH:MM:SS[.ffffff]` spelling (UTC).
    static let accepted: [(String, String)] = [
        // Writers' form and its relatives.
        ("2020-08-20 12:34:56", "2020-08-20 12:34:56"),
        ("2020-08-20", "2020-08-20 00:00:00"),
        ("2020-8-5", "2020-08-05 00:00:00"),
        ("2020-08-20 12:34", "2020-08-20 12:34:00"),
        ("2020-08-20 1:02", "2020-08-20 01:02:00"),
        ("2020-08-20 12:34:56.123456", "2020-08-20 12:34:56.123456"),
        ("2020-08-20 12:34:56.5", "2020-08-20 12:34:56.500000"),
        ("2020-08-20 12:34:56.500", "2020-08-20 12:34:56.500000"),
        ("2020-08-20 12:34:56.000", "2020-08-20 12:34:56"),
        ("2020-08-20 12:34:56.000001", "2020-08-20 12:34:56.000001"),
        ("2020-08-20 12:34:56.123456789", "2020-08-20 12:34:56.123456"),
        // ISO 8601 with T, Z and offsets.
        ("2020-08-20T12:34:56", "2020-08-20 12:34:56"),
        ("2020-08-20T12:34:56.25", "2020-08-20 12:34:56.250000"),
        ("2021-09-01T05:59:59Z", "2021-09-01 05:59:59"),
        ("2021-09-01T05:59:59.5Z", "2021-09-01 05:59:59.500000"),
        ("2021-01-01T10:00:00+02:00", "2021-01-01 08:00:00"),
        ("2021-01-01T10:00:00+0200", "2021-01-01 08:00:00"),
        ("2021-01-01T10:00:00-05:00", "2021-01-01 15:00:00"),
        ("2021-01-01T10:00:00+00:00", "2021-01-01 10:00:00"),
        ("2021-01-01T10:00:00+05:30", "2021-01-01 04:30:00"),
        ("2021-01-01 10:00:00 +02:00", "2021-01-01 08:00:00"),
        ("2021-01-01T10:00+02:00", "2021-01-01 08:00:00"),
        // Offsets that cross midnight, a month end, a year end and a leap day.
        ("2021-03-15T01:30:00+02:00", "2021-03-14 23:30:00"),
        ("2021-03-01T00:30:00+01:00", "2021-02-28 23:30:00"),
        ("2020-03-01T00:30:00+01:00", "2020-02-29 23:30:00"),
        ("2021-01-01T00:00:00+02:00", "2020-12-31 22:00:00"),
        ("2020-12-31T22:00:00-05:00", "2021-01-01 03:00:00"),
        ("2021-04-30T23:00:00-01:00", "2021-05-01 00:00:00"),
        ("2020-02-28T23:59:59.75-00:01", "2020-02-29 00:00:59.750000"),
        ("1970-01-01T00:00:00+01:00", "1969-12-31 23:00:00"),
        // Repeated and surrounding blanks.
        ("2020-08-20  12:34:56", "2020-08-20 12:34:56"),
        (" 2021-05-01 00:00:00", "2021-05-01 00:00:00"),
        ("2021-05-01 00:00:00 ", "2021-05-01 00:00:00"),
        ("\t2021-05-01\t", "2021-05-01 00:00:00"),
        // US style, month first; day first only when the first number exceeds 12.
        ("9/3/2020 1:02", "2020-09-03 01:02:00"),
        ("9/3/2020 13:02:09", "2020-09-03 13:02:09"),
        ("09/03/2020", "2020-09-03 00:00:00"),
        ("12/31/2020 23:59", "2020-12-31 23:59:00"),
        ("13/1/2020", "2020-01-13 00:00:00"),
        ("31/12/2020 10:00", "2020-12-31 10:00:00"),
        ("2/29/2020", "2020-02-29 00:00:00"),
        // Leap years.
        ("2000-02-29", "2000-02-29 00:00:00"),
        ("2024-02-29 12:00", "2024-02-29 12:00:00"),
    ]

    @Test(arguments: accepted)
    func acceptedForms(input: String, expected: String) {
        #expect(Values.dateTime(input) == expected)
    }

    static let rejected = [
        "", "   ", "abc", "2021", "2021-01", "2021/01/01",
        "2021-02-30", "2021-02-29", "1900-02-29", "2021-13-01", "2021-00-10", "2021-04-31", "2021-01-00", "0000-01-01",
        "2021-01-01 25:00", "2021-01-01 24:00:00", "2021-01-01 10:60", "2021-01-01 10:00:60",
        "2021-01-01 10", "2021-01-01 10:0", "2021-01-01 10:00:0", "2021-01-01 10:00:00.",
        "2021-01-01 10:00:00.1234567890",
        "2021-01-01 10:00:00 junk", "2021-01-01 junk", "2021-01-01junk", "2021-01-0110:00",
        "2021-01-01Z", "2021-01-01 10:00.5",
        "2021-01-01T10:00:00+2", "2021-01-01T10:00:00+02", "2021-01-01T10:00:00+15:00", "2021-01-01T10:00:00+02:60",
        "2021-01-01T10:00:00Z junk",
        "13/13/2020", "9/31/2020", "9/3/20", "9/3/2020 1", "2/29/2021",
        "9/3/2020 1:02 PM",
        "20211-01-01",
    ]

    @Test(arguments: rejected)
    func rejectedForms(input: String) {
        #expect(Values.dateTime(input) == nil)
        #expect(Values.dateTime(input, zone: .dropZone) == nil)
    }

    @Test func dropZoneKeepsTheWallClock() {
        #expect(Values.dateTime("2021-01-01T10:00:00+02:00", zone: .dropZone) == "2021-01-01 10:00:00")
        #expect(Values.dateTime("2021-01-01T10:00:00-05:00", zone: .dropZone) == "2021-01-01 10:00:00")
        #expect(Values.dateTime("2021-09-01T05:59:59Z", zone: .dropZone) == "2021-09-01 05:59:59")
        #expect(Values.dateTime("2021-01-01T00:30:00.5+02:00", zone: .dropZone) == "2021-01-01 00:30:00.500000")
        #expect(Values.dateTime("9/3/2020 1:02", zone: .dropZone) == "2020-09-03 01:02:00")
        // Without a zone both modes agree.
        #expect(Values.dateTime("2020-08-20 12:34:56", zone: .dropZone) == Values.dateTime("2020-08-20 12:34:56"))
    }

    @Test func canonicalFormIsStableUnderReparsing() {
        // A stored value must parse to itself, so "did the value change" compares like with like.
        for (input, _) in Self.accepted {
            guard let once = Values.dateTime(input) else { continue }
            #expect(Values.dateTime(once) == once, "\(input)")
        }
    }

    @Test func differentSpellingsOfOneInstantAreEqual() {
        let forms = ["2020-09-03 01:02:00", "9/3/2020 1:02", "2020-09-03T01:02", "2020-09-03  01:02:00.000",
                     "2020-09-03T03:02:00+02:00", "2020-09-02T20:02:00-05:00", "2020-09-03T01:02:00Z"]
        #expect(Set(forms.map { Values.dateTime($0) }) == ["2020-09-03 01:02:00"])
    }
}

@Suite("Values.date")
struct DateTests {
    @Test(arguments: [
        ("2020-08-28 00:01:03", "2020-08-28"),
        ("2020-08-28", "2020-08-28"),
        ("2020-08-28T23:59:59.999999", "2020-08-28"),
        ("9/3/2020 1:02", "2020-09-03"),
        ("13/1/2020", "2020-01-13"),
        (" 2020-08-28 ", "2020-08-28"),
        ("2020-08-28T10:00:00Z", "2020-08-28"),
    ])
    func dropsTheTime(input: String, expected: String) {
        #expect(Values.date(input) == expected)
    }

    @Test func aZonedValueIsTheUTCDateLikeOtherParsedColumns() {
        // EventDate is a parsed column (spec 5.1/5.2): a zoned value is converted to UTC, then cut to its date.
        #expect(Values.date("2020-08-28T23:30:00-05:00") == "2020-08-29")
        #expect(Values.date("2020-08-28T01:00:00+02:00") == "2020-08-27")
        #expect(Values.date("2020-08-28T01:00:00+02:00") == Values.dateTime("2020-08-28T01:00:00+02:00").map { String($0.prefix(10)) })
    }

    @Test func dropZoneKeepsTheWallClockDate() {
        #expect(Values.date("2020-08-28T23:30:00-05:00", zone: .dropZone) == "2020-08-28")
        #expect(Values.date("2020-08-28T01:00:00+02:00", zone: .dropZone) == "2020-08-28")
    }

    @Test(arguments: ["", "abc", "2021-02-30", "2021-13-01", "2021-01-01 25:00", "2021-01-01 10:00:00 junk"])
    func rejected(input: String) {
        #expect(Values.date(input) == nil)
    }
}

@Suite("Values.integer")
struct IntegerTests {
    @Test(arguments: [
        ("10", "10"), ("-3", "-3"), ("+7", "7"), ("0", "0"), ("-0", "0"), ("007", "7"),
        ("10.0", "10"), ("10.000", "10"), ("-3.0", "-3"), ("10.", "10"),
        (" 42 ", "42"), ("\t42", "42"),
        ("2147483647", "2147483647"), ("-2147483648", "-2147483648"), ("2147483647.0", "2147483647"),
    ])
    func accepted(input: String, expected: String) {
        #expect(Values.integer(input) == expected)
    }

    @Test(arguments: [
        "", " ", "-", "+", ".", ".0", ".5", "10.5", "10.01", "-3.5", "1e3", "1E3", "0x10", "1,000", "1 000",
        "abc", "10a", "--1", "+-1", "2147483648", "-2147483649", "99999999999999999999999", "١٢", "NaN", "inf",
    ])
    func rejected(input: String) {
        #expect(Values.integer(input) == nil)
    }
}

@Suite("Timestamp")
struct TimestampTests {
    @Test func formatIsCanonicalUTC() {
        #expect(Timestamp.format(seconds: 0) == "1970-01-01 00:00:00.000000")
        #expect(Timestamp.format(seconds: -1) == "1969-12-31 23:59:59.000000")
        #expect(Timestamp.format(seconds: 951_782_400, micros: 5) == "2000-02-29 00:00:00.000005")
        #expect(Timestamp.format(seconds: 1_609_459_199, micros: 999_999) == "2020-12-31 23:59:59.999999")
    }

    /// The log lines' and the moved-aside buffers' forms come from the same breakdown (they were
    /// strftime and a DateFormatter): whole seconds, no fraction, UTC with a Z.
    @Test func logAndFileNameFormsAreISO8601() {
        #expect(Timestamp.format(seconds: 951_782_400, micros: 999_999, style: .iso8601) == "2000-02-29T00:00:00Z")
        #expect(Timestamp.format(seconds: -1, style: .iso8601) == "1969-12-31T23:59:59Z")
        #expect(Timestamp.format(seconds: 1_609_459_199, micros: 5, style: .compact) == "20201231T235959Z")
        #expect(Timestamp.now(.iso8601).count == 20)
    }

    @Test func nowParsesAsADateTime() {
        let now = Timestamp.now()
        #expect(now.count == 26)
        #expect(Values.dateTime(now) != nil)
        #expect(now >= "2024-01-01")
    }
}
