import Extract
import Foundation
import LMSSQLScripts

/// A versioned schema script: `0003_create_section_tables.sql` is journaled as `0003_create_section_tables`.
struct MigrationScript: Sendable {
    /// Whose script it is: lms-agent's own (shipped in `sql/<engine>/`), or the operator's
    /// (`--migrations-dir`), with the file it was read from.
    enum Origin: Sendable, Equatable {
        case shipped
        case user(path: String)
    }

    let name: String
    let sql: String
    let origin: Origin
    /// SHA-256 of the script's text, journaled with it: an operator's script that changes after it
    /// was applied is found, not silently ignored (a script runs once).
    let checksum: String

    /// Scripts numbered 2000-2999 are the harmonizer's (the project's, and an operator's own
    /// customisations of its procedures): they read the Ed-Fi ODS tables, so they run only on a
    /// database that has them, and wait, unjournaled, until it does.
    var needsODS: Bool {
        guard name.count > 5, name[name.index(name.startIndex, offsetBy: 4)] == "_", let n = Int(name.prefix(4)) else { return false }
        return (2000...2999).contains(n)
    }

    init(name: String, sql: String, origin: Origin) {
        self.name = name
        self.sql = sql
        self.origin = origin
        self.checksum = SHA256.hex(of: Array(sql.utf8))
    }

    /// The engine's shipped scripts in name order, then the operator's own from `extraDirectory` in
    /// name order: theirs always run after all of ours, whatever their numbers, so that a script
    /// of theirs may replace one of our procedures (`CREATE OR REPLACE`).
    static func load(engine: String, extraDirectory: String?) throws -> [MigrationScript] {
        let shipped = try SQLScripts.scripts(engine: engine).map { MigrationScript(name: $0.name, sql: $0.sql, origin: .shipped) }
        guard !shipped.isEmpty else {
            throw StoreError.migration("no schema scripts found for \(engine) (is the lms-agent_LMSSQLScripts.resources folder beside the binary?)")
        }
        let user = try extraDirectory.map { try userScripts(engine: engine, directory: $0) } ?? []
        let ours = Set(shipped.map(\.name))
        if let clash = user.first(where: { ours.contains($0.name) }), case .user(let path) = clash.origin {
            throw StoreError.migration("\(path) has the name of one of lms-agent's own scripts; give it a name (and a number) of its own")
        }
        return shipped.sorted { $0.name < $1.name } + user
    }

    /// The engines a migrations folder may hold a subfolder for.
    static let engineFolders = ["sqlite", "postgresql", "mssql"]

    /// The operator's scripts for `engine`: the `.sql` files of `directory/<engine>/` when the folder
    /// is laid out per engine (it has a `sqlite/`, `postgresql/` or `mssql/` subfolder), else the
    /// `.sql` files directly in `directory` (one folder per target).
    static func userScripts(engine: String, directory: String) throws -> [MigrationScript] {
        let fm = FileManager.default
        func isDirectory(_ path: String) -> Bool {
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
        }
        guard isDirectory(directory) else {
            throw StoreError.migration("the migrations folder \(directory) (--migrations-dir) does not exist or is not a folder")
        }
        func sqlFiles(_ dir: String) throws -> [String] {
            try fm.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".sql") && !isDirectory(dir + "/" + $0) }.sorted()
        }
        let loose = try sqlFiles(directory)
        var folder = directory
        if engineFolders.contains(where: { isDirectory(directory + "/" + $0) }) {
            guard loose.isEmpty else {
                throw StoreError.migration("""
                    the migrations folder \(directory) has per-engine subfolders and also scripts of its own (\(loose.joined(separator: ", "))): \
                    move them into \(directory)/\(engine)/ (or the subfolder of the engine they are for)
                    """)
            }
            folder = directory + "/" + engine
            guard isDirectory(folder) else { return [] }
        }
        return try sqlFiles(folder).map { file in
            let path = folder + "/" + file
            return MigrationScript(name: String(file.dropLast(4)), sql: try String(contentsOfFile: path, encoding: .utf8), origin: .user(path: path))
        }
    }

    /// Checks the operator's scripts against the journal (script name -> checksum; nil for a row
    /// written without one: by the upstream loader, or before lms-agent journaled checksums).
    /// Returns the scripts journaled without a checksum, whose checksum is to be recorded now.
    /// Throws, naming every file, when a script already applied has changed since.
    static func verify(_ scripts: [MigrationScript], journal: [String: String?], table: String) throws -> [MigrationScript] {
        var adopt: [MigrationScript] = []
        var changed: [String] = []
        for script in scripts {
            guard case .user(let path) = script.origin, let recorded = journal[script.name] else { continue }
            guard let recorded else { adopt.append(script); continue }
            if recorded != script.checksum {
                changed.append("\(path) (applied with SHA-256 \(recorded.prefix(12))…, now \(script.checksum.prefix(12))…)")
            }
        }
        guard changed.isEmpty else {
            throw StoreError.migration("""
                \(changed.count == 1 ? "a script" : "scripts") of --migrations-dir changed after being applied (\(table) lists \
                \(changed.count == 1 ? "it" : "them")): \(changed.joined(separator: "; ")). A script runs once: put it back as it \
                was, and put the change in a new script with a higher number
                """)
        }
        return adopt
    }
}
