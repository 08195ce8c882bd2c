// The SourceSystemIdentifier of every generated entity: a number per kind with its own prefix, built
// from slot numbers, so ids are stable from day to day and never collide across kinds.

enum SampleID {
    static func user(_ slot: Int) -> UInt64 { 100_001_000 + u(slot) }
    static func section(_ slot: Int) -> UInt64 { 200_010_000 + u(slot) }
    /// A user's seat in a section, the input of the enrollment's, attendance's and grade's ids.
    static func enrollmentKey(_ section: Int, _ user: Int) -> UInt64 { u(section) * 1_000_000 + u(user) }
    static func enrollment(_ key: UInt64) -> UInt64 { 400_000_000_000 + key }
    /// The `local`-th assignment of a section, the input of the assignment's and submissions' ids.
    static func assignmentKey(_ section: Int, _ local: Int) -> UInt64 { u(section) * 10_000 + u(local) }
    static func assignment(_ key: UInt64) -> UInt64 { 3_000_000_000 + key }
    static func submission(_ assignment: UInt64, _ user: Int) -> UInt64 { 5_000_000_000_000_000 + assignment * 1_000_000 + u(user) }
    static func attendance(_ enrollment: UInt64, _ d: Int) -> UInt64 { 6_000_000_000_000_000 + enrollment * 1000 + u(d) }
    static func sectionActivity(_ section: Int, _ d: Int, _ j: Int) -> UInt64 { 7_000_000_000_000 + u(section) * 10_000_000 + u(d) * 1000 + u(j) }
    static func systemActivity(_ d: Int, _ user: Int, _ k: Int) -> UInt64 { 8_000_000_000_000 + (u(d) * 1_000_000 + u(user)) * 4 + u(k) }
    static func grade(_ enrollment: UInt64) -> UInt64 { 900_000_000_000 + enrollment }
}
