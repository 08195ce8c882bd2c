import Foundation
import Glibc
import Logging
import Synchronization

/// A progress line on a terminal's standard error, redrawn in place (at most ten times a second) and
/// erased at the end. Log lines written meanwhile erase it first, so the two never mix on one line.
public final class TerminalProgress: ProgressSink, @unchecked Sendable {
    /// Whether a line is drawn now, shared with the text log handler.
    static let drawn = Mutex(false)
    private var lastDraw = ContinuousClock.now - .seconds(1)

    /// A progress line; give it to the agent only when `isTerminal`.
    public init() {}

    /// Progress is drawn only when standard error is a terminal.
    public static var isTerminal: Bool { isatty(2) == 1 }

    /// Redraws the line, at most every 100 ms, cut to 110 characters.
    public func report(_ progress: Progress) {
        let now = ContinuousClock.now
        guard now - lastDraw >= .milliseconds(100) else { return }
        lastDraw = now
        var line = progress.line
        if line.count > 110 { line = String(line.prefix(109)) + "…" }
        TerminalProgress.drawn.withLock { drawn in
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
            drawn = true
        }
    }

    /// Erases the line.
    public func finish() { TerminalProgress.erase() }

    /// Erases the drawn line, if any (called before any other output to standard error).
    public static func erase() {
        drawn.withLock { drawn in
            if drawn { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            drawn = false
        }
    }
}

/// Progress as an INFO log line every few seconds: for a pipe, a journal or `--log-format json`.
public final class LoggedProgress: ProgressSink {
    let logger: Logger
    let every: Duration
    private var last = ContinuousClock.now

    /// Progress logged at INFO on `logger` at most once every `every`.
    public init(logger: Logger, every: Duration = .seconds(5)) {
        self.logger = logger
        self.every = every
    }

    /// Logs `progress: <line>` when `every` has passed since the last one.
    public func report(_ progress: Progress) {
        let now = ContinuousClock.now
        guard now - last >= every else { return }
        last = now
        logger.info("progress: \(progress.line)")
    }

    /// Nothing to erase.
    public func finish() {}
}
