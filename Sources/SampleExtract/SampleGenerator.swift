#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Extract

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

// MARK: - Public API

public struct SampleOptions: Sendable {
    public var users = 50, sections = 6, assignmentsPerSection = 4
    public var sourceSystem = "Canvas"
    public var seed: UInt64 = 1
    /// Which daily snapshot to write (1-based): day 1 is 2026-09-01, day N is N - 1 days later.
    public var day = 1
    public init() {}
}

public struct SampleSummary: Sendable {
    /// Every file written, grades files and 1-byte empty files included.
    public var files: Int
    /// Data rows written per loadable resource (every resource has an entry; grades are not counted).
    public var rows: [Resource: Int]
    public var totalRows: Int
}

/// Options the generator cannot honour, or a file it cannot write.
public struct SampleError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum SampleGenerator {
    /// Writes the snapshot of `options.day` into `root` (creating folders); returns what it wrote.
    public static func write(to root: String, options: SampleOptions) throws -> SampleSummary {
        let generation = try Generation(root: root, options: options)
        try generation.run()
        return generation.summary
    }
}

// MARK: - Hashing and life cycles

@inline(__always)
private func splitMix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Salts, one per independent decision, so that no two decisions share random bits.
private enum Salt {
    static let extraction: UInt64 = 0x01, userBirth: UInt64 = 0x02, userLife: UInt64 = 0x03, userName: UInt64 = 0x04
    static let userLast: UInt64 = 0x05, userSuffix: UInt64 = 0x06, userCreate: UInt64 = 0x07
    static let sectionBirth: UInt64 = 0x10, sectionLife: UInt64 = 0x11, sectionCourse: UInt64 = 0x12, sectionCreate: UInt64 = 0x13
    static let member: UInt64 = 0x20, lateJoin: UInt64 = 0x21, enrollmentLife: UInt64 = 0x22, enrollmentCreate: UInt64 = 0x23
    static let teacher: UInt64 = 0x24, coTeacher: UInt64 = 0x25
    static let assignmentBirth: UInt64 = 0x30, assignmentLife: UInt64 = 0x31, assignmentAttributes: UInt64 = 0x32, assignmentCreate: UInt64 = 0x33
    static let submissionLife: UInt64 = 0x40, submissionState: UInt64 = 0x41, submissionCreate: UInt64 = 0x42
    static let attendanceSection: UInt64 = 0x50, attendance: UInt64 = 0x51, attendanceLife: UInt64 = 0x52
    static let activitySection: UInt64 = 0x60, activityCount: UInt64 = 0x61, activity: UInt64 = 0x62, activityLife: UInt64 = 0x63
    static let system: UInt64 = 0x70, grade: UInt64 = 0x80, change: UInt64 = 0x90, life: UInt64 = 0x91
}

/// The probability `p` as a threshold for the upper (or lower) 32 bits of a hash.
private func threshold(_ p: Double) -> UInt64 { UInt64(min(max(p, 0), 1) * 4_294_967_296.0) }

@inline(__always) private func hit(_ r: UInt64, _ t: UInt64) -> Bool { (r >> 32) < t }
@inline(__always) private func u(_ i: Int) -> UInt64 { UInt64(truncatingIfNeeded: i) }

/// What happened to an entity between its birth and the snapshot day.
private struct Life {
    var alive = true
    /// How many times it changed; 0 = as created.
    var version = 0
    /// The day of the last change (0 = never changed).
    var lastChange = 0
    /// The day it was removed (Int.max = not removed up to the snapshot day).
    var death = Int.max
}

// MARK: - Tables

private struct Name {
    let display: String
    let login: String
    init(_ display: String) {
        self.display = display
        var s = ""
        for ch in display.lowercased() {
            switch ch {
            case "á", "à", "ä", "â": s.append("a")
            case "é", "è", "ë", "ê": s.append("e")
            case "í", "ï", "î": s.append("i")
            case "ó", "ö", "ô": s.append("o")
            case "ú", "ü": s.append("u")
            case "ñ": s.append("n")
            case "ç": s.append("c")
            default: if ch.isASCII && (ch.isLetter || ch.isNumber) { s.append(ch) }
            }
        }
        login = s
    }
}

private enum Tables {
    static let firstNames: [Name] = [
        "Lisa", "Fannie", "Robert", "Kyle", "Maria", "José", "Zoë", "Aaliyah", "Liam", "Noah", "Olivia", "Emma",
        "Ava", "Sophia", "Isabella", "Mia", "Amelia", "Harper", "Evelyn", "Abigail", "Ethan", "Mason", "Logan",
        "Lucas", "Jackson", "Aiden", "Elijah", "James", "Benjamin", "Sebastian", "Mateo", "Daniel", "Henry",
        "Alexander", "Chloé", "Mei", "Hiroshi", "Priya", "Arjun", "Fatima", "Omar", "Yusuf", "Amara", "Kwame",
        "Ngozi", "Siobhán", "Björn", "Renée", "François", "Ximena", "Camila", "Valentina", "Diego", "Santiago",
        "Anaïs", "Leilani", "Keanu", "Dmitri", "Anastasia", "Ji-woo", "Mary Ann", "Jean-Luc",
    ].map(Name.init)
    static let lastNames: [Name] = [
        "Woods", "Medina", "McKee", "Hughes", "Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller",
        "Davis", "Rodríguez", "Martínez", "Hernández", "López", "González", "Wilson", "Anderson", "Thomas",
        "Taylor", "Moore", "Jackson", "Martin", "Lee", "Pérez", "Thompson", "White", "Harris", "Sánchez", "Clark",
        "Ramírez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
        "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
        "Roberts", "O'Brien", "D'Angelo", "Van der Berg", "Smith-Jones", "Okafor", "Kowalski", "Yamamoto",
    ].map(Name.init)

