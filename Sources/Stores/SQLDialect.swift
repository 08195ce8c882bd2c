import Extract

/// The few places where the engines' SQL differs. The merge itself is written once (MergeSQL).
public protocol SQLDialect: Sendable {
    /// The name of a production table (`LMSUser` -> `lms.lmsuser` on PostgreSQL).
    func table(_ name: String) -> String
    /// Null-safe "differs" comparison.
    func distinct(_ a: String, _ b: String) -> String
    /// The column type of a staging column.
    func stagingType(_ type: ColumnType) -> String
    var integerType: String { get }
    /// `CREATE TEMP TABLE ...` prefix for a session-local staging table.
    func createTempTable(_ name: String, columns: String) -> String
    /// An index on a session-local staging table.
    func createTempIndex(_ name: String, on table: String, columns: String) -> String
    /// The n-th (1-based) bind parameter.
    func parameter(_ n: Int) -> String
    /// A subquery returning one row: `SELECT ... LIMIT 1` or `SELECT TOP 1 ...`.
    func selectFirst(_ columns: String, rest: String) -> String
}

public struct SQLiteDialect: SQLDialect {
    public init() {}
    public func table(_ name: String) -> String { name }
    public func distinct(_ a: String, _ b: String) -> String { "\(a) IS NOT \(b)" }
    public func stagingType(_ type: ColumnType) -> String { type == .integer ? "INTEGER" : "TEXT" }
    public var integerType: String { "INTEGER" }
    public func createTempTable(_ name: String, columns: String) -> String { "CREATE TEMP TABLE IF NOT EXISTS \(name) (\(columns))" }
    public func createTempIndex(_ name: String, on table: String, columns: String) -> String {
        "CREATE INDEX IF NOT EXISTS \(name) ON \(table) (\(columns))"
    }
    public func parameter(_ n: Int) -> String { "?\(n)" }
    public func selectFirst(_ columns: String, rest: String) -> String { "SELECT \(columns) \(rest) LIMIT 1" }
}
