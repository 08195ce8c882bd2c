import Foundation

/// A duration as the command line gives one: seconds (`90`, `0.5`), or a number with `s`, `m`, `h`
/// or `d` (`30m`, `1h`, `1.5h`).
enum DurationText {
    /// Seconds, or nil when `text` is no duration (or not positive).
    static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var number = Substring(t), factor = 1.0
        if let last = t.last, let f = units[last] { number = t.dropLast(); factor = f }
        guard let n = Double(number.trimmingCharacters(in: .whitespaces)), n.isFinite, n > 0 else { return nil }
        return n * factor
    }
}