    struct Course { let code: String; let name: String; let description: String }
    static let courses: [Course] = [
        Course(code: "ALG-1", name: "Algebra I", description: "Linear equations, inequalities and functions."),
        Course(code: "GEO-1", name: "Geometry", description: "Proofs, congruence, similarity and \"real world\" modeling."),
        Course(code: "ENG-1", name: "English/Language Arts I (9th grade)", description: "Reading, writing, speaking and listening."),
        Course(code: "ENG-2", name: "English II", description: "World literature: \"The Odyssey\", \"Things Fall Apart\" and more."),
        Course(code: "BIO-1", name: "Biology", description: "Cells, genetics, evolution and ecology; weekly labs."),
        Course(code: "CHM-1", name: "Chemistry", description: "Matter, reactions and stoichiometry."),
        Course(code: "PHY-1", name: "Physics", description: "Motion, forces, energy and waves."),
        Course(code: "USH-1", name: "U.S. History", description: "From Reconstruction to the present."),
        Course(code: "WH-1", name: "World History", description: "Ancient civilizations to the modern era."),
        Course(code: "GOV-1", name: "Government", description: "Civics, the Constitution and \"how a bill becomes a law\"."),
        Course(code: "SPA-1", name: "Spanish I", description: "Introducción al español: vocabulario y gramática."),
        Course(code: "FRE-1", name: "French I", description: "Introduction au français."),
        Course(code: "ART-1", name: "Art I", description: "Drawing, painting, sculpture."),
        Course(code: "CSP-1", name: "AP Computer Science Principles", description: "Programming, data and the internet; the \"Create\" performance task."),
        Course(code: "PE-1", name: "Physical Education", description: "Fitness, team sports and health."),
        Course(code: "MUS-1", name: "Concert Band", description: "Ensemble performance, including some evening concerts."),
        Course(code: "PRE-CAL", name: "Pre-Calculus", description: "Functions, trigonometry and limits."),
        Course(code: "ECO-1", name: "Economics", description: "Micro- and macroeconomics, personal finance."),
    ]

    /// `#` is replaced by the assignment's number.
    static let assignmentTitles = [
        "Chapter # review", "Quiz #", "Unit # test", "Homework #", "Reading response #",
        "Lab #: \"Observation\" report", "Essay draft #, peer review", "Project # - research, outline and sources",
        "Discussion #: what did you learn?", "Exit ticket #", "Vocabulary, set #", "Practice problems #",
    ]
    static let assignmentDescriptions = [
        "", "Complete the exercises at the end of the chapter. Show your work.",
        "Read the article \"Why Sleep Matters\" and write a one-page response.",
        "Post a screenshot of your results, then reply to two classmates.",
        "Answer questions 1-10, 12, and 15.\nSubmit everything as a single PDF.",
        "Use the rubric \"Argument, Evidence, Reasoning\" (AER) to assess your own work.",
        "Watch the video, take notes, and bring two questions to class.", "",
    ]
    static let submissionTypes = [
        "online_upload", "online_upload", "online_upload", "['online_text_entry', 'online_upload']",
        "['online_text_entry', 'online_upload']", "online_quiz", "online_quiz", "discussion_topic",
        "['online_url', 'online_upload', 'media_recording']", "online_text_entry", "basic_lti_launch",
    ]
    static let maxPoints = [10, 20, 25, 50, 100, 100]
    static let attendanceStatuses = ["Unexcused", "Excused", "Tardy", "Early departure"]
    static let gradesColumns = [
        "SourceSystemIdentifier", "SourceSystem", "Grade", "GradeType", "LMSUserLMSSectionAssociationSourceSystemIdentifier",
        "CreateDate", "LastModifiedDate", "SourceCreateDate", "SourceLastModifiedDate",
    ]

    /// The columns this generator writes, in order; checked against `ResourceSchema` before writing.
    static let columns: [Resource: [String]] = {
        let key = ["SourceSystemIdentifier", "SourceSystem"]
        let audit = ["CreateDate", "LastModifiedDate", "SourceCreateDate", "SourceLastModifiedDate"]
        let activity = ["ActivityType", "ActivityDateTime", "ActivityStatus", "ParentSourceSystemIdentifier", "ActivityTimeInMinutes"]
        return [
            .users: key + ["UserRole", "LocalUserIdentifier", "SISUserIdentifier", "Name", "EmailAddress"] + audit,
            .sections: key + ["SISSectionIdentifier", "Title", "SectionDescription", "Term", "LMSSectionStatus"] + audit,
            .sectionAssociations: key + ["EnrollmentStatus", "LMSUserSourceSystemIdentifier", "LMSSectionSourceSystemIdentifier"] + audit,
            .assignments: key + ["Title", "AssignmentCategory", "AssignmentDescription", "StartDateTime", "EndDateTime",
                                 "DueDateTime", "SubmissionType", "MaxPoints", "LMSSectionSourceSystemIdentifier"] + audit,
            .submissions: key + ["SubmissionStatus", "SubmissionDateTime", "EarnedPoints", "Grade",
                                 "AssignmentSourceSystemIdentifier", "LMSUserSourceSystemIdentifier"] + audit,
            .attendanceEvents: key + ["EventDate", "AttendanceStatus", "LMSSectionSourceSystemIdentifier", "LMSUserSourceSystemIdentifier"] + audit,
            .sectionActivities: key + activity + ["LMSSectionSourceSystemIdentifier", "LMSUserSourceSystemIdentifier"] + audit,
            .systemActivities: key + activity + ["LMSUserSourceSystemIdentifier"] + audit,
        ]
    }()

