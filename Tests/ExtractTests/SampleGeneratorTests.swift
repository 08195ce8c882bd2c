import Foundation
import Testing
import Extract
import SampleExtract

/// Tests of the sample extract generator: determinism, layout, validity, daily changes and
/// referential integrity.
@Suite struct SampleGeneratorTests {
    // MARK: helpers

    /// A fresh temporary folder, removed after `body`.
    private func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sample-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url) }
        return try body(url.path)
    }

    private func options(users: Int, sections: Int, assignments: Int, day: Int = 1, seed: UInt64 = 1) -> SampleOptions {
        var o = SampleOptions()
        o.users = users
        o.sections = sections
        o.assignmentsPerSection = assignments
        o.day = day
        o.seed = seed
        return o
    }

    /// Every regular file under `root`, as sorted relative paths.
    private func files(under root: String) -> [String] {
        var result: [String] = []
        let base = URL(fileURLWithPath: root)
        guard let e = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        for case let url as URL in e {
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                result.append(String(url.path.dropFirst(base.path.count + 1)))
            }
        }
        return result.sorted()
    }

    private func bytes(_ root: String, _ relative: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: root + "/" + relative))
    }

    /// The rows of a resource file, each as column name -> value (nil = empty).
    private func rows(_ root: String, _ relative: String, _ resource: Resource) throws -> [[String: String]] {
        let path = root + "/" + relative
        if try bytes(root, relative).count <= 4 { return [] }
        let schema = ResourceSchema.of(resource)
        var reader = try ResourceFileReader(source: FileChunkReader(path: path), path: path, schema: schema)
        var result: [[String: String]] = []
        while let row = try reader.next() {
            var named: [String: String] = [:]
            for (i, column) in schema.columns.enumerated() {
                if let v = row.values[i] { named[column.name] = v }
            }
            result.append(named)
        }
        return result
    }

    /// The one file of a folder.
    private func file(in folder: String, of all: [String]) throws -> String {
        let matching = all.filter { $0.hasPrefix(folder + "/") && !$0.dropFirst(folder.count + 1).contains("/") }
        try #require(matching.count == 1, "expected one file in \(folder), found \(matching)")
        return matching[0]
    }

    private func ids(_ rows: [[String: String]], _ column: String = "SourceSystemIdentifier") -> Set<String> {
        Set(rows.compactMap { $0[column] })
    }

    // MARK: tests

    @Test func sameOptionsGiveIdenticalFilesAndAnotherSeedDiffers() throws {
        try withTemporaryDirectory { tmp in
            let o = options(users: 80, sections: 5, assignments: 3, day: 3)
            let a = try SampleGenerator.write(to: tmp + "/a", options: o)
            let b = try SampleGenerator.write(to: tmp + "/b", options: o)
            let filesA = files(under: tmp + "/a")
            #expect(filesA == files(under: tmp + "/b"))
            #expect(filesA.count == a.files)
            #expect(a.totalRows == b.totalRows && a.rows == b.rows && a.files == b.files)
            for f in filesA {
                #expect(try bytes(tmp + "/a", f) == bytes(tmp + "/b", f), "\(f) differs between two runs")
            }

            var other = o
            other.seed = 2
            _ = try SampleGenerator.write(to: tmp + "/c", options: other)
            let usersA = try file(in: "users", of: filesA)
            let usersC = try file(in: "users", of: files(under: tmp + "/c"))
            #expect(try bytes(tmp + "/a", usersA) != bytes(tmp + "/c", usersC))
        }
    }

    @Test(arguments: [1, 2])
    func everyFileClassifiesAndReadsAndMatchesTheSummary(day: Int) throws {
        try withTemporaryDirectory { root in
            let summary = try SampleGenerator.write(to: root, options: options(users: 120, sections: 7, assignments: 4, day: day))
            let all = files(under: root)
            #expect(all.count == summary.files)
            var counted: [Resource: Int] = [:]
            var grades = 0, empty = 0
            let datePrefix = "2026-09-0\(day)-23-"
            for relative in all {
                let name = relative.split(separator: "/").last.map(String.init) ?? ""
                #expect(name.hasPrefix(datePrefix) && name.hasSuffix(".csv") && name.count == 23, "bad file name \(relative)")
                let data = try bytes(root, relative)
                #expect(!data.contains(0x0D), "\(relative) has a CR")
                if data.count <= 4 {
                    #expect(data == Data([0x0A]), "\(relative): a short file must be a lone newline")
                    empty += 1
                } else {
                    #expect(data.prefix(3) == Data([0xEF, 0xBB, 0xBF]), "\(relative) lacks the UTF-8 BOM")
                }
                switch ExtractPath.classify(relative) {
                case .ignored(let reason):
                    #expect(relative.contains("/grades/"), "\(relative) ignored: \(reason)")
                    grades += 1
                case .file(let f):
                    #expect(!relative.contains("/grades/"))
                    guard data.count > 4 else { continue }
                    let path = root + "/" + relative
                    var reader = try ResourceFileReader(source: FileChunkReader(path: path), path: path, schema: f.resource.schema)
                    #expect(reader.present.allSatisfy { $0 }, "\(relative) lacks a column")
                    while try reader.next() != nil {}
                    counted[f.resource, default: 0] += reader.rowCount
                }
            }
            #expect(grades > 0)
            #expect(empty > 0, "some section has no attendance or activities, so some file is a lone newline")
            for resource in Resource.allCases {
                #expect(counted[resource, default: 0] == summary.rows[resource], "\(resource)")
                #expect(summary.rows[resource, default: 0] > 0, "\(resource) has no rows")
            }
            #expect(summary.totalRows == counted.values.reduce(0, +))
        }
    }

    @Test func dayTwoIsTheNextSnapshotOfDayOne() throws {
        try withTemporaryDirectory { root in
            // Both days in one root, like a real extract folder.
            _ = try SampleGenerator.write(to: root, options: options(users: 400, sections: 8, assignments: 3, day: 1))
            _ = try SampleGenerator.write(to: root, options: options(users: 400, sections: 8, assignments: 3, day: 2))
            let userFiles = files(under: root).filter { $0.hasPrefix("users/") }
            try #require(userFiles.count == 2)
            #expect(userFiles[0].hasPrefix("users/2026-09-01-") && userFiles[1].hasPrefix("users/2026-09-02-"))
            let before = Dictionary(uniqueKeysWithValues: try rows(root, userFiles[0], .users).map { ($0["SourceSystemIdentifier"]!, $0) })
            let after = Dictionary(uniqueKeysWithValues: try rows(root, userFiles[1], .users).map { ($0["SourceSystemIdentifier"]!, $0) })
            let removed = before.keys.filter { after[$0] == nil }
            let added = after.keys.filter { before[$0] == nil }
            var changed = 0
            for (id, old) in before {
                guard let new = after[id] else { continue }
                if old == new { continue }
                changed += 1
                #expect(new["LastModifiedDate"]!.hasPrefix("2026-09-02 "), "user \(id) changed without a new LastModifiedDate")
                #expect(old["LastModifiedDate"]! < new["LastModifiedDate"]!)
                #expect(old["Name"] != new["Name"])
                #expect(old["CreateDate"] == new["CreateDate"])
            }
            #expect(changed > 0 && changed < before.count / 10, "changed \(changed)")
            #expect(!removed.isEmpty && removed.count < before.count / 20, "removed \(removed.count)")
            #expect(!added.isEmpty && added.count < before.count / 20, "added \(added.count)")
            // New ids come after the old ones.
            let oldMax = before.keys.compactMap { Int($0) }.max()!
            #expect(added.allSatisfy { Int($0)! > oldMax })

            // Submissions: some changed with a day-2 LastModifiedDate, none changed silently.
            var submissionChanges = 0
            let all = files(under: root)
            for folder in Set(all.filter { $0.contains("/submissions/") }.map { String($0[..<$0.range(of: "/submissions/")!.upperBound].dropLast()) }) {
                let pair = all.filter { $0.hasPrefix(folder + "/") }
                guard pair.count == 2 else { continue }
                let old = Dictionary(uniqueKeysWithValues: try rows(root, pair[0], .submissions).map { ($0["SourceSystemIdentifier"]!, $0) })
                for new in try rows(root, pair[1], .submissions) {
                    guard let o = old[new["SourceSystemIdentifier"]!], o != new else { continue }
                    submissionChanges += 1
                    #expect(new["LastModifiedDate"]!.hasPrefix("2026-09-02 "))
                }
            }
            #expect(submissionChanges > 0)
        }
    }

    @Test(arguments: [1, 4])
    func childrenReferenceParentsOfTheSameDay(day: Int) throws {
        try withTemporaryDirectory { root in
            _ = try SampleGenerator.write(to: root, options: options(users: 300, sections: 12, assignments: 3, day: day))
            let all = files(under: root)
            let userRows = try rows(root, try file(in: "users", of: all), .users)
            let users = ids(userRows)
            let teachers = Set(userRows.filter { $0["UserRole"] == "teacher" }.map { $0["SourceSystemIdentifier"]! })
            let sections = ids(try rows(root, try file(in: "sections", of: all), .sections))
            let sectionFolders = Set(all.compactMap { $0.hasPrefix("section=") ? String($0.split(separator: "/")[0].dropFirst(8)) : nil })
            #expect(sectionFolders == sections, "a section folder without its section, or a section without folder")

            var submissions = 0
            for section in sections.sorted() {
                let folder = "section=\(section)"
                let enrollments = try rows(root, try file(in: folder + "/section-associations", of: all), .sectionAssociations)
                #expect(enrollments.allSatisfy { users.contains($0["LMSUserSourceSystemIdentifier"]!) && $0["LMSSectionSourceSystemIdentifier"] == section })
                let enrolled = ids(enrollments, "LMSUserSourceSystemIdentifier")
                #expect(!enrolled.isDisjoint(with: teachers), "section \(section) has no teacher")
                #expect(!enrolled.subtracting(teachers).isEmpty, "section \(section) has no student")

                let assignments = try rows(root, try file(in: folder + "/assignments", of: all), .assignments)
                #expect(assignments.allSatisfy { $0["LMSSectionSourceSystemIdentifier"] == section })
                let assignmentIds = ids(assignments)
                let submissionFolders = Set(all.compactMap { path -> String? in
                    let parts = path.split(separator: "/")
                    guard parts.count == 4, parts[0] == folder, parts[2] == "submissions" else { return nil }
                    return String(parts[1].dropFirst("assignment=".count))
                })
                #expect(submissionFolders == assignmentIds)
                for assignment in assignmentIds {
                    let sub = try rows(root, try file(in: folder + "/assignment=\(assignment)/submissions", of: all), .submissions)
                    submissions += sub.count
                    for row in sub {
                        #expect(row["AssignmentSourceSystemIdentifier"] == assignment)
                        #expect(assignmentIds.contains(row["AssignmentSourceSystemIdentifier"]!))
                        #expect(users.contains(row["LMSUserSourceSystemIdentifier"]!))
                        #expect(enrolled.contains(row["LMSUserSourceSystemIdentifier"]!))
                    }
                }
                for row in try rows(root, try file(in: folder + "/attendance-events", of: all), .attendanceEvents) {
                    #expect(row["LMSSectionSourceSystemIdentifier"] == section)
                    #expect(enrolled.contains(row["LMSUserSourceSystemIdentifier"]!), "attendance of a user not enrolled")
                }
                for row in try rows(root, try file(in: folder + "/section-activities", of: all), .sectionActivities) {
                    #expect(row["LMSSectionSourceSystemIdentifier"] == section)
                    #expect(enrolled.contains(row["LMSUserSourceSystemIdentifier"]!))
                }
                _ = try file(in: folder + "/grades", of: all)
            }
            #expect(submissions > 0)
            let date = "2026-09-0\(day)"
            let system = try rows(root, try file(in: "system-activities/date=\(date)", of: all), .systemActivities)
            #expect(!system.isEmpty)
            #expect(system.allSatisfy { users.contains($0["LMSUserSourceSystemIdentifier"]!) && $0["ActivityDateTime"]!.hasPrefix(date) })
        }
    }

    @Test func writingALaterDayDoesNotNeedEarlierDays() throws {
        try withTemporaryDirectory { root in
            let o = options(users: 60, sections: 4, assignments: 2, day: 3)
            _ = try SampleGenerator.write(to: root + "/a", options: options(users: 60, sections: 4, assignments: 2, day: 1))
            _ = try SampleGenerator.write(to: root + "/a", options: options(users: 60, sections: 4, assignments: 2, day: 2))
            _ = try SampleGenerator.write(to: root + "/a", options: o)
            _ = try SampleGenerator.write(to: root + "/b", options: o)
            let fresh = files(under: root + "/b")
            let day3 = files(under: root + "/a").filter { $0.contains("2026-09-03-") }
            #expect(day3 == fresh)
            for f in fresh { #expect(try bytes(root + "/a", f) == bytes(root + "/b", f)) }
        }
    }

    /// The benchmark size: 5,000 users, 250 sections, 10 assignments per section (about 280,000
    /// rows, 3,750 files, 67 MB; a few seconds in a debug build).
    @Test func benchmarkSizeIsAbout280kRows() throws {
        try withTemporaryDirectory { root in
            let summary = try SampleGenerator.write(to: root, options: options(users: 5000, sections: 250, assignments: 10))
            #expect((250_000...320_000).contains(summary.totalRows), "total \(summary.totalRows)")
            #expect((220_000...270_000).contains(summary.rows[.submissions]!), "submissions \(summary.rows[.submissions]!)")
            #expect(summary.rows[.users] == 5000 && summary.rows[.sections] == 250 && summary.rows[.assignments] == 2500)
        }
    }

    @Test func invalidOptionsAreRejected() throws {
        try withTemporaryDirectory { root in
            #expect(throws: SampleError.self) { try SampleGenerator.write(to: root, options: options(users: 5, sections: 1, assignments: 1, day: 0)) }
            #expect(throws: SampleError.self) { try SampleGenerator.write(to: root, options: options(users: -1, sections: 1, assignments: 1)) }
        }
    }
}
