// Writes users/: students and teachers with names, logins and e-mail addresses; and keeps what the
// section files need of every user slot (birth, life, creation time).

/// Every user slot of the snapshot: what the files of sections and the sign-ins need of it.
struct Population {
    /// The day each slot's user was born (0: the slot stays empty).
    var born: [Int]
    var life: [Life]
    var create: [Int]

    /// Every user slot that is a multiple of 25 is a teacher.
    static func isTeacher(_ slot: Int) -> Bool { slot % 25 == 0 }
}

enum UsersWriter {
    static let remove = threshold(0.008), change = threshold(0.03)

    static func write(_ s: Snapshot, into tree: ExtractTree) throws -> Population {
        let out = try tree.open("users", .users)
        var users = Population(born: Array(repeating: 0, count: s.userSlots),
                               life: Array(repeating: Life(), count: s.userSlots),
                               create: Array(repeating: 0, count: s.userSlots))
        let firsts = Vocabulary.firstNames, lasts = Vocabulary.lastNames
        for slot in 0..<s.userSlots {
            let born = birthDay(s, slot)
            users.born[slot] = born
            guard born > 0 else { continue }
            let l = s.life(Salt.userLife, u(slot), born: born, remove: remove, change: change)
            let create = s.created(born: born, after: WallClock.monthBeforeDayOne, Salt.userCreate, u(slot))
            users.life[slot] = l
            users.create[slot] = create
            guard l.alive else { continue }

            // A change of a user is a change of last name; the login keeps the first one.
            let teacher = Population.isTeacher(slot)
            let first = firsts[Int(s.random.hash(Salt.userName, u(slot)) % u(firsts.count))]
            let last0 = Int(s.random.hash(Salt.userLast, u(slot)) % u(lasts.count))
            let last = lasts[(last0 + l.version) % lasts.count]
            let login = first.login + "." + lasts[last0].login + String(slot)
            var name = first.display + " " + last.display
            if !teacher && s.random.hash(Salt.userSuffix, u(slot)) % 100 == 0 { name += ", Jr." }

            out.setKey(SampleID.user(slot), system: s.system)
            out.set("UserRole", .text(teacher ? "teacher" : "student"))
            out.set("LocalUserIdentifier", .text(login))
            out.set("SISUserIdentifier", .text(teacher ? "E\(10_000 + slot)" : String(600_000 + slot)))
            out.set("Name", .text(name))
            out.set("EmailAddress", .text(login + (teacher ? "@staff.example.org" : "@students.example.org")))
            out.setAudit(created: create, modified: s.lastModified(l, created: create, Salt.userLife, u(slot)))
            out.endRow()
        }
        try tree.close(out)
        return users
    }

    /// The day a slot's user is born: day 1 for the base users, the slot's day or never (0) for the
    /// slots each later day adds.
    private static func birthDay(_ s: Snapshot, _ slot: Int) -> Int {
        if slot < s.baseUsers { return 1 }
        let d = 2 + (slot - s.baseUsers) / s.userCap
        return hit(s.random.hash(Salt.userBirth, u(slot)), s.userAdd) ? d : 0
    }
}
