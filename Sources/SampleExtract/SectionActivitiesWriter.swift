// Writes a section's section-activities/: discussion topics and replies by its enrolled students,
// about 10 per school day, from the section's first day to the snapshot day (the whole term so far).

enum SectionActivitiesWriter {
    static let remove = threshold(0.005), change = threshold(0.02)

    /// 15% of sections have no discussions (their file is empty).
    static func write(_ s: Snapshot, _ section: SampleSection, _ seats: [Seat], into tree: ExtractTree) throws {
        let out = try tree.open(section.folder + "/section-activities", .sectionActivities)
        if s.random.hash(Salt.activitySection, u(section.slot)) % 100 >= 15 && !seats.isEmpty {
            var prefix = 0
            for e in section.born...s.day {
                // Seats are in user order, and users are numbered in order of birth.
                while prefix < seats.count && seats[prefix].userBorn <= e { prefix += 1 }
                guard prefix > 0 else { continue }
                let rc = s.random.hash(Salt.activityCount, u(section.slot), u(e))
                let count = WallClock.isWeekday(e) ? Int(rc % 21) : Int(rc % 7)
                for j in 0..<count {
                    let r = s.random.hash(Salt.activity, u(section.slot), u(e), u(j))
                    let seat = seats[Int(r % u(prefix))]
                    // The author must have been enrolled that day and still be enrolled.
                    guard seat.alive, seat.born <= e else { continue }
                    let id = SampleID.sectionActivity(section.slot, e, j)
                    let l = s.life(Salt.activityLife, id, born: e, remove: remove, change: change)
                    guard l.alive else { continue }
                    let reply = j > 0 && (r >> 32) % 10 < 7
                    let at = WallClock.dayStart(e) + 7 * WallClock.hour + Int((r >> 8) % u(15 * WallClock.hour))

                    out.setKey(id, system: s.system)
                    // A change of a post adds 5 minutes to the time spent on it.
                    out.setActivity(type: reply ? "discussion_entry" : "discussion_topic", at: at,
                                    parent: reply ? SampleID.sectionActivity(section.slot, e, Int((r >> 40) % u(j))) : nil,
                                    minutes: 1 + Int((r >> 48) % 45) + 5 * l.version)
                    out.set("LMSSectionSourceSystemIdentifier", .id(section.id))
                    out.set("LMSUserSourceSystemIdentifier", .id(SampleID.user(seat.user)))
                    out.setAudit(created: at, modified: s.lastModified(l, created: at, Salt.activityLife, id))
                    out.endRow()
                }
            }
        }
        try tree.close(out)
    }
}
