// Writes a section's section-associations/: its teachers, then the students it draws; returns the
// students' seats, which the section's other files (submissions, attendance, activities, grades) follow.

/// One potential student of a section: a user the section draws from, whether or not the
/// enrollment exists on the snapshot day.
struct Seat {
    var user: Int
    var userBorn: Int
    /// The day the enrollment starts (may be after the snapshot day).
    var born: Int
    var key: UInt64
    /// The enrollment exists on the snapshot day.
    var alive: Bool
    var create: Int
}

enum SectionAssociationsWriter {
    static let remove = threshold(0.002), change = threshold(0.01), lateJoin = threshold(0.01)
    static let coTeacher = threshold(0.2)

    static func write(_ s: Snapshot, _ section: SampleSection, _ users: Population, into tree: ExtractTree) throws -> [Seat] {
        let out = try tree.open(section.folder + "/section-associations", .sectionAssociations)
        func writeEnrollment(_ key: UInt64, _ user: Int, _ l: Life, _ create: Int) {
            out.setKey(SampleID.enrollment(key), system: s.system)
            out.set("EnrollmentStatus", .text(l.version % 2 == 0 ? "Active" : "Inactive"))
            out.set("LMSUserSourceSystemIdentifier", .id(SampleID.user(user)))
            out.set("LMSSectionSourceSystemIdentifier", .id(section.id))
            out.setAudit(created: create, modified: s.lastModified(l, created: create, Salt.enrollmentLife, key))
            out.endRow()
        }
        for (t, from) in teachers(s, section, users) {
            let key = SampleID.enrollmentKey(section.slot, t)
            let l = s.life(Salt.enrollmentLife, key, born: from, remove: Snapshot.removeNone, change: change)
            let create = s.created(born: from, after: max(users.create[t], section.create), Salt.enrollmentCreate, key)
            writeEnrollment(key, t, l, create)
        }
        var seats: [Seat] = []
        for user in 0..<s.userSlots where users.born[user] > 0 && !Population.isTeacher(user) {
            guard hit(s.random.hash(Salt.member, u(section.slot), u(user)), s.member) else { continue }
            let key = SampleID.enrollmentKey(section.slot, user)
            let late = s.random.hash(Salt.lateJoin, key)
            let joins = hit(late, lateJoin) ? 2 + Int((late & 0xFFFF) % 40) : 1
            let born = max(users.born[user], section.born, joins)
            var seat = Seat(user: user, userBorn: users.born[user], born: born, key: key, alive: false, create: 0)
            if born <= s.day && users.life[user].alive {
                let l = s.life(Salt.enrollmentLife, key, born: born, remove: remove, change: change)
                seat.alive = l.alive
                if seat.alive {
                    seat.create = s.created(born: born, after: max(users.create[user], section.create), Salt.enrollmentCreate, key)
                    writeEnrollment(key, user, l, seat.create)
                }
            }
            seats.append(seat)
        }
        try tree.close(out)
        return seats
    }

    /// The teachers of a section on the snapshot day, with the day each one's enrollment started.
    /// Each chain replaces a removed teacher by the next candidate from the day of the removal.
    private static func teachers(_ s: Snapshot, _ section: SampleSection, _ users: Population) -> [(user: Int, born: Int)] {
        guard s.baseTeachers > 0 else { return [] }
        var result: [(user: Int, born: Int)] = []
        let chains = hit(s.random.hash(Salt.coTeacher, u(section.slot)), coTeacher) ? 2 : 1
        for chain in 0..<chains {
            var from = section.born
            for k in 0..<12 {
                let t = 25 * Int(s.random.hash(Salt.teacher, u(section.slot), u(chain), u(k)) % u(s.baseTeachers))
                let death = users.life[t].death
                if death <= from { continue }
                if death > s.day {
                    if !result.contains(where: { $0.user == t }) { result.append((t, from)) }
                    break
                }
                from = death
            }
        }
        return result
    }
}
