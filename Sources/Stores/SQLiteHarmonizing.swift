import Foundation

/// The embedded LMS-DS cannot harmonize: the harmonizer links the LMS-DS to an Ed-Fi ODS in the
/// same database, and an ODS is never an SQLite file. Callers ask `harmonizeSupport` first.
extension SQLiteStore: Harmonizing {
    static let noODS = "the embedded SQLite LMS-DS has no Ed-Fi ODS (harmonizing needs the LMS-DS in the ODS's PostgreSQL database)"

    /// Never ready: an ODS is never an SQLite file.
    public func harmonizeSupport() throws -> HarmonizeSupport { .unavailable(reason: SQLiteStore.noODS) }
    /// Throws `StoreError.unavailable`: there is no ODS to link to.
    public func harmonize(sourceSystems: [String]) throws -> HarmonizeReport { throw StoreError.unavailable(SQLiteStore.noODS) }
    /// Throws `StoreError.unavailable`: there are no exception views.
    public func exceptionCounts() throws -> ExceptionCounts { throw StoreError.unavailable(SQLiteStore.noODS) }
    /// Throws `StoreError.unavailable`: there is no report to write.
    public func writeExceptionReports(to directory: String, at: Date) throws -> [String] { throw StoreError.unavailable(SQLiteStore.noODS) }
}
