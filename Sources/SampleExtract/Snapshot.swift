// The options of one run, checked and turned into what every writer shares: the snapshot day, the
// source system, the random source, the sizes and daily additions of the tree, and the extraction time.

struct Snapshot {
    let day: Int
    let system: String
    let random: RandomSource

    // Sizes on day 1.
    let baseUsers: Int, baseSections: Int, baseAssignments: Int
    /// Teachers among the day-1 users (every user slot that is a multiple of 25).
    let baseTeachers: Int
    // New slots per day, and the chance that each is born.
    let userCap: Int, userAdd: UInt64
    let sectionCap: Int, sectionAdd: UInt64
    /// The daily chance of a new assignment in a section.
    let assignmentAdd: UInt64
    /// The chance that a student is a member of a given section (about 5 sections each).
    let member: UInt64
    // Slots up to the snapshot day.
    let userSlots: Int, sectionSlots: Int

    /// When the snapshot was extracted (23:00-23:30 of its day).
    let extractionTime: Int
    /// The name of every file of the snapshot, after its extraction time.
    let fileName: String

    init(_ options: SampleOptions) throws {
        guard options.day >= 1, options.day <= 999 else { throw SampleError("day must be between 1 and 999, not \(options.day)") }
        guard options.users >= 0, options.sections >= 0, options.assignmentsPerSection >= 0 else {
            throw SampleError("users, sections and assignmentsPerSection must not be negative")
        }
        guard !options.sourceSystem.isEmpty, options.sourceSystem.unicodeScalars.count <= 255 else {
            throw SampleError("sourceSystem must be 1 to 255 characters long")
        }
        day = options.day
        system = options.sourceSystem
        random = RandomSource(seed: options.seed)
        baseUsers = options.users
        baseSections = options.sections
        baseAssignments = options.assignmentsPerSection

        // New entities per day: a fixed number of slots per day, each born with a probability, so
        // that the expected number of additions is 1% of users, 0.5% of sections, 2% of assignments.
        func capacity(_ base: Int, _ rate: Double) -> (Int, UInt64) {
            let expected = Double(base) * rate
            let cap = max(1, Int((expected * 2).rounded(.up)))
            return (cap, threshold(expected / Double(cap)))
        }
        (userCap, userAdd) = capacity(baseUsers, 0.01)
        (sectionCap, sectionAdd) = capacity(baseSections, 0.005)
        assignmentAdd = threshold(Double(baseAssignments) * 0.02)
        userSlots = baseUsers + (day - 1) * userCap
        sectionSlots = baseSections + (day - 1) * sectionCap
        guard userSlots < 1_000_000, sectionSlots < 100_000, baseAssignments + day < 10_000 else {
            throw SampleError("too many users, sections or assignments for the identifier scheme")
        }
        baseTeachers = (baseUsers + 24) / 25
        member = threshold(baseSections == 0 ? 0 : 5.0 / Double(baseSections))

        extractionTime = WallClock.dayStart(day) + 23 * WallClock.hour + Int(random.hash(Salt.extraction, u(day)) % 1800)
        fileName = WallClock.text(extractionTime, separator: "-", timeSeparator: "-") + ".csv"
    }
}
