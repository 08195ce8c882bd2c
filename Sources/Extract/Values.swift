/// Parsing of typed CSV values into the canonical text every engine stores.
///
/// Dates become `YYYY-MM-DD HH:MM:SS` (plus `.ffffff` when there is a fraction) so that the
/// buffer, the comparison "did any value change" and every target see one spelling per instant.
public enum Values {
    /// What to do with a zone in a value: convert to UTC (`.dateTime` columns), or drop it and keep the
    /// wall clock (`.wallClockDateTime` columns).
    public enum ZoneHandling { case toUTC, dropZone }

    /// Accepts `YYYY-MM-DD`, `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]` with an optional `Z` or `±HH[:]MM`,
    /// repeated blanks, and US `M/D/YYYY[ H:MM[:SS]]` (day first only when the first number exceeds 12).
    /// The result lies in 0001-01-01 00:00:00 to 9999-12-31 23:59:59.999999 (UTC when converted);
    /// a value that leaves that range once converted is refused, like any invalid date.
    public static func dateTime(_ text: String, zone: ZoneHandling = .toUTC) -> String? {
        var text = text
        return text.withUTF8 { parseDateTime(Cursor(bytes: $0), zone: zone) }
    }

    /// A position in a value's UTF-8 bytes (parsing bytes, not Characters, keeps staging fast).
    struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0
        var end: Int
        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
            end = bytes.count
            while i < end, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
            while end > i, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        }
        var atEnd: Bool { i >= end }
        var peek: UInt8? { i < end ? bytes[i] : nil }
        mutating func skip(_ b: UInt8) -> Bool {
            if peek == b { i += 1; return true }
            return false
        }
        mutating func int(min: Int, max: Int) -> Int? {
            var n = 0, count = 0
            while count < max, let c = peek, c >= 0x30, c <= 0x39 { n = n * 10 + Int(c - 0x30); count += 1; i += 1 }
            return count >= min ? n : nil
        }
    }

    static func parseDateTime(_ start: Cursor, zone: ZoneHandling) -> String? {
        var s = start
        guard !s.atEnd, let first = s.int(min: 1, max: 4) else { return nil }
        var y = 0, mo = 0, d = 0
        if s.skip(UInt8(ascii: "-")) {
            // ISO: YYYY-MM-DD
            guard let m = s.int(min: 1, max: 2), s.skip(UInt8(ascii: "-")), let dd = s.int(min: 1, max: 2) else { return nil }
            y = first; mo = m; d = dd
        } else if s.skip(UInt8(ascii: "/")) {
            // US: M/D/YYYY, or D/M/YYYY when the first number cannot be a month.
            guard let second = s.int(min: 1, max: 2), s.skip(UInt8(ascii: "/")), let year = s.int(min: 4, max: 4) else { return nil }
            y = year
            if first > 12 { d = first; mo = second } else { mo = first; d = second }
        } else {
            return nil
        }
        guard y >= 1, (1...12).contains(mo), d >= 1, d <= daysIn(month: mo, year: y) else { return nil }

        var h = 0, mi = 0, sec = 0
        var fraction: [UInt8] = []
        var offsetMinutes = 0
        // Separator between date and time: 'T' or blanks.
        var hadSeparator = s.skip(UInt8(ascii: "T")) || s.skip(UInt8(ascii: "t"))
        if !hadSeparator { while s.skip(0x20) { hadSeparator = true } }
        if !s.atEnd {
            guard hadSeparator, let hh = s.int(min: 1, max: 2), s.skip(UInt8(ascii: ":")), let mm = s.int(min: 2, max: 2) else { return nil }
            h = hh; mi = mm
            if s.skip(UInt8(ascii: ":")) {
                guard let ss = s.int(min: 2, max: 2) else { return nil }
                sec = ss
                if s.skip(UInt8(ascii: ".")) {
                    var count = 0
                    while let c = s.peek, c >= 0x30, c <= 0x39 { if count < 6 { fraction.append(c) }; count += 1; s.i += 1 }
                    guard count > 0, count <= 9 else { return nil }
                }
            }
            while s.skip(0x20) {}
            if s.skip(UInt8(ascii: "Z")) || s.skip(UInt8(ascii: "z")) {
            } else if let c = s.peek, c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                s.i += 1
                let sign = c == UInt8(ascii: "-") ? -1 : 1
                guard let oh = s.int(min: 2, max: 2) else { return nil }
                _ = s.skip(UInt8(ascii: ":"))
                guard let om = s.int(min: 2, max: 2), oh <= 14, om < 60 else { return nil }
                offsetMinutes = sign * (oh * 60 + om)
            }
            guard s.atEnd else { return nil }
        }
        guard h < 24, mi < 60, sec < 60 else { return nil }
        if offsetMinutes != 0 && zone == .toUTC {
            // Shift to UTC through a day count, so that month and year boundaries are right.
            var minutes = daysFromCivil(y, mo, d) * 1440 + h * 60 + mi - offsetMinutes
            let days = minutes >= 0 ? minutes / 1440 : (minutes - 1439) / 1440
            minutes -= days * 1440
            (y, mo, d) = civilFromDays(days)
            h = minutes / 60; mi = minutes % 60
        }
        while fraction.last == 0x30 { fraction.removeLast() }
        var out = [UInt8]()
        out.reserveCapacity(26)
        func put(_ n: Int, _ width: Int) {
            var divisor = width == 4 ? 1000 : 10
            while divisor > 0 { out.append(UInt8(0x30 + n / divisor % 10)); divisor /= 10 }
        }
        // The shift to UTC can leave the range every engine stores (SQL Server's datetime2 and the
        // agent's four-digit canonical text: years 1 to 9999): 0001-01-01T00:00:00+01:00 is year 0.
        guard (1...9999).contains(y) else { return nil }
        put(y, 4); out.append(0x2D); put(mo, 2); out.append(0x2D); put(d, 2); out.append(0x20)
        put(h, 2); out.append(0x3A); put(mi, 2); out.append(0x3A); put(sec, 2)
        if !fraction.isEmpty {
            out.append(0x2E)
            out.append(contentsOf: fraction)
            for _ in fraction.count..<6 { out.append(0x30) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A date; any time part is dropped (the target column is a DATE). A value with a zone is first
    /// converted to UTC, like every parsed column (spec 5.2: upstream PostgreSQL stores the UTC date).
    public static func date(_ text: String, zone: ZoneHandling = .toUTC) -> String? {
        guard let full = dateTime(text, zone: zone) else { return nil }
        return String(full.prefix(10))
    }

    /// A valid date and time as written whose conversion to UTC leaves years 1 to 9999
    /// (`0001-01-01T00:00:00+01:00`, `9999-12-31T23:30:00-01:00`): worth its own message.
    public static func leavesRangeInUTC(_ text: String) -> Bool {
        dateTime(text, zone: .toUTC) == nil && dateTime(text, zone: .dropZone) != nil
    }

    /// An integer in the 32-bit range; `12.0` is 12 (pandas writes integer columns with blanks that way).
    public static func integer(_ text: String) -> String? {
        var s = Substring(text.trimmingSpaces)
        var negative = false
        if s.first == "-" || s.first == "+" { negative = s.removeFirst() == "-" }
        guard let dot = s.firstIndex(of: ".") ?? Optional(s.endIndex) else { return nil }
        let whole = s[..<dot]
        let fraction = dot == s.endIndex ? "" : s[s.index(after: dot)...]
        guard !whole.isEmpty, whole.allSatisfy({ $0.isASCII && $0.isNumber }),
              fraction.allSatisfy({ $0 == "0" }) else { return nil }
        guard let value = Int(whole), value <= Int(Int32.max) + (negative ? 1 : 0) else { return nil }
        return String(negative ? -value : value)
    }

    // MARK: - helpers

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    public static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`), the
    /// inverse of `daysFromCivil`.
    public static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }

    func padding(toLength n: Int) -> String {
        count >= n ? self : self + String(repeating: "0", count: n - count)
    }
}
