// Writes sections/: one section of a course per slot, with its SIS code, title, room and term;
// returns the sections that exist on the snapshot day, each of which gets a section= folder.

/// A section that exists on the snapshot day.
struct SampleSection {
    let slot: Int
    let born: Int
    let create: Int

    var id: UInt64 { SampleID.section(slot) }
    /// The folder of the section's files.
    var folder: String { "section=\(id)" }
}

enum SectionsWriter {
    static let remove = threshold(0.002), change = threshold(0.02)

    static func write(_ s: Snapshot, into tree: ExtractTree) throws -> [SampleSection] {
        let out = try tree.open("sections", .sections)
        var alive: [SampleSection] = []
        for slot in 0..<s.sectionSlots {
            let born: Int
            if slot < s.baseSections {
                born = 1
            } else {
                born = hit(s.random.hash(Salt.sectionBirth, u(slot)), s.sectionAdd) ? 2 + (slot - s.baseSections) / s.sectionCap : 0
            }
            guard born > 0 else { continue }
            let l = s.life(Salt.sectionLife, u(slot), born: born, remove: remove, change: change)
            guard l.alive else { continue }
            let create = s.created(born: born, after: WallClock.monthBeforeDayOne, Salt.sectionCreate, u(slot))
            alive.append(SampleSection(slot: slot, born: born, create: create))

            // A change of a section is a change of room.
            let r = s.random.hash(Salt.sectionCourse, u(slot))
            let course = Vocabulary.courses[Int(r % u(Vocabulary.courses.count))]
            let period = 1 + Int((r >> 16) % 7)
            let room = 100 + Int(((r >> 24) % 300 + u(l.version) * 37) % 300)
            let yearLong = (r >> 40) % 2 == 0
            var code = ""
            for ch in course.code where ch != "-" { code.append(ch) }
            let sis = "255901001" + String(String(100_000 + slot).dropFirst()) + "Trad" + code + String(period)

            out.setKey(SampleID.section(slot), system: s.system)
            out.set("SISSectionIdentifier", .text(sis))
            out.set("Title", .text((r >> 48) % 3 == 0 ? "\(course.name), Period \(period)" : "\(course.code) (P\(period))"))
            out.set("SectionDescription", .text("\(course.name): \(course.description) Room \(room)."))
            out.set("Term", .text(yearLong ? "255901001_2026-2027_Fall,255901001_2026-2027_Spring" : "255901001_2026-2027_Fall"))
            out.set("LMSSectionStatus", .text("Active"))
            out.setAudit(created: create, modified: s.lastModified(l, created: create, Salt.sectionLife, u(slot)))
            out.endRow()
        }
        try tree.close(out)
        return alive
    }
}
