import Foundation

/// The schema scripts shipped with the agent, one folder per engine.
public enum SQLScripts {
    /// The `.sql` files of an engine's folder as (name without `.sql`, text), sorted by name.
    public static func scripts(engine: String) throws -> [(name: String, sql: String)] {
        guard let dir = Bundle.module.url(forResource: engine, withExtension: nil) else { return [] }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sql") }.sorted()
        return try names.map { name in
            (String(name.dropLast(4)), try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8))
        }
    }
}
