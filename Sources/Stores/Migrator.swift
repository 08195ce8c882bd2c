import Foundation
import LMSSQLScripts

/// A versioned schema script: `0003_create_section_tables.sql` is journaled as `0003_create_section_tables`.
public struct MigrationScript: Sendable {
    public let name: String
    public let sql: String

    /// The engine's shipped scripts, then the user's own from `extraDirectory`, in name order.
    public static func load(engine: String, extraDirectory: String?) throws -> [MigrationScript] {
        var scripts = try SQLScripts.scripts(engine: engine).map { MigrationScript(name: $0.name, sql: $0.sql) }
        if let dir = extraDirectory {
            let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".sql") }.sorted()
            for n in names {
                scripts.append(MigrationScript(name: String(n.dropLast(4)),
                                               sql: try String(contentsOfFile: dir + "/" + n, encoding: .utf8)))
            }
        }
        guard !scripts.isEmpty else {
            throw StoreError.migration("no schema scripts found for \(engine) (is the lms-agent_LMSSQLScripts.resources folder beside the binary?)")
        }
        return scripts.sorted { $0.name < $1.name }
    }
}
