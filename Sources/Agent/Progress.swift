import Extract
import Foundation

/// How far a long piece of work has come, for a progress line or a periodic log line.
public struct Progress: Sendable, Equatable {
    /// The two long pieces of work.
    public enum Phase: String, Sendable { case staging, forwarding }
    /// Which of them.
    public var phase: Phase
    /// Files done so far in this phase.
    public var filesDone: Int
    /// Files the phase has to do.
    public var filesTotal: Int
    /// Rows of the files done.
    public var rows: Int
    /// The resource of the file in hand.
    public var resource: String?
    /// Seconds since the phase began.
    public var seconds: Double

    /// `rows` over `seconds` (0 at the start).
    public var rowsPerSecond: Double { seconds > 0 ? Double(rows) / seconds : 0 }

    /// `staging 1,204/3,753 files, 90,310 rows (41,200 rows/s), users`
    public var line: String {
        "\(phase.rawValue) \(Progress.grouped(filesDone))/\(Progress.grouped(filesTotal)) files, \(Progress.grouped(rows)) rows"
            + " (\(Progress.grouped(Int(rowsPerSecond))) rows/s)" + (resource.map { ", \($0)" } ?? "")
    }

    static func grouped(_ n: Int) -> String {
        let digits = String(n)
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }
}

/// Receives progress; called after every file (and must be cheap: it throttles itself).
public protocol ProgressSink: AnyObject {
    /// Called after each file with the phase's progress so far.
    func report(_ progress: Progress)
    /// The work is over: erase what was drawn.
    func finish()
}

/// Counts one phase's files and rows and hands them to a sink.
final class ProgressMeter {
    let sink: (any ProgressSink)?
    let phase: Progress.Phase
    var total: Int
    let start = ContinuousClock.now
    private(set) var files = 0
    private(set) var rows = 0

    init(_ sink: (any ProgressSink)?, phase: Progress.Phase, total: Int) {
        self.sink = sink
        self.phase = phase
        self.total = total
    }

    func fileDone(rows added: Int, resource: String?) {
        files += 1
        rows += added
        guard let sink else { return }
        let elapsed = ContinuousClock.now - start
        let seconds = elapsed.seconds
        sink.report(Progress(phase: phase, filesDone: files, filesTotal: total, rows: rows, resource: resource, seconds: seconds))
    }
}
