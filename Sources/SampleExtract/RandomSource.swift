// The generator's only source of randomness: a seeded hash (SplitMix64), so that every value is a
// pure function of (seed, decision, entity, day) and the same options write the same bytes.

@inline(__always)
func splitMix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The hash of a decision about an entity under the run's seed.
struct RandomSource {
    /// The seed of the options, mixed once.
    let seed: UInt64

    init(seed: UInt64) { self.seed = splitMix(seed) }

    @inline(__always)
    func hash(_ salt: UInt64, _ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0) -> UInt64 {
        splitMix(splitMix(splitMix(splitMix(seed ^ salt) ^ a) ^ b) ^ c)
    }
}

/// Salts, one per independent decision, so that no two decisions share random bits. They are kept
/// in one place so that a new decision cannot reuse a salt by accident.
enum Salt {
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
func threshold(_ p: Double) -> UInt64 { UInt64(min(max(p, 0), 1) * 4_294_967_296.0) }

/// The decision of hash `r` under threshold `t` (from `threshold(_:)`) came out true.
@inline(__always) func hit(_ r: UInt64, _ t: UInt64) -> Bool { (r >> 32) < t }

/// An index or day as a hash input.
@inline(__always) func u(_ i: Int) -> UInt64 { UInt64(truncatingIfNeeded: i) }
