import Glibc

/// Wall-clock time in UTC as text: the one formatter, for stored times, log lines and file names.
public enum Timestamp {
    /// Which spelling of the time.
    public enum Style: Sendable {
        /// `2026-11-30 12:00:00.000000`: the canonical form of every stored time.
        case stored
        /// `2026-11-30T12:00:00Z`: log lines (ISO 8601, whole seconds).
        case iso8601
        /// `20261130T120000Z`: part of a file name (ISO 8601 basic format, whole seconds).
        case compact
    }

    /// The current wall-clock time (`CLOCK_REALTIME`), in `style`.
    public static func now(_ style: Style = .stored) -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return format(seconds: Int(ts.tv_sec), micros: Int(ts.tv_nsec) / 1000, style: style)
    }

    /// `seconds` since the Unix epoch (and `micros` more), in UTC.
    public static func format(seconds: Int, micros: Int = 0, style: Style = .stored) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let rem = seconds - days * 86400
        let (y, m, d) = Values.civilFromDays(days)
        func p(_ n: Int, _ w: Int) -> String { let s = String(n); return String(repeating: "0", count: max(0, w - s.count)) + s }
        let (hh, mm, ss) = (p(rem / 3600, 2), p(rem / 60 % 60, 2), p(rem % 60, 2))
        switch style {
        case .stored: return "\(p(y, 4))-\(p(m, 2))-\(p(d, 2)) \(hh):\(mm):\(ss).\(p(micros, 6))"
        case .iso8601: return "\(p(y, 4))-\(p(m, 2))-\(p(d, 2))T\(hh):\(mm):\(ss)Z"
        case .compact: return "\(p(y, 4))\(p(m, 2))\(p(d, 2))T\(hh)\(mm)\(ss)Z"
        }
    }
}

extension Duration {
    /// The duration in seconds, for arithmetic with seconds and for log lines. Every duration and
    /// deadline is measured on `ContinuousClock` (monotonic); wall-clock time only ever becomes text.
    public var seconds: Double {
        let (whole, atto) = components
        return Double(whole) + Double(atto) / 1e18
    }
}
