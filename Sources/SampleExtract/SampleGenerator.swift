// A deterministic generator of realistic LMS extractor trees (Canvas-like), one daily snapshot at a
// time. Every value is a pure function of (seed, day, entity): writing day 3 needs neither day 1
// nor day 2 on disk, and the same options always give byte-identical files.
//
// The model, per day N (N >= 2 relative to N - 1):
// * entities are "slots" with a birth day: base slots are born on day 1, each day adds a few new
//   slots (new ids, numbered after the older ones, so ids are stable and grow with time);
// * every entity of a day has, for each later day, a small chance to be removed (for good) and a
//   chance to change; a change gives a new value and a LastModifiedDate on that day;
// * children exist only while their parents exist: a removed user loses its enrollments, their
//   submissions, attendance and activities; a removed section has no folder that day; a removed
//   assignment has no submissions folder;
// * attendance events and section activities accumulate (the file of a section holds the whole
//   term so far, as the extractors write it); system activities are the sign-ins of the day.
//
// Files of one snapshot are all named after the day's extraction time (23:00-23:30 local time),
// day 1 being 2026-09-01. Files start with a UTF-8 BOM, use LF line ends and RFC 4180 quoting.
// A file without data rows is written as a lone "\n" (1 byte), like the extractors (pandas) do.
import Extract

/// What to generate: the size of the tree on day 1, its LMS, its seed and the day to write. Later days
/// grow from the same sizes (about 1% new users, 0.5% new sections, 2% new assignments a day).
public struct SampleOptions: Sendable {
    /// Users on day 1 (about one in 25 is a teacher).
    public var users = 50
    /// Sections on day 1; each student is enrolled in about five of them (all, when there are fewer).
    public var sections = 6
    /// Assignments of each section on day 1.
    public var assignmentsPerSection = 4
    /// The `SourceSystem` of every row (1 to 255 characters); `Schoology` and `Google` also get their
    /// own assignment categories and submission states, anything else Canvas's.
    public var sourceSystem = "Canvas"
    /// The seed of every random decision: the same options write the same bytes.
    public var seed: UInt64 = 1
    /// Which daily snapshot to write (1-based): day 1 is 2026-09-01, day N is N - 1 days later.
    public var day = 1
    /// The defaults: a small Canvas tree, seed 1, day 1.
    public init() {}
}

/// What one run of the generator wrote.
public struct SampleSummary: Sendable {
    /// Every file written, grades files and 1-byte empty files included.
    public var files: Int
    /// Data rows written per loadable resource (every resource has an entry; grades are not counted).
    public var rows: [Resource: Int]
    /// Data rows written over every loadable resource (the sum of `rows`).
    public var totalRows: Int
}

/// Options the generator cannot honour, or a file it cannot write.
public struct SampleError: Error, Sendable, CustomStringConvertible {
    /// What is wrong (`day must be between 1 and 999, not 0`).
    public let message: String
    /// An error with this message.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// The generator of realistic, deterministic extractor trees (`lms-agent generate-sample`), for
/// demos, tests and benchmarks. Its resource files' headers come from the standard `ResourceSchema`s,
/// so what it writes is what the reader accepts.
public enum SampleGenerator {
    /// Writes the snapshot of `options.day` into `root` (creating folders); returns what it wrote.
    public static func write(to root: String, options: SampleOptions) throws -> SampleSummary {
        let snapshot = try Snapshot(options)
        let tree = ExtractTree(root: root, fileName: snapshot.fileName)
        try tree.makeRoot()
        let users = try UsersWriter.write(snapshot, into: tree)
        for section in try SectionsWriter.write(snapshot, into: tree) {
            let seats = try SectionAssociationsWriter.write(snapshot, section, users, into: tree)
            for assignment in try AssignmentsWriter.write(snapshot, section, into: tree) {
                try SubmissionsWriter.write(snapshot, section, assignment, seats, into: tree)
            }
            try AttendanceWriter.write(snapshot, section, seats, into: tree)
            try SectionActivitiesWriter.write(snapshot, section, seats, into: tree)
            try GradesWriter.write(snapshot, section, seats, into: tree)
        }
        try SystemActivitiesWriter.write(snapshot, users, into: tree)
        return tree.summary
    }
}

// The files of the generator, one job each:
// * Snapshot: the checked options, sizes and extraction time; RandomSource: the seeded hash and salts;
//   LifeCycle: removals, changes and dates of an entity; WallClock: the calendar; SampleID: the ids;
//   Vocabulary: names, courses, titles and the other words.
// * CSVFile: bytes and quoting; ResourceFile: rows by column name, in the resource schema's order;
//   ExtractTree: folders, file names and the summary.
// * One writer per file kind (UsersWriter ... SystemActivitiesWriter, and GradesWriter), driven above.