    static func letter(percent p: Int) -> String {
        switch p {
        case 93...: return "A"
        case 90..<93: return "A-"
        case 87..<90: return "B+"
        case 83..<87: return "B"
        case 80..<83: return "B-"
        case 77..<80: return "C+"
        case 73..<77: return "C"
        case 70..<73: return "C-"
        case 67..<70: return "D+"
        case 60..<67: return "D"
        default: return "F"
        }
    }
}

/// Submission states, spelled per source system as its descriptors spell them.
private enum SubmissionState: Int {
    case graded, late, missing, submitted, upcoming

    func text(for system: String) -> String {
        switch system {
        case "Schoology":
            return ["on-time", "late", "missing", "draft", "Upcoming"][rawValue]
        case "Google":
            return ["RETURNED", "LATE", "MISSING", "TURNED_IN", "NEW"][rawValue]
        default:
            return ["graded", "late", "missing", "on-time", "Upcoming"][rawValue]
        }
    }
}

// MARK: - Time

private enum Clock {
    // The civil-date arithmetic of Extract's date parser.
    static func daysFromCivil(_ y: Int, _ m: Int, _ d: Int) -> Int { Values.daysFromCivil(y, m, d) }
    static func civil(_ z: Int) -> (year: Int, month: Int, day: Int) { Values.civilFromDays(z) }

    /// Seconds since 1970-01-01 00:00 (local wall clock, no zone) of midnight of 2026-09-01.
    static let dayOne = daysFromCivil(2026, 9, 1) * 86_400
    static let hour = 3600, dayLength = 86_400

    /// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD-HH-MM-SS`.
    static func text(_ t: Int, dateOnly: Bool = false, separator: Character = " ", timeSeparator: Character = ":") -> String {
        let (y, m, d) = civil(t / dayLength)
        let s = t % dayLength
        func p2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let date = "\(y)-\(p2(m))-\(p2(d))"
        if dateOnly { return date }
        return date + String(separator) + p2(s / 3600) + String(timeSeparator) + p2(s / 60 % 60) + String(timeSeparator) + p2(s % 60)
    }
}

// MARK: - Buffered CSV writer

/// Writes one CSV file through a 64 KiB buffer. The BOM and header are written with the first
/// row; a file that gets no row is written as a lone "\n".
private final class CSVOut {
    static let capacity = 64 * 1024
    let path: String
    private var fd: Int32
    private let buffer: UnsafeMutablePointer<UInt8>
    private var used = 0
    private var failure: Int32 = 0
    private let header: [UInt8]
    private(set) var rows = 0
    private var firstField = true

