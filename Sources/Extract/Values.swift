/// Parsing of typed CSV values into the canonical text every engine stores.
///
/// Dates become `YYYY-MM-DD HH:MM:SS` (plus `.ffffff` when there is a fraction) so that the
/// buffer, the comparison "did any value change" and every target see one spelling per instant.
public enum Values {
    public enum ZoneHandling { case toUTC, dropZone }

    /// Accepts `YYYY-MM-DD`, `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]` with an optional `Z` or `±HH[:]MM`,
    /// repeated blanks, and US `M/D/YYYY[ H:MM[:SS]]` (day first only when the first number exceeds 12).
    public static func dateTime(_ text: String, zone: ZoneHandling = .toUTC) -> String? {
        var s = Substring(text.trimmingSpaces)
        guard !s.isEmpty else { return nil }
        var y = 0, mo = 0, d = 0
        guard let datePart = readDate(&s, &y, &mo, &d) else { return nil }
        _ = datePart
        var h = 0, mi = 0, sec = 0
        var fraction = ""
        var offsetMinutes = 0
        // Separator between date and time: 'T' or blanks.
        let hadSeparator: Bool
        if s.first == "T" || s.first == "t" { s.removeFirst(); hadSeparator = true } else {
            let before = s.count
            while s.first == " " { s.removeFirst() }
            hadSeparator = s.count != before
        }
        if !s.isEmpty {
            guard hadSeparator, let hh = readInt(&s, min: 1, max: 2), s.first == ":" else { return nil }
            s.removeFirst()
            guard let mm = readInt(&s, min: 2, max: 2) else { return nil }
            h = hh; mi = mm
            if s.first == ":" {
                s.removeFirst()
                guard let ss = readInt(&s, min: 2, max: 2) else { return nil }
                sec = ss
                if s.first == "." {
                    s.removeFirst()
                    var digits = ""
                    while let c = s.first, c.isASCII, c.isNumber { digits.append(c); s.removeFirst() }
                    guard !digits.isEmpty, digits.count <= 9 else { return nil }
                    fraction = String(digits.prefix(6))
                }
            }
            while s.first == " " { s.removeFirst() }
            if s.first == "Z" || s.first == "z" {
                s.removeFirst()
            } else if s.first == "+" || s.first == "-" {
                let sign = s.removeFirst() == "-" ? -1 : 1
                guard let oh = readInt(&s, min: 2, max: 2) else { return nil }
                if s.first == ":" { s.removeFirst() }
                guard let om = readInt(&s, min: 2, max: 2), oh <= 14, om < 60 else { return nil }
                offsetMinutes = sign * (oh * 60 + om)
            }
            guard s.isEmpty else { return nil }
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
        while fraction.hasSuffix("0") { fraction.removeLast() }
        var out = "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2)) \(pad(h, 2)):\(pad(mi, 2)):\(pad(sec, 2))"
        if !fraction.isEmpty { out += "." + fraction.padding(toLength: 6) }
        return out
    }

    /// A date; any time part is dropped (the target column is a DATE). A value with a zone is first
    /// converted to UTC, like every parsed column (spec 5.2: upstream PostgreSQL stores the UTC date).
    public static func date(_ text: String, zone: ZoneHandling = .toUTC) -> String? {
        guard let full = dateTime(text, zone: zone) else { return nil }
        return String(full.prefix(10))
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

    private static func readDate(_ s: inout Substring, _ y: inout Int, _ mo: inout Int, _ d: inout Int) -> Bool? {
        guard let first = readInt(&s, min: 1, max: 4) else { return nil }
        if s.first == "-" {
            // ISO: YYYY-MM-DD
            s.removeFirst()
            guard let m = readInt(&s, min: 1, max: 2), s.first == "-" else { return nil }
            s.removeFirst()
            guard let dd = readInt(&s, min: 1, max: 2) else { return nil }
            y = first; mo = m; d = dd
        } else if s.first == "/" {
            // US: M/D/YYYY, or D/M/YYYY when the first number cannot be a month.
            s.removeFirst()
            guard let second = readInt(&s, min: 1, max: 2), s.first == "/" else { return nil }
            s.removeFirst()
            guard let year = readInt(&s, min: 4, max: 4) else { return nil }
            y = year
            if first > 12 { d = first; mo = second } else { mo = first; d = second }
        } else {
            return nil
        }
        guard y >= 1, (1...12).contains(mo), d >= 1, d <= daysIn(month: mo, year: y) else { return nil }
        return true
    }

    private static func readInt(_ s: inout Substring, min: Int, max: Int) -> Int? {
        var n = 0, count = 0
        while let c = s.first, let v = c.asciiDigit, count < max {
            n = n * 10 + v; count += 1; s.removeFirst()
        }
        return count >= min ? n : nil
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's civil-date algorithms.
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
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

    private static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

extension Character {
    var asciiDigit: Int? {
        guard let a = asciiValue, a >= 48, a <= 57 else { return nil }
        return Int(a - 48)
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
