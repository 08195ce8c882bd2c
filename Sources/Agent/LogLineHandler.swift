import Extract
import Foundation
import Logging

/// The agent's log lines on standard error, in the format `--log-format` names:
/// - `text`: `2026-11-30T12:00:00Z WARNING message key=value`, readable;
/// - `json`: one object per line, `{"time":...,"level":...,"message":...,...metadata}`.
public struct LogLineHandler: LogHandler {
    /// The `--log-format` values.
    public enum Format: String, Sendable {
        /// `text`: readable lines; `json`: one JSON object a line.
        case text, json
    }

    /// Metadata on every line of this handler (swift-log's `LogHandler`).
    public var metadata: Logger.Metadata = [:]
    /// Lines below this level are not written.
    public var logLevel: Logger.Level
    /// The line format.
    public let format: Format

    /// A handler writing `format` lines from `level` up.
    public init(format: Format = .text, level: Logger.Level) {
        self.format = format
        logLevel = level
    }

    /// One metadata value (swift-log's `LogHandler`).
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line to standard error, the event's metadata after the handler's; a text line first
    /// erases a progress line drawn on the terminal.
    public func log(event: LogEvent) {
        let meta = metadata.merging(event.metadata ?? [:]) { $1 }
        switch format {
        case .text:
            var line = "\(Self.timestamp()) \(Self.name(event.level)) \(event.message)"
            if !meta.isEmpty { line += " " + meta.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
            TerminalProgress.erase()
            FileHandle.standardError.write(Data((line + "\n").utf8))
        case .json:
            var object: [String: String] = ["time": Self.timestamp(), "level": Self.name(event.level), "message": "\(event.message)"]
            for (k, v) in meta { object[k] = "\(v)" }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let data = try? encoder.encode(object) else { return }
            FileHandle.standardError.write(data + Data("\n".utf8))
        }
    }

    static func timestamp() -> String {
        Timestamp.now(.iso8601)
    }

    /// Upstream's level names.
    static func name(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: return "DEBUG"
        case .info, .notice: return "INFO"
        case .warning: return "WARNING"
        case .error: return "ERROR"
        case .critical: return "CRITICAL"
        }
    }

    /// Upstream's `--log-level` values (and swift-log's), case-insensitive.
    public static func level(named text: String) -> Logger.Level? {
        switch text.uppercased() {
        case "TRACE": return .trace
        case "DEBUG": return .debug
        case "INFO": return .info
        case "NOTICE": return .notice
        case "WARNING", "WARN": return .warning
        case "ERROR": return .error
        case "CRITICAL": return .critical
        default: return nil
        }
    }
}
