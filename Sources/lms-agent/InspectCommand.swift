import Agent
import ArgumentParser
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look into the buffer: what was seen, staged, forwarded, rejected or is waiting, and why.",
        subcommands: [Files.self, File.self, Rows.self, Errors.self, Waiting.self])

    struct Files: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every file version in the ledger.", discussion: exitCodesHelp)
        @OptionGroup var options: BufferOptions
        @Option(help: "Only files in this state: \(FileState.allCases.map(\.rawValue).joined(separator: ", ")).") var state: String?

        func validate() throws {
            if let state, FileState(rawValue: state) == nil {
                throw ValidationError("unknown state '\(state)': use \(FileState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        @Flag(help: "Print as JSON.") var json = false

        func run() throws {
            try options.withAgent(for: .inspect) { agent in
                let files = try agent.files(in: state.flatMap(FileState.init(rawValue:)))
                if json { try printJSON(files); return .success }
                var t = TextTable("id", "state", "resource", "rows", "waiting", "path", "error")
                for f in files {
                    t.add(["\(f.id)", f.state.rawValue, f.resource?.rawValue ?? "-", "\(f.rowCount)", "\(f.waitingRows)", f.path,
                           f.lastError.map { briefError($0, path: f.path) } ?? ""])
                }
                print(t.render())
                return .success
            }
        }
    }

    struct File: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One file version, in full.", discussion: exitCodesHelp)
        @OptionGroup var options: BufferOptions
        @Argument var id: Int64
        @Flag(help: "Print as JSON.") var json = false

        func run() throws {
            try options.withAgent(for: .inspect) { agent in
                let f = try agent.file(id: id)
                if json { try printJSON(f); return .success }
                let fields: [(String, String?)] = [
                    ("id", "\(f.id)"), ("path", f.path), ("sha256", f.sha256), ("resource", f.resource?.rawValue),
                    ("scope", f.scope.description), ("snapshot", f.snapshot), ("size", "\(f.size)"), ("rows", "\(f.rowCount)"),
                    ("waiting rows", "\(f.waitingRows)"), ("source systems", f.sourceSystems.joined(separator: ", ")),
                    ("columns", f.presentColumns.joined(separator: ", ")), ("state", f.state.rawValue), ("attempts", "\(f.attempts)"),
                    ("error", f.lastError), ("error line", f.errorLine.map { "\($0)" }), ("error column", f.errorColumn),
                    ("warnings", f.warnings), ("first seen", f.firstSeenAt), ("staged", f.stagedAt), ("forwarded", f.forwardedAt),
                    ("updated", f.updatedAt),
                ]
                for (k, v) in fields { if let v { print("\(k.padding(toLength: 15, withPad: " ", startingAt: 0)) \(v)") } }
                return .success
            }
        }
    }

    struct Rows: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The staged rows of a file version.", discussion: exitCodesHelp)
        @OptionGroup var options: BufferOptions
        @Argument var id: Int64
        @Option(help: "At most this many rows.") var limit = 50
        @Flag(help: "Print as JSON.") var json = false

        func run() throws {
            try options.withAgent(for: .inspect) { agent in
                let (f, rows) = try agent.stagedRows(ofFile: id, limit: limit)
                if json { try printJSON(rows); return .success }
                printRows(rows, schema: f.resource.flatMap { agent.registry[$0] })
                if rows.isEmpty { print("no staged rows (state \(f.state.rawValue): rows are kept until a newer snapshot of the scope is applied)") }
                return .success
            }
        }
    }

    struct Errors: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The error log, newest first.", discussion: exitCodesHelp)
        @OptionGroup var options: BufferOptions
        @Option(help: "At most this many errors.") var limit = 50
        @Flag(help: "Print as JSON.") var json = false

        func run() throws {
            try options.withAgent(for: .inspect) { agent in
                let errors = try agent.errors(limit: limit)
                if json { try printJSON(errors); return .success }
                var t = TextTable("at", "phase", "file", "error")
                for e in errors { t.add([e.at, e.phase, e.fileId.map { "\($0)" } ?? "-", e.message]) }
                print(errors.isEmpty ? "no errors" : t.render())
                return .success
            }
        }
    }

    struct Waiting: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rows waiting for their parents, by file.", discussion: exitCodesHelp)
        @OptionGroup var options: BufferOptions
        @Option(help: "At most this many rows per file.") var limit = 20
        @Flag(help: "Print as JSON.") var json = false

        func run() throws {
            try options.withAgent(for: .inspect) { agent in
                let waiting = try agent.waiting(limitPerFile: limit)
                if json { try printJSON(waiting.flatMap(\.rows)); return .success }
                if waiting.isEmpty { print("no rows are waiting"); return .success }
                for w in waiting {
                    print("file \(w.file.id) \(w.file.path): \(w.file.waitingRows) row(s) waiting")
                    let schema = w.file.resource.flatMap { agent.registry[$0] }
                    printRows(w.rows, schema: schema, only: ["SourceSystemIdentifier"] + (schema?.parents.map(\.column) ?? []))
                }
                return .success
            }
        }
    }
}

/// An error for a table cell: without the path the row already shows, cut at a word boundary.
func briefError(_ message: String, path: String, width: Int = 80) -> String {
    var m = message
    if m.hasPrefix(path + ":") { m = String(m.dropFirst(path.count + 1)).trimmingCharacters(in: .whitespaces) }
    m = m.replacingOccurrences(of: "\n", with: " ")
    guard m.count > width else { return m }
    let cut = m.prefix(width - 1)
    let end = cut.lastIndex(of: " ").map { cut[..<$0] } ?? cut
    return end + "…"
}

/// Staged rows as a table: the line, then every column of the resource (or only those named).
func printRows(_ rows: [StagedRow], schema: ResourceSchema?, only: [String]? = nil) {
    guard let schema, !rows.isEmpty else { return }
    let names = only ?? schema.columns.map(\.name)
    var t = TextTable("line")
    t.header += names
    for r in rows { t.add(["\(r.line)"] + names.map { n in (r.values[n] ?? nil).map { String($0.prefix(40)) } ?? "NULL" }) }
    print(t.render())
}
