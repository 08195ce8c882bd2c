// Writes a section's assignments/: the base assignments of the section and those added later, with
// title, category, dates, submission type and points; returns them for their submissions files.

/// An assignment that exists on the snapshot day.
struct SampleAssignment {
    var key: UInt64
    var born: Int
    var create: Int
    var maxPoints: Int

    var id: UInt64 { SampleID.assignment(key) }
}

enum AssignmentsWriter {
    static let remove = threshold(0.002), change = threshold(0.03)

    static func write(_ s: Snapshot, _ section: SampleSection, into tree: ExtractTree) throws -> [SampleAssignment] {
        let out = try tree.open(section.folder + "/assignments", .assignments)
        var assignments: [SampleAssignment] = []
        let categories = Vocabulary.assignmentCategories(for: s.system)
        // Assignments are created from 17 days before the term on.
        let earliest = max(section.create, WallClock.dayOne - 17 * WallClock.dayLength)
        // Each day from day 2 on has one slot for a new assignment.
        let lastLocal = s.baseAssignments + max(0, s.day - 2)
        for local in 0..<lastLocal {
            let born: Int
            if local < s.baseAssignments {
                born = section.born
            } else {
                let d = local - s.baseAssignments + 2
                guard d > section.born, hit(s.random.hash(Salt.assignmentBirth, u(section.slot), u(local)), s.assignmentAdd) else { continue }
                born = d
            }
            let key = SampleID.assignmentKey(section.slot, local)
            let l = s.life(Salt.assignmentLife, key, born: born, remove: remove, change: change)
            guard l.alive else { continue }
            let create = s.created(born: born, after: earliest, Salt.assignmentCreate, key)
            let r = s.random.hash(Salt.assignmentAttributes, key)
            let maxPoints = Vocabulary.maxPoints[Int(r % u(Vocabulary.maxPoints.count))]
            let start = create
            // A change of an assignment moves its due date by a day.
            let due = (start / WallClock.dayLength + 2 + Int((r >> 16) % 13) + l.version) * WallClock.dayLength + 23 * WallClock.hour + 59 * 60
            let title = Vocabulary.assignmentTitles[Int((r >> 24) % u(Vocabulary.assignmentTitles.count))]
            let description = Vocabulary.assignmentDescriptions[Int((r >> 32) % u(Vocabulary.assignmentDescriptions.count))]

            out.setKey(SampleID.assignment(key), system: s.system)
            out.set("Title", .text(title.replacingHash(with: local + 1)))
            out.set("AssignmentCategory", .text(categories[Int((r >> 40) % u(categories.count))]))
            out.set("AssignmentDescription", .textOrNull(description.isEmpty ? nil : description))
            out.set("StartDateTime", .date(start))
            out.set("EndDateTime", .date(due + 2 * WallClock.dayLength))
            out.set("DueDateTime", .date(due))
            out.set("SubmissionType", .text(Vocabulary.submissionTypes[Int((r >> 48) % u(Vocabulary.submissionTypes.count))]))
            out.set("MaxPoints", .int(maxPoints))
            out.set("LMSSectionSourceSystemIdentifier", .id(section.id))
            out.setAudit(created: create, modified: s.lastModified(l, created: create, Salt.assignmentLife, key))
            out.endRow()
            assignments.append(SampleAssignment(key: key, born: born, create: create, maxPoints: maxPoints))
        }
        try tree.close(out)
        return assignments
    }
}
