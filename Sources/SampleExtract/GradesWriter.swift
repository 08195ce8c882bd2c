// Writes a section's grades/: the current letter grade of every enrolled student, changing weekly.
// The agent does not load grades, and no resource schema describes them, so their columns are here.

enum GradesWriter {
    /// The extractor's grades columns, in its order.
    static let columns = [
        "SourceSystemIdentifier", "SourceSystem", "Grade", "GradeType", "LMSUserLMSSectionAssociationSourceSystemIdentifier",
        "CreateDate", "LastModifiedDate", "SourceCreateDate", "SourceLastModifiedDate",
    ]

    static func write(_ s: Snapshot, _ section: SampleSection, _ seats: [Seat], into tree: ExtractTree) throws {
        let out = try tree.open(section.folder + "/grades", columns: columns)
        for seat in seats where seat.alive {
            let r = s.random.hash(Salt.grade, seat.key, u((s.day + 6) / 7))
            out.setKey(SampleID.grade(seat.key), system: s.system)
            out.set("Grade", .text(Vocabulary.letter(percent: 55 + Int(r % 46))))
            out.set("GradeType", .text("Current"))
            out.set("LMSUserLMSSectionAssociationSourceSystemIdentifier", .id(SampleID.enrollment(seat.key)))
            out.setAudit(created: seat.create, modified: max(seat.create, s.extractionTime - WallClock.hour))
            out.endRow()
        }
        try tree.close(out)
    }
}
