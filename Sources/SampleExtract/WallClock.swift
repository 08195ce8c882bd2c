// The snapshot calendar: local wall-clock seconds (no zone) since 1970-01-01, day 1 being
// 2026-09-01, and the text forms the files and folders use.
import Extract

enum WallClock {
    static let hour = 3600, dayLength = 86_400

    /// Midnight of 2026-09-01, the first snapshot day.
    static let dayOne = Values.daysFromCivil(2026, 9, 1) * dayLength

    /// Midnight of 2026-08-01: the earliest creation of the users and sections of day 1.
    static let monthBeforeDayOne = dayOne - 31 * dayLength

    /// Midnight of snapshot day `d` (1-based).
    static func dayStart(_ d: Int) -> Int { dayOne + (d - 1) * dayLength }

    static func isWeekday(_ d: Int) -> Bool {
        let weekday = ((dayStart(d) / dayLength) % 7 + 4) % 7 // 0 = Sunday
        return weekday != 0 && weekday != 6
    }

    /// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD-HH-MM-SS`.
    static func text(_ t: Int, dateOnly: Bool = false, separator: Character = " ", timeSeparator: Character = ":") -> String {
        let (y, m, d) = Values.civilFromDays(t / dayLength)
        let s = t % dayLength
        func p2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let date = "\(y)-\(p2(m))-\(p2(d))"
        if dateOnly { return date }
        return date + String(separator) + p2(s / 3600) + String(timeSeparator) + p2(s / 60 % 60) + String(timeSeparator) + p2(s % 60)
    }
}
