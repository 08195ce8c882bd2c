import Testing
@testable import Extract

/// The classified file, or nil (with an issue recorded) when the path was ignored.
func classified(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> ExtractFile? {
    switch ExtractPath.classify(path) {
    case .file(let f): return f
    case .ignored(let why):
        Issue.record("\(path) was ignored: \(why)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The reason a path was ignored, or nil (with an issue recorded) when it was classified as a file.
func ignoredReason(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    switch ExtractPath.classify(path) {
    case .file(let f):
        Issue.record("\(path) was classified as \(f.resource)", sourceLocation: sourceLocation)
        return nil
    case .ignored(let why): return why
    }
}

@Suite("ExtractPath.classify")
struct ExtractPathTests {
    /// One path per resource, with the resource and scope it must get (spec section 2).
    static let eight: [(String, Resource, Scope)] = [
        ("users/2020-09-17-15-04-23.csv", .users, Scope()),
        ("sections/2020-09-17-15-04-23.csv", .sections, Scope()),
        ("section=123456780/section-associations/2020-09-18-15-04-24.csv", .sectionAssociations, Scope(sectionId: "123456780")),
        ("section=123456780/assignments/2020-09-18-15-04-24.csv", .assignments, Scope(sectionId: "123456780")),
        ("section=123456780/assignment=2942251001/submissions/2021-07-01-00-00-00.csv", .submissions,
         Scope(sectionId: "123456780", assignmentId: "2942251001")),
        ("section=2385758954/attendance-events/2020-09-17-15-04-23.csv", .attendanceEvents, Scope(sectionId: "2385758954")),
        ("section=2385758954/section-activities/2020-09-21-11-08-34.csv", .sectionActivities, Scope(sectionId: "2385758954")),
        ("system-activities/date=2020-11-17/2020-11-18-11-16-09.csv", .systemActivities, Scope(date: "2020-11-17")),
    ]

    @Test(arguments: eight)
    func eachResource(path: String, resource: Resource, scope: Scope) {
        guard let f = classified(path) else { return }
        #expect(f.resource == resource)
        #expect(f.scope == scope)
        #expect(f.relativePath == path)
        #expect(f.snapshot == String(path.split(separator: "/").last!))
        #expect(f.upstreamRelativePath == path)
    }

    @Test func everyResourceIsReachable() {
        let found = Set(Self.eight.compactMap { classified($0.0)?.resource })
        #expect(found == Set(Resource.allCases))
    }

    @Test func gradesAreIgnored() {
        let why = ignoredReason("section=123456780/grades/2020-09-18-15-04-24.csv")
        #expect(why?.contains("grades") == true)
    }

    @Test(arguments: [
        "section=1/user-activities/2020-09-18-15-04-24.csv",   // in an old design document only
        "section=1/Assignments/2020-09-18-15-04-24.csv",       // folder names are lower case
        "Users/2020-09-18-15-04-24.csv",
        "teachers/2020-09-18-15-04-24.csv",
        "section/assignments/2020-09-18-15-04-24.csv",          // no '='
        "section=/assignments/2020-09-18-15-04-24.csv",         // empty id
        "course=1/assignments/2020-09-18-15-04-24.csv",
        "section=1/assignment=A/grades/2020.csv",
        "section=1/assignment=/submissions/2020.csv",
        "section=1/other=A/submissions/2020.csv",
        "section=1/assignment=A/submissions/extra/2020.csv",
        "2020-09-18-15-04-24.csv",                              // directly in the root
        "a/b/c/d/e.csv",
        "system-activities/date=2020-11-17/nested/x.csv",
    ])
    func unknownPlacesAreIgnored(path: String) {
        _ = ignoredReason(path)
    }

    @Test(arguments: [
        "users/2020-09-17-15-04-23.CSV",        // `.CSV` is not `.csv` (upstream is case-sensitive)
        "users/2020-09-17-15-04-23.csv.tmp",
        "users/2020-09-17-15-04-23.txt",
        "users/readme",
        "users/.csv",
        "users/.2020-09-17-15-04-23.csv",       // hidden (editor or sync temporaries)
        "users",
        "",
    ])
    func nonCSVFilesAreIgnored(path: String) {
        _ = ignoredReason(path)
    }

    @Test(arguments: ["Assignment=", "assignment=", "ASSIGNMENT="])
    func submissionsUnderEitherSpellingOfAssignment(folder: String) {
        let path = "section=123456780/\(folder)2942251001/submissions/2020-09-17-15-04-23.csv"
        guard let f = classified(path) else { return }
        #expect(f.resource == .submissions)
        #expect(f.scope == Scope(sectionId: "123456780", assignmentId: "2942251001"))
        #expect(f.scope.key == "section=123456780/assignment=2942251001")
        // The on-disk spelling is kept; upstream's spelling is the constructed lower-case one (spec 2.1).
        #expect(f.relativePath == path)
        #expect(f.upstreamRelativePath == "section=123456780/assignment=2942251001/submissions/2020-09-17-15-04-23.csv")
    }

    @Test func upstreamPathKeepsTheIdsExactly() {
        // Only the key is lower-cased, never the ids or other folders.
        guard let f = classified("section=AbC/Assignment=Assignment=X/submissions/2020.csv") else { return }
        #expect(f.scope == Scope(sectionId: "AbC", assignmentId: "Assignment=X"))
        #expect(f.upstreamRelativePath == "section=AbC/assignment=Assignment=X/submissions/2020.csv")
    }

    @Test func upstreamPathLowerCasesTheSectionKeyToo() {
        // The section key is matched in any case as well, and upstream builds `section=` + id in lower case.
        guard let f = classified("Section=7/Assignment=9/submissions/2020.csv") else { return }
        #expect(f.scope == Scope(sectionId: "7", assignmentId: "9"))
        #expect(f.upstreamRelativePath == "section=7/assignment=9/submissions/2020.csv")
        guard let a = classified("SECTION=7/assignments/2020.csv") else { return }
        #expect(a.upstreamRelativePath == "section=7/assignments/2020.csv")
    }

    @Test func upstreamPathChangesOnlyTheScopeFolders() {
        // Upstream lists system-activities/ entries as they are on disk, and file names are never rebuilt.
        guard let s = classified("system-activities/Section=x/2020.csv") else { return }
        #expect(s.upstreamRelativePath == "system-activities/Section=x/2020.csv")
        guard let u = classified("users/Assignment=1.csv") else { return }
        #expect(u.upstreamRelativePath == "users/Assignment=1.csv")
        guard let a = classified("section=1/assignments/Assignment=1.csv") else { return }
        #expect(a.upstreamRelativePath == "section=1/assignments/Assignment=1.csv")
    }

    @Test func idsMayContainEqualsAndSpaces() {
        guard let f = classified("section=a=b c/assignments/2020.csv") else { return }
        #expect(f.scope.sectionId == "a=b c")
    }

    @Test func systemActivitiesScopeIsTheDateFolder() {
        guard let f = classified("system-activities/date=2021-03-04/2021-03-05-01-02-03.csv") else { return }
        #expect(f.resource == .systemActivities)
        #expect(f.scope == Scope(date: "2021-03-04"))
        #expect(f.scope.sectionId == nil && f.scope.assignmentId == nil)
        #expect(f.scope.key == "date=2021-03-04")
        #expect(f.snapshot == "2021-03-05-01-02-03.csv")
    }

    @Test func systemActivitiesInAnyFolderAreLoaded() {
        // Upstream visits every entry under system-activities/, not only date= folders (spec 4.4).
        guard let f = classified("system-activities/backfill/2021-03-05-01-02-03.csv") else { return }
        #expect(f.resource == .systemActivities)
        #expect(f.scope == Scope(date: "backfill"))
    }

    @Test func systemActivityFileDirectlyUnderTheFolderIsIgnored() {
        let why = ignoredReason("system-activities/2020-11-18-11-16-09.csv")
        #expect(why?.contains("date=") == true)
    }

    @Test func emptyPathComponentsAreIgnoredWhenClassifying() {
        guard let f = classified("/users//2020.csv") else { return }
        #expect(f.resource == .users)
        #expect(f.relativePath == "users/2020.csv")
    }

    @Test func scopesOfDifferentFoldersDiffer() {
        let a = classified("section=1/assignments/2020.csv")?.scope
        let b = classified("section=2/assignments/2020.csv")?.scope
        let c = classified("section=1/attendance-events/2020.csv")?.scope
        #expect(a != b)
        #expect(a == c)   // the scope is the folder; the resource is separate
        #expect(a?.key == "section=1")
    }
}

@Suite("Scope and Resource")
struct ScopeAndResourceTests {
    @Test func scopeKeyAndDescription() {
        #expect(Scope().key == "")
        #expect(Scope().description == "(whole source system)")
        #expect(Scope(sectionId: "S").key == "section=S")
        #expect(Scope(sectionId: "S", assignmentId: "A").key == "section=S/assignment=A")
        #expect(Scope(sectionId: "S", assignmentId: "A").description == "section=S/assignment=A")
        #expect(Scope(date: "2020-11-17").key == "date=2020-11-17")
    }

    @Test func resourceNamesAreUpstreamProcessedFilesNames() {
        #expect(Resource.allCases.map(\.rawValue) == [
            "users", "sections", "section-associations", "assignments", "submissions",
            "attendance-events", "section-activities", "system-activities",
        ])
    }

    @Test func parentsLoadBeforeChildren() {
        #expect(Resource.allCases.sorted() == Resource.allCases)
        for r in Resource.allCases {
            for link in r.schema.parents {
                #expect(link.parent < r, "\(link.parent) must load before \(r)")
            }
        }
    }

    @Test func schemaOfEachResourceIsItsOwn() {
        for r in Resource.allCases {
            #expect(ResourceSchema.of(r).resource == r)
            #expect(r.schema.column(named: "SourceSystemIdentifier")?.isRequired == true)
            #expect(r.schema.column(named: "SourceSystem")?.isRequired == true)
        }
    }
}
