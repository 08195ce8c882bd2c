import Extract

/// The few places where the engines' SQL differs. The merge itself is written once (MergeSQL).
protocol SQLDialect: Sendable {
    /// The name of a production table (`LMSUser` -> `lms.lmsuser` on PostgreSQL).
    func table(_ name: String) -> String
    /// Null-safe "differs" comparison.
    func distinct(_ a: String, _ b: String) -> String
    /// The column type of a staging column.
    func stagingType(_ type: ColumnType) -> String
    var integerType: String { get }
    /// The type of a staged row's id (`ResourceRow.id`, 64 bits: the buffer's ids are).
    var rowIdType: String { get }
    /// `CREATE TEMP TABLE ...` prefix for a session-local staging table.
    func createTempTable(_ name: String, columns: String) -> String
    /// An index on a session-local staging table.
    func createTempIndex(_ name: String, on table: String, columns: String) -> String
    /// The n-th (1-based) bind parameter.
    func parameter(_ n: Int) -> String
    /// A bind parameter holding a timestamp, where the engine cannot infer the type from context.
    func timestampParameter(_ n: Int) -> String
    /// Empties staging tables.
    func clear(_ tables: [String]) -> [String]
    /// Records a file in ProcessedFiles, replacing an older record of the same path.
    /// Parameters: 1 FullPath, 2 ResourceName, 3 NumberOfRows, 4 UploadDateTime, 5 Checksum.
    var upsertProcessedFile: String { get }
    /// A subquery returning one row: `SELECT ... LIMIT 1` or `SELECT TOP 1 ...`.
    func selectFirst(_ columns: String, rest: String) -> String
}

struct SQLiteDialect: SQLDialect {
    init() {}
    func table(_ name: String) -> String { name }
    func distinct(_ a: String, _ b: String) -> String { "\(a) IS NOT \(b)" }
    func stagingType(_ type: ColumnType) -> String { type == .integer ? "INTEGER" : "TEXT" }
    var integerType: String { "INTEGER" }
    var rowIdType: String { "INTEGER" }
    func createTempTable(_ name: String, columns: String) -> String { "CREATE TEMP TABLE IF NOT EXISTS \(name) (\(columns))" }
    func createTempIndex(_ name: String, on table: String, columns: String) -> String {
        "CREATE INDEX IF NOT EXISTS \(name) ON \(table) (\(columns))"
    }
    func parameter(_ n: Int) -> String { "?\(n)" }
    func timestampParameter(_ n: Int) -> String { "?\(n)" }
    func clear(_ tables: [String]) -> [String] { tables.map { "DELETE FROM \($0)" } }
    var upsertProcessedFile: String {
        """
        INSERT INTO ProcessedFiles (FullPath, ResourceName, NumberOfRows, UploadDateTime, Checksum, Applied)
        VALUES (?1, ?2, ?3, ?4, ?5, CAST(?6 AS INTEGER))
        ON CONFLICT (FullPath) DO UPDATE SET ResourceName = excluded.ResourceName, NumberOfRows = excluded.NumberOfRows,
            UploadDateTime = excluded.UploadDateTime, Checksum = excluded.Checksum, Applied = excluded.Applied
        """
    }
    func selectFirst(_ columns: String, rest: String) -> String { "SELECT \(columns) \(rest) LIMIT 1" }
}

/// PostgreSQL: the upstream lower-case names (unquoted identifiers fold), `IS DISTINCT FROM`,
/// typed session-local staging tables.
struct PostgresDialect: SQLDialect {
    init() {}
    func table(_ name: String) -> String { "lms.\(name)" }
    func distinct(_ a: String, _ b: String) -> String { "\(a) IS DISTINCT FROM \(b)" }
    func stagingType(_ type: ColumnType) -> String {
        switch type {
        case .text, .truncatedText, .submissionTypes: return "TEXT"
        case .dateTime, .wallClockDateTime: return "TIMESTAMP"
        case .date: return "DATE"
        case .integer: return "INT"
        }
    }
    var integerType: String { "INT" }
    var rowIdType: String { "BIGINT" }
    func createTempTable(_ name: String, columns: String) -> String {
        "CREATE TEMP TABLE IF NOT EXISTS \(name) (\(columns))"
    }
    func createTempIndex(_ name: String, on table: String, columns: String) -> String {
        "CREATE INDEX IF NOT EXISTS \(name) ON \(table) (\(columns))"
    }
    func parameter(_ n: Int) -> String { "$\(n)" }
    func timestampParameter(_ n: Int) -> String { "CAST($\(n) AS TIMESTAMP)" }
    /// One TRUNCATE of them all (about 0.8 ms). Measured alternatives were worse: DELETE leaves dead
    /// rows that no autovacuum removes from a temporary table, so every later batch scans them all;
    /// ON COMMIT DELETE ROWS truncates every such table of the session at every commit.
    func clear(_ tables: [String]) -> [String] { ["TRUNCATE " + tables.joined(separator: ", ")] }
    var upsertProcessedFile: String {
        """
        INSERT INTO lms.ProcessedFiles (FullPath, ResourceName, NumberOfRows, UploadDateTime, Checksum, Applied)
        VALUES ($1, $2, CAST($3 AS INT), CAST($4 AS TIMESTAMP), $5, CAST($6 AS BOOLEAN))
        ON CONFLICT (FullPath) DO UPDATE SET ResourceName = excluded.ResourceName, NumberOfRows = excluded.NumberOfRows,
            UploadDateTime = excluded.UploadDateTime, Checksum = excluded.Checksum, Applied = excluded.Applied
        """
    }
    func selectFirst(_ columns: String, rest: String) -> String { "SELECT \(columns) \(rest) LIMIT 1" }
}
