// Writes system-activities/date=<day>/: the sign-ins (and some sign-outs) of the users of the
// snapshot day. Unlike the section files, it holds that day only.

enum SystemActivitiesWriter {
    static let signIn = threshold(0.8), signOut = threshold(0.5)

    static func write(_ s: Snapshot, _ users: Population, into tree: ExtractTree) throws {
        let dayStart = WallClock.dayStart(s.day)
        let out = try tree.open("system-activities/date=\(WallClock.text(dayStart, dateOnly: true))", .systemActivities)
        func writeActivity(_ id: UInt64, _ type: String, at time: Int, parent: UInt64?, minutes: Int?, user: UInt64) {
            out.setKey(id, system: s.system)
            out.setActivity(type: type, at: time, parent: parent, minutes: minutes)
            out.set("LMSUserSourceSystemIdentifier", .id(user))
            out.setAudit(created: time, modified: time)
            out.endRow()
        }
        for slot in 0..<s.userSlots where users.born[slot] > 0 && users.life[slot].alive {
            let r = s.random.hash(Salt.system, u(slot), u(s.day))
            guard hit(r, signIn) else { continue }
            // Between 06:00 and 20:00, and not before the user exists.
            let earliest = max(users.create[slot], dayStart + 6 * WallClock.hour)
            let latest = dayStart + 20 * WallClock.hour
            let signInTime = earliest + Int(r % u(max(1, latest - earliest)))
            let user = SampleID.user(slot)
            let inId = SampleID.systemActivity(s.day, slot, 0)
            writeActivity(inId, "sign-in", at: signInTime, parent: nil, minutes: nil, user: user)
            let minutes = 5 + Int((r >> 20) % 115)
            let signOutTime = signInTime + minutes * 60
            if (r & 0xFFFF_FFFF) < signOut && signOutTime < dayStart + 23 * WallClock.hour {
                writeActivity(SampleID.systemActivity(s.day, slot, 1), "sign-out", at: signOutTime, parent: inId, minutes: minutes, user: user)
            }
        }
        try tree.close(out)
    }
}
