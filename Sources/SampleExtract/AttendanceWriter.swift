// Writes a section's attendance-events/: absences and tardies of its enrolled students on school
// days, from the start of the term to the snapshot day (the file holds the whole term so far).

enum AttendanceWriter {
    /// The chance of an event per student and school day.
    static let rate = threshold(0.05), remove = threshold(0.005), change = threshold(0.02)

    /// One section in ten takes no attendance in the LMS (its file is empty).
    static func write(_ s: Snapshot, _ section: SampleSection, _ seats: [Seat], into tree: ExtractTree) throws {
        let out = try tree.open(section.folder + "/attendance-events", .attendanceEvents)
        let r0 = s.random.hash(Salt.attendanceSection, u(section.slot))
        if r0 % 10 != 0 {
            let classStart = 8 * WallClock.hour + Int((r0 >> 8) % 7) * 55 * 60
            for seat in seats where seat.alive {
                var e = seat.born
                while e <= s.day {
                    defer { e += 1 }
                    guard WallClock.isWeekday(e) else { continue }
                    let r = s.random.hash(Salt.attendance, seat.key, u(e))
                    guard hit(r, rate) else { continue }
                    let id = SampleID.attendance(seat.key, e)
                    let l = s.life(Salt.attendanceLife, id, born: e, remove: remove, change: change)
                    guard l.alive else { continue }
                    let eventTime = WallClock.dayStart(e) + classStart
                    let create = eventTime + WallClock.hour + Int(r % u(8 * WallClock.hour))
                    // A change of an event is a change of status.
                    let status = Vocabulary.attendanceStatuses[(Int(r & 0xFF) + l.version) % Vocabulary.attendanceStatuses.count]

                    out.setKey(id, system: s.system)
                    out.set("EventDate", .date(eventTime))
                    out.set("AttendanceStatus", .text(status))
                    out.set("LMSSectionSourceSystemIdentifier", .id(section.id))
                    out.set("LMSUserSourceSystemIdentifier", .id(SampleID.user(seat.user)))
                    out.setAudit(created: create, modified: s.lastModified(l, created: create, Salt.attendanceLife, id))
                    out.endRow()
                }
            }
        }
        try tree.close(out)
    }
}
