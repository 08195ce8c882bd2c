// Writes an assignment's submissions/: one submission per enrolled student, graded, late, missing,
// turned in or upcoming, spelled as the source system spells it; a change is a regrade.

enum SubmissionsWriter {
    static let change = threshold(0.03)

    static func write(_ s: Snapshot, _ section: SampleSection, _ a: SampleAssignment, _ seats: [Seat],
                      into tree: ExtractTree) throws {
        let out = try tree.open(section.folder + "/assignment=\(a.id)/submissions", .submissions)
        for seat in seats where seat.alive {
            let id = SampleID.submission(a.key, seat.user)
            let born = max(seat.born, a.born)
            let l = s.life(Salt.submissionLife, id, born: born, remove: Snapshot.removeNone, change: change)
            guard l.alive else { continue }
            let create = s.created(born: born, after: max(a.create, seat.create), Salt.submissionCreate, id)
            let modified = s.lastModified(l, created: create, Salt.submissionLife, id)
            let r = s.random.hash(Salt.submissionState, id)
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

            out.setKey(id, system: s.system)
            out.set("SubmissionStatus", .text(state.text(for: s.system)))
            out.set("SubmissionDateTime", .dateOrNull(submittedAt))
            out.set("EarnedPoints", .intOrNull(points))
            out.set("Grade", .textOrNull(points.map { Vocabulary.letter(percent: a.maxPoints == 0 ? 0 : $0 * 100 / a.maxPoints) }))
            out.set("AssignmentSourceSystemIdentifier", .id(a.id))
            out.set("LMSUserSourceSystemIdentifier", .id(SampleID.user(seat.user)))
            out.setAudit(created: create, modified: modified)
            out.endRow()
        }
        try tree.close(out)
    }
}