    init(path: String, columns: [String]) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SampleError("cannot create \(path): \(String(cString: strerror(errno)))") }
        buffer = .allocate(capacity: Self.capacity)
        header = [0xEF, 0xBB, 0xBF] + Array(columns.joined(separator: ",").utf8) + [0x0A]
    }

    deinit {
        buffer.deallocate()
        if fd >= 0 { close(fd) }
    }

    private func flush() {
        var offset = 0
        while offset < used && failure == 0 {
            let n = write(fd, buffer + offset, used - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
            } else {
                offset += n
            }
        }
        used = 0
    }

    @inline(__always) private func byte(_ b: UInt8) {
        if used == Self.capacity { flush() }
        buffer[used] = b
        used += 1
    }

    @inline(__always) private func reserve(_ n: Int) {
        if Self.capacity - used < n { flush() }
    }

    private func bytes(_ p: UnsafeBufferPointer<UInt8>) {
        guard var source = p.baseAddress else { return }
        var left = p.count
        while left > 0 {
            if used == Self.capacity { flush() }
            let k = min(left, Self.capacity - used)
            (buffer + used).update(from: source, count: k)
            used += k
            source += k
            left -= k
        }
    }

    @inline(__always) private func separator() {
        if firstField { firstField = false } else { byte(0x2C) }
    }

    func beginRow() {
        if rows == 0 { header.withUnsafeBufferPointer { bytes($0) } }
        firstField = true
    }

    func endRow() {
        byte(0x0A)
        rows += 1
    }

    func null() { separator() }

    /// A text value, quoted (RFC 4180) when it holds a comma, a quote or a line break.
    func text(_ value: String) {
        separator()
        var value = value
        value.withUTF8 { p in
            var needsQuotes = false
            for b in p where b == 0x2C || b == 0x22 || b == 0x0A || b == 0x0D {
                needsQuotes = true
                break
            }
            if !needsQuotes { bytes(p); return }
            byte(0x22)
            for b in p {
                if b == 0x22 { byte(0x22) }
                byte(b)
            }
            byte(0x22)
        }
    }

    func int(_ value: Int) {
        separator()
        if value < 0 { byte(0x2D) }
        digits(UInt64(value.magnitude))
    }

    func id(_ value: UInt64) {
        separator()
        digits(value)
    }

    private func digits(_ value: UInt64) {
        reserve(20)
        var v = value
        var count = 1
        while v >= 10 { v /= 10; count += 1 }
        v = value
        var i = used + count - 1
        repeat {
            buffer[i] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
            v /= 10
            i -= 1
        } while v > 0
        used += count
    }

    /// `YYYY-MM-DD HH:MM:SS`.
    func date(_ t: Int) {
        separator()
        reserve(19)
        let (y, m, d) = Clock.civil(t / Clock.dayLength)
        let s = t % Clock.dayLength
        let p = buffer + used
        @inline(__always) func two(_ at: Int, _ n: Int) {
            p[at] = UInt8(truncatingIfNeeded: n / 10) &+ 0x30
            p[at + 1] = UInt8(truncatingIfNeeded: n % 10) &+ 0x30
        }
        two(0, y / 100 % 100); two(2, y % 100)
        p[4] = 0x2D; two(5, m); p[7] = 0x2D; two(8, d)
        p[10] = 0x20; two(11, s / 3600); p[13] = 0x3A; two(14, s / 60 % 60); p[16] = 0x3A; two(17, s % 60)
        used += 19
    }

    /// Completes the file; throws if any write failed.
    func finish() throws {
        if rows == 0 { byte(0x0A) }
        flush()
        let rc = close(fd)
        fd = -1
        if failure != 0 { throw SampleError("cannot write \(path): \(String(cString: strerror(failure)))") }
        if rc != 0 { throw SampleError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}

// MARK: - Generation

/// One potential student of a section: a user the section draws from, whether or not the
/// enrollment exists on the snapshot day.
private struct Seat {
    var user: Int
    var userBorn: Int
    /// The day the enrollment starts (may be after the snapshot day).
    var born: Int
    var key: UInt64
    /// The enrollment exists on the snapshot day.
    var alive: Bool
    var life: Life
    var create: Int
}

private struct AssignmentInfo {
    var key: UInt64
    var born: Int
    var create: Int
    var maxPoints: Int
}

private final class Generation {
    let root: String
    let day: Int
    let system: String
    let seed: UInt64
    let timestamp: String
    let extractionTime: Int
    private(set) var summary = SampleSummary(files: 0, rows: [:], totalRows: 0)

    // Sizes and daily rates.
    let baseUsers: Int, baseSections: Int, baseAssignments: Int
    let userCap: Int, userAdd: UInt64
    let sectionCap: Int, sectionAdd: UInt64
    let assignmentAdd: UInt64
    let member: UInt64
    let userSlots: Int, sectionSlots: Int
    let baseTeachers: Int
    static let userRemove = threshold(0.008), userChange = threshold(0.03)
    static let sectionRemove = threshold(0.002), sectionChange = threshold(0.02)
    static let enrollmentRemove = threshold(0.002), enrollmentChange = threshold(0.01), lateJoin = threshold(0.01)
    static let assignmentRemove = threshold(0.002), assignmentChange = threshold(0.03)
    static let submissionChange = threshold(0.03)
    static let attendanceRate = threshold(0.05), attendanceRemove = threshold(0.005), attendanceChange = threshold(0.02)
    static let activityRemove = threshold(0.005), activityChange = threshold(0.02)
    static let signIn = threshold(0.8), signOut = threshold(0.5), coTeacher = threshold(0.2)
    static let removeNone: UInt64 = 0

    // Per user slot, for the snapshot day.
    var userBorn: [Int] = []
    var userLife: [Life] = []
    var userCreate: [Int] = []

    init(root: String, options: SampleOptions) throws {
        guard options.day >= 1, options.day <= 999 else { throw SampleError("day must be between 1 and 999, not \(options.day)") }
        guard options.users >= 0, options.sections >= 0, options.assignmentsPerSection >= 0 else {
            throw SampleError("users, sections and assignmentsPerSection must not be negative")
        }
        guard !options.sourceSystem.isEmpty, options.sourceSystem.unicodeScalars.count <= 255 else {
            throw SampleError("sourceSystem must be 1 to 255 characters long")
        }
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        day = options.day
        system = options.sourceSystem
        seed = splitMix(options.seed)
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
        // Every user slot that is a multiple of 25 is a teacher.
        baseTeachers = (baseUsers + 24) / 25
        member = threshold(baseSections == 0 ? 0 : 5.0 / Double(baseSections))

        extractionTime = Self.dayStart(day) + 23 * Clock.hour + Int(Self.hash(seed, Salt.extraction, u(day)) % 1800)
        timestamp = Clock.text(extractionTime, separator: "-", timeSeparator: "-") + ".csv"

        for resource in Resource.allCases {
            summary.rows[resource] = 0
            guard Tables.columns[resource] == ResourceSchema.of(resource).columns.map(\.name) else {
                throw SampleError("the generator's \(resource.rawValue) columns differ from the resource schema")
            }
        }
    }

    // MARK: helpers

    @inline(__always)
    static func hash(_ seed: UInt64, _ salt: UInt64, _ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0) -> UInt64 {
        splitMix(splitMix(splitMix(splitMix(seed ^ salt) ^ a) ^ b) ^ c)
    }

    @inline(__always)
    func hash(_ salt: UInt64, _ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0) -> UInt64 {
        Self.hash(seed, salt, a, b, c)
    }

    static func dayStart(_ d: Int) -> Int { Clock.dayOne + (d - 1) * Clock.dayLength }

    /// Removals and changes of an entity born on `born`, up to the snapshot day.
    func life(_ salt: UInt64, _ id: UInt64, born: Int, remove: UInt64, change: UInt64) -> Life {
        var l = Life()
        var k = born + 1
        while k <= day {
            let r = hash(Salt.life ^ (salt << 8), id, u(k))
            if (r & 0xFFFF_FFFF) < remove {
                l.alive = false
                l.death = k
                return l
            }
            if (r >> 32) < change {
                l.version += 1
                l.lastChange = k
            }
            k += 1
        }
        return l
    }

    /// A creation time on the birth day (after `after`): before the day-1 extraction for day-1
    /// entities, during the working day (07:00-22:00) otherwise.
    func created(born: Int, after: Int, _ salt: UInt64, _ id: UInt64) -> Int {
        let start = Self.dayStart(born)
        let low = born == 1 ? after : max(after, start + 7 * Clock.hour)
        let high = start + 22 * Clock.hour
        return low + Int(hash(salt, id, 0xC2EA7E) % u(max(1, high - low)))
    }

    /// When a change of day `k` happened (07:00-22:00 of that day).
    func changed(_ salt: UInt64, _ id: UInt64, _ k: Int) -> Int {
        Self.dayStart(k) + 7 * Clock.hour + Int(hash(Salt.change ^ (salt << 8), id, u(k)) % u(15 * Clock.hour))
    }

    func lastModified(_ life: Life, created: Int, _ salt: UInt64, _ id: UInt64) -> Int {
        life.lastChange > 0 ? changed(salt, id, life.lastChange) : created
    }

    static func isWeekday(_ d: Int) -> Bool {
        let weekday = ((dayStart(d) / Clock.dayLength) % 7 + 4) % 7 // 0 = Sunday
        return weekday != 0 && weekday != 6
    }

    static func userId(_ slot: Int) -> UInt64 { 100_001_000 + u(slot) }
    static func sectionId(_ slot: Int) -> UInt64 { 200_010_000 + u(slot) }
    static func enrollmentKey(_ section: Int, _ user: Int) -> UInt64 { u(section) * 1_000_000 + u(user) }
    static func enrollmentId(_ key: UInt64) -> UInt64 { 400_000_000_000 + key }
    static func assignmentKey(_ section: Int, _ local: Int) -> UInt64 { u(section) * 10_000 + u(local) }
    static func assignmentId(_ key: UInt64) -> UInt64 { 3_000_000_000 + key }
    static func submissionId(_ assignment: UInt64, _ user: Int) -> UInt64 { 5_000_000_000_000_000 + assignment * 1_000_000 + u(user) }
    static func attendanceId(_ enrollment: UInt64, _ d: Int) -> UInt64 { 6_000_000_000_000_000 + enrollment * 1000 + u(d) }
    static func activityId(_ section: Int, _ d: Int, _ j: Int) -> UInt64 { 7_000_000_000_000 + u(section) * 10_000_000 + u(d) * 1000 + u(j) }
    static func systemActivityId(_ d: Int, _ user: Int, _ k: Int) -> UInt64 { 8_000_000_000_000 + (u(d) * 1_000_000 + u(user)) * 4 + u(k) }
    static func gradeId(_ enrollment: UInt64) -> UInt64 { 900_000_000_000 + enrollment }

    /// Folders known to exist, so that each is created (or found) with one system call.
    private var folders: Set<String> = []

    /// Creates `<root>/<relative>` and any missing parent folder.
    private func makeDirectory(_ relative: String) throws {
        try makeFolder(relative.isEmpty ? root : root + "/" + relative)
    }

    private func makeFolder(_ path: String) throws {
        if path.isEmpty || folders.contains(path) { return }
        if mkdir(path, 0o755) != 0 {
            let error = errno
            if error == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex {
                try makeFolder(String(path[..<slash]))
                if mkdir(path, 0o755) != 0 && errno != EEXIST {
                    throw SampleError("cannot create folder \(path): \(String(cString: strerror(errno)))")
                }
            } else if error != EEXIST {
                throw SampleError("cannot create folder \(path): \(String(cString: strerror(error)))")
            }
        }
        folders.insert(path)
    }

    /// Opens `<folder>/<timestamp>` for a resource (nil: grades).
    private func open(_ folder: String, _ resource: Resource?) throws -> CSVOut {
        try makeDirectory(folder)
        let columns = resource.map { Tables.columns[$0]! } ?? Tables.gradesColumns
        return try CSVOut(path: root + "/" + folder + "/" + timestamp, columns: columns)
    }

    private func close(_ out: CSVOut, _ resource: Resource?) throws {
        try out.finish()
        summary.files += 1
        if let resource {
            summary.rows[resource, default: 0] += out.rows
            summary.totalRows += out.rows
        }
    }

    // MARK: run

    func run() throws {
        try makeDirectory("")
        try writeUsers()
        let sections = try writeSections()
        for (slot, born, create) in sections {
            try writeSection(slot: slot, born: born, create: create)
        }
        try writeSystemActivities()
    }

    func bornUser(_ slot: Int) -> Int {
        if slot < baseUsers { return 1 }
        let d = 2 + (slot - baseUsers) / userCap
        return hit(hash(Salt.userBirth, u(slot)), userAdd) ? d : 0
    }

    func isTeacher(_ slot: Int) -> Bool { slot % 25 == 0 }

    private func writeUsers() throws {
        let out = try open("users", .users)
        userBorn = Array(repeating: 0, count: userSlots)
        userLife = Array(repeating: Life(), count: userSlots)
        userCreate = Array(repeating: 0, count: userSlots)
        let august = Clock.dayOne - 31 * Clock.dayLength
        let firsts = Tables.firstNames, lasts = Tables.lastNames
        for slot in 0..<userSlots {
            let born = bornUser(slot)
            userBorn[slot] = born
            guard born > 0 else { continue }
            let id = Self.userId(slot)
            let l = life(Salt.userLife, u(slot), born: born, remove: Self.userRemove, change: Self.userChange)
            let create = created(born: born, after: august, Salt.userCreate, u(slot))
            userLife[slot] = l
            userCreate[slot] = create
            guard l.alive else { continue }

            let teacher = isTeacher(slot)
            let first = firsts[Int(hash(Salt.userName, u(slot)) % u(firsts.count))]
            let last0 = Int(hash(Salt.userLast, u(slot)) % u(lasts.count))
            let last = lasts[(last0 + l.version) % lasts.count]
            let login = first.login + "." + lasts[last0].login + String(slot)
            var name = first.display + " " + last.display
            if !teacher && hash(Salt.userSuffix, u(slot)) % 100 == 0 { name += ", Jr." }

            out.beginRow()
            out.id(id)
            out.text(system)
            out.text(teacher ? "teacher" : "student")
            out.text(login)
            out.text(teacher ? "E\(10_000 + slot)" : String(600_000 + slot))
            out.text(name)
            out.text(login + (teacher ? "@staff.example.org" : "@students.example.org"))
            out.date(create)
            out.date(lastModified(l, created: create, Salt.userLife, u(slot)))
            out.null()
            out.null()
            out.endRow()
        }
        try close(out, .users)
    }

    /// Writes the sections file; returns the sections that exist on the snapshot day.
    private func writeSections() throws -> [(Int, Int, Int)] {
        let out = try open("sections", .sections)
        var alive: [(Int, Int, Int)] = []
        let august = Clock.dayOne - 31 * Clock.dayLength
        for slot in 0..<sectionSlots {
            let born: Int
            if slot < baseSections {
                born = 1
            } else {
                born = hit(hash(Salt.sectionBirth, u(slot)), sectionAdd) ? 2 + (slot - baseSections) / sectionCap : 0
            }
            guard born > 0 else { continue }
            let l = life(Salt.sectionLife, u(slot), born: born, remove: Self.sectionRemove, change: Self.sectionChange)
            guard l.alive else { continue }
            let create = created(born: born, after: august, Salt.sectionCreate, u(slot))
            alive.append((slot, born, create))

            let r = hash(Salt.sectionCourse, u(slot))
            let course = Tables.courses[Int(r % u(Tables.courses.count))]
            let period = 1 + Int((r >> 16) % 7)
            let room = 100 + Int(((r >> 24) % 300 + u(l.version) * 37) % 300)
            let yearLong = (r >> 40) % 2 == 0
            var code = ""
            for ch in course.code where ch != "-" { code.append(ch) }
            let sis = "255901001" + String(String(100_000 + slot).dropFirst()) + "Trad" + code + String(period)

            out.beginRow()
            out.id(Self.sectionId(slot))
            out.text(system)
            out.text(sis)
            out.text((r >> 48) % 3 == 0 ? "\(course.name), Period \(period)" : "\(course.code) (P\(period))")
            out.text("\(course.name): \(course.description) Room \(room).")
            out.text(yearLong ? "255901001_2026-2027_Fall,255901001_2026-2027_Spring" : "255901001_2026-2027_Fall")
            out.text("Active")
            out.date(create)
            out.date(lastModified(l, created: create, Salt.sectionLife, u(slot)))
            out.null()
            out.null()
            out.endRow()
        }
        try close(out, .sections)
        return alive
    }

    /// The teachers of a section on the snapshot day, with the day each one's enrollment started.
    /// Each chain replaces a removed teacher by the next candidate from the day of the removal.
    private func teachers(section: Int, born: Int) -> [(user: Int, born: Int)] {
        guard baseTeachers > 0 else { return [] }
        var result: [(user: Int, born: Int)] = []
        let chains = hit(hash(Salt.coTeacher, u(section)), Self.coTeacher) ? 2 : 1
        for chain in 0..<chains {
            var from = born
            for k in 0..<12 {
                let t = 25 * Int(hash(Salt.teacher, u(section), u(chain), u(k)) % u(baseTeachers))
                let death = userLife[t].death
                if death <= from { continue }
                if death > day {
                    if !result.contains(where: { $0.user == t }) { result.append((t, from)) }
                    break
                }
                from = death
            }
        }
        return result
    }

    private func writeSection(slot section: Int, born sectionBorn: Int, create sectionCreate: Int) throws {
        let sectionFolder = "section=\(Self.sectionId(section))"
        let sectionId = Self.sectionId(section)

        // Enrollments: teachers, then the students the section draws.
        let enrollments = try open(sectionFolder + "/section-associations", .sectionAssociations)
        func writeEnrollment(_ key: UInt64, _ user: Int, _ l: Life, _ create: Int) {
            enrollments.beginRow()
            enrollments.id(Self.enrollmentId(key))
            enrollments.text(system)
            enrollments.text(l.version % 2 == 0 ? "Active" : "Inactive")
            enrollments.id(Self.userId(user))
            enrollments.id(sectionId)
            enrollments.date(create)
            enrollments.date(lastModified(l, created: create, Salt.enrollmentLife, key))
            enrollments.null()
            enrollments.null()
            enrollments.endRow()
        }
        for (t, from) in teachers(section: section, born: sectionBorn) {
            let key = Self.enrollmentKey(section, t)
            let l = life(Salt.enrollmentLife, key, born: from, remove: Self.removeNone, change: Self.enrollmentChange)
            let create = created(born: from, after: max(userCreate[t], sectionCreate), Salt.enrollmentCreate, key)
            writeEnrollment(key, t, l, create)
        }
        var seats: [Seat] = []
        for user in 0..<userSlots where userBorn[user] > 0 && !isTeacher(user) {
            guard hit(hash(Salt.member, u(section), u(user)), member) else { continue }
            let key = Self.enrollmentKey(section, user)
            let late = hash(Salt.lateJoin, key)
            let joins = hit(late, Self.lateJoin) ? 2 + Int((late & 0xFFFF) % 40) : 1
            let born = max(userBorn[user], sectionBorn, joins)
            var seat = Seat(user: user, userBorn: userBorn[user], born: born, key: key, alive: false, life: Life(), create: 0)
            if born <= day && userLife[user].alive {
                seat.life = life(Salt.enrollmentLife, key, born: born, remove: Self.enrollmentRemove, change: Self.enrollmentChange)
                seat.alive = seat.life.alive
                if seat.alive {
                    seat.create = created(born: born, after: max(userCreate[user], sectionCreate), Salt.enrollmentCreate, key)
                    writeEnrollment(key, user, seat.life, seat.create)
                }
            }
            seats.append(seat)
        }
        try close(enrollments, .sectionAssociations)

        // Assignments, and the submissions of each.
        let assignmentsOut = try open(sectionFolder + "/assignments", .assignments)
        var assignments: [AssignmentInfo] = []
        let categories: [String]
        switch system {
        case "Schoology": categories = ["Assignment", "Assignment", "Discussion", "Assessment"]
        case "Google": categories = ["Assignment", "Assignment", "SHORT_ANSWER_QUESTION", "MULTIPLE_CHOICE_QUESTION"]
        default: categories = ["Assignment"]
        }
        let lastLocal = baseAssignments + max(0, day - 2)
        for local in 0..<lastLocal {
            let born: Int
            if local < baseAssignments {
                born = sectionBorn
            } else {
                let d = local - baseAssignments + 2
                guard d > sectionBorn, hit(hash(Salt.assignmentBirth, u(section), u(local)), assignmentAdd) else { continue }
                born = d
            }
            let key = Self.assignmentKey(section, local)
            let l = life(Salt.assignmentLife, key, born: born, remove: Self.assignmentRemove, change: Self.assignmentChange)
            guard l.alive else { continue }
            let create = created(born: born, after: max(sectionCreate, Clock.dayOne - 17 * Clock.dayLength), Salt.assignmentCreate, key)
            let r = hash(Salt.assignmentAttributes, key)
            let maxPoints = Tables.maxPoints[Int(r % u(Tables.maxPoints.count))]
            let start = create
            let due = (start / Clock.dayLength + 2 + Int((r >> 16) % 13) + l.version) * Clock.dayLength + 23 * Clock.hour + 59 * 60
            let title = Tables.assignmentTitles[Int((r >> 24) % u(Tables.assignmentTitles.count))]
            let description = Tables.assignmentDescriptions[Int((r >> 32) % u(Tables.assignmentDescriptions.count))]

            assignmentsOut.beginRow()
            assignmentsOut.id(Self.assignmentId(key))
            assignmentsOut.text(system)
            assignmentsOut.text(title.replacingHash(with: local + 1))
            assignmentsOut.text(categories[Int((r >> 40) % u(categories.count))])
            if description.isEmpty { assignmentsOut.null() } else { assignmentsOut.text(description) }
            assignmentsOut.date(start)
            assignmentsOut.date(due + 2 * Clock.dayLength)
            assignmentsOut.date(due)
            assignmentsOut.text(Tables.submissionTypes[Int((r >> 48) % u(Tables.submissionTypes.count))])
            assignmentsOut.int(maxPoints)
            assignmentsOut.id(sectionId)
            assignmentsOut.date(create)
            assignmentsOut.date(lastModified(l, created: create, Salt.assignmentLife, key))
            assignmentsOut.null()
            assignmentsOut.null()
            assignmentsOut.endRow()
            assignments.append(AssignmentInfo(key: key, born: born, create: create, maxPoints: maxPoints))
        }
        try close(assignmentsOut, .assignments)

        for a in assignments {
            try writeSubmissions(sectionFolder, a, seats)
        }

        try writeAttendance(sectionFolder, section, sectionId, seats)
        try writeSectionActivities(sectionFolder, section, sectionBorn, sectionId, seats)

        // Grades (not loaded): the current grade of every enrolled student.
        let grades = try open(sectionFolder + "/grades", nil)
        for seat in seats where seat.alive {
            let r = hash(Salt.grade, seat.key, u((day + 6) / 7))
            grades.beginRow()
            grades.id(Self.gradeId(seat.key))
            grades.text(system)
            grades.text(Tables.letter(percent: 55 + Int(r % 46)))
            grades.text("Current")
            grades.id(Self.enrollmentId(seat.key))
            grades.date(seat.create)
            grades.date(max(seat.create, extractionTime - Clock.hour))
            grades.null()
            grades.null()
            grades.endRow()
        }
        try close(grades, nil)
    }

    private func writeSubmissions(_ sectionFolder: String, _ a: AssignmentInfo, _ seats: [Seat]) throws {
        let out = try open(sectionFolder + "/assignment=\(Self.assignmentId(a.key))/submissions", .submissions)
        let assignmentId = Self.assignmentId(a.key)
        for seat in seats where seat.alive {
            let id = Self.submissionId(a.key, seat.user)
            let born = max(seat.born, a.born)
            let l = life(Salt.submissionLife, id, born: born, remove: Self.removeNone, change: Self.submissionChange)
            guard l.alive else { continue }
            let create = created(born: born, after: max(a.create, seat.create), Salt.submissionCreate, id)
            let modified = lastModified(l, created: create, Salt.submissionLife, id)
            let r = hash(Salt.submissionState, id)
            let percent = 55 + Int(r % 46)
            let basePoints = a.maxPoints * percent / 100
            let initial: SubmissionState
            switch (r >> 8) % 100 {
            case ..<68: initial = .graded
            case ..<80: initial = .late
            case ..<88: initial = .missing
            case ..<95: initial = .submitted
            default: initial = .upcoming
            }
            // A change is a (re)grade: the points move by 7 each time, so every version differs.
            let state: SubmissionState = l.version == 0 ? initial : .graded
            let points: Int?
            switch state {
            case .graded, .late: points = l.version == 0 ? basePoints : (basePoints + 7 * l.version) % (a.maxPoints + 1)
            case .missing: points = 0
            case .submitted, .upcoming: points = nil
            }
            let submittedAt: Int?
            switch initial {
            case .graded, .late, .submitted: submittedAt = create
            case .missing, .upcoming: submittedAt = l.version == 0 ? nil : modified
            }

            out.beginRow()
            out.id(id)
            out.text(system)
            out.text(state.text(for: system))
            if let submittedAt { out.date(submittedAt) } else { out.null() }
            if let points {
                out.int(points)
                out.text(Tables.letter(percent: a.maxPoints == 0 ? 0 : points * 100 / a.maxPoints))
            } else {
                out.null()
                out.null()
            }
            out.id(assignmentId)
            out.id(Self.userId(seat.user))
            out.date(create)
            out.date(modified)
            out.null()
            out.null()
            out.endRow()
        }
        try close(out, .submissions)
    }

    /// Absences and tardies of enrolled students on school days, from the start of the term to the
    /// snapshot day; one section in ten takes no attendance in the LMS (its file is empty).
    private func writeAttendance(_ sectionFolder: String, _ section: Int, _ sectionId: UInt64, _ seats: [Seat]) throws {
        let out = try open(sectionFolder + "/attendance-events", .attendanceEvents)
        let r0 = hash(Salt.attendanceSection, u(section))
        if r0 % 10 != 0 {
            let classStart = 8 * Clock.hour + Int((r0 >> 8) % 7) * 55 * 60
            for seat in seats where seat.alive {
                var e = seat.born
                while e <= day {
                    defer { e += 1 }
                    guard Self.isWeekday(e) else { continue }
                    let r = hash(Salt.attendance, seat.key, u(e))
                    guard hit(r, Self.attendanceRate) else { continue }
                    let id = Self.attendanceId(seat.key, e)
                    let l = life(Salt.attendanceLife, id, born: e, remove: Self.attendanceRemove, change: Self.attendanceChange)
                    guard l.alive else { continue }
                    let eventTime = Self.dayStart(e) + classStart
                    let create = eventTime + Clock.hour + Int(r % u(8 * Clock.hour))
                    let status = Tables.attendanceStatuses[(Int(r & 0xFF) + l.version) % Tables.attendanceStatuses.count]

                    out.beginRow()
                    out.id(id)
                    out.text(system)
                    out.date(eventTime)
                    out.text(status)
                    out.id(sectionId)
                    out.id(Self.userId(seat.user))
                    out.date(create)
                    out.date(lastModified(l, created: create, Salt.attendanceLife, id))
                    out.null()
                    out.null()
                    out.endRow()
                }
            }
        }
        try close(out, .attendanceEvents)
    }

    /// Discussion topics and replies by enrolled students, about 10 per school day and section, from
    /// the section's first day to the snapshot day; 15% of sections have no discussions.
    private func writeSectionActivities(_ sectionFolder: String, _ section: Int, _ sectionBorn: Int,
                                        _ sectionId: UInt64, _ seats: [Seat]) throws {
        let out = try open(sectionFolder + "/section-activities", .sectionActivities)
        if hash(Salt.activitySection, u(section)) % 100 >= 15 && !seats.isEmpty {
            var prefix = 0
            for e in sectionBorn...day {
                // Seats are in user order, and users are numbered in order of birth.
                while prefix < seats.count && seats[prefix].userBorn <= e { prefix += 1 }
                guard prefix > 0 else { continue }
                let rc = hash(Salt.activityCount, u(section), u(e))
                let count = Self.isWeekday(e) ? Int(rc % 21) : Int(rc % 7)
                for j in 0..<count {
                    let r = hash(Salt.activity, u(section), u(e), u(j))
                    let seat = seats[Int(r % u(prefix))]
                    // The author must have been enrolled that day and still be enrolled.
                    guard seat.alive, seat.born <= e else { continue }
                    let id = Self.activityId(section, e, j)
                    let l = life(Salt.activityLife, id, born: e, remove: Self.activityRemove, change: Self.activityChange)
                    guard l.alive else { continue }
                    let reply = j > 0 && (r >> 32) % 10 < 7
                    let at = Self.dayStart(e) + 7 * Clock.hour + Int((r >> 8) % u(15 * Clock.hour))

                    out.beginRow()
                    out.id(id)
                    out.text(system)
                    out.text(reply ? "discussion_entry" : "discussion_topic")
                    out.date(at)
                    out.text("active")
                    if reply { out.id(Self.activityId(section, e, Int((r >> 40) % u(j)))) } else { out.null() }
                    out.int(1 + Int((r >> 48) % 45) + 5 * l.version)
                    out.id(sectionId)
                    out.id(Self.userId(seat.user))
                    out.date(at)
                    out.date(lastModified(l, created: at, Salt.activityLife, id))
                    out.null()
                    out.null()
                    out.endRow()
                }
            }
        }
        try close(out, .sectionActivities)
    }

    /// Sign-ins (and some sign-outs) of the users of the snapshot day, in that day's `date=` folder.
    private func writeSystemActivities() throws {
        let date = Clock.text(Self.dayStart(day), dateOnly: true)
        let out = try open("system-activities/date=\(date)", .systemActivities)
        for slot in 0..<userSlots where userBorn[slot] > 0 && userLife[slot].alive {
            let r = hash(Salt.system, u(slot), u(day))
            guard hit(r, Self.signIn) else { continue }
            // Between 06:00 and 20:00, and not before the user exists.
            let earliest = max(userCreate[slot], Self.dayStart(day) + 6 * Clock.hour)
            let latest = Self.dayStart(day) + 20 * Clock.hour
            let signIn = earliest + Int(r % u(max(1, latest - earliest)))
            let user = Self.userId(slot)
            let inId = Self.systemActivityId(day, slot, 0)
            out.beginRow()
            out.id(inId)
            out.text(system)
            out.text("sign-in")
            out.date(signIn)
            out.text("active")
            out.null()
            out.null()
            out.id(user)
            out.date(signIn)
            out.date(signIn)
            out.null()
            out.null()
            out.endRow()
            let minutes = 5 + Int((r >> 20) % 115)
            let signOut = signIn + minutes * 60
            if (r & 0xFFFF_FFFF) < Self.signOut && signOut < Self.dayStart(day) + 23 * Clock.hour {
                out.beginRow()
                out.id(Self.systemActivityId(day, slot, 1))
                out.text(system)
                out.text("sign-out")
                out.date(signOut)
                out.text("active")
                out.id(inId)
                out.int(minutes)
                out.id(user)
                out.date(signOut)
                out.date(signOut)
                out.null()
                out.null()
                out.endRow()
            }
        }
        try close(out, .systemActivities)
    }
}

private extension String {
    func replacingHash(with n: Int) -> String {
        var s = ""
        for ch in self {
            if ch == "#" { s += String(n) } else { s.append(ch) }
        }
        return s
    }
}
