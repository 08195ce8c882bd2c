import Agent
import Extract
import Foundation
import Testing

/// Adding a resource is writing its schema and one DDL script per engine: this test registers a toy
/// `badges` resource (`section={id}/badges/`, a user parent, a section delete scope, a child table of
/// tags) that no code of the agent names, and runs it through scanning, staging, the merge, a second
/// day that changes and removes rows, and `status`.
@Suite("A resource registered at run time")
struct ToyResourceTests {
    static let badges = Resource("badges")

    static let userLink = ParentLink(column: "LMSUserSourceSystemIdentifier", parent: .users, foreignKey: "LMSUserIdentifier")
    static let sectionLink = ParentLink(column: "LMSSectionSourceSystemIdentifier", parent: .sections, foreignKey: "LMSSectionIdentifier")

    static let schema = ResourceSchema(
        resource: badges, folder: "section={id}/badges", table: "Badge", identity: "BadgeIdentifier",
        columns: [
            Column("SourceSystemIdentifier", .text(maxLength: 255), header: true, notNull: true),
            Column("SourceSystem", .text(maxLength: 255), header: true, notNull: true),
            Column("BadgeName", .text(maxLength: 60), notNull: true),
            Column("AwardedDate", .date, header: true),
            Column("Tags", .submissionTypes),
            Column("LMSUserSourceSystemIdentifier", .text(maxLength: 255), notNull: true),
            Column("LMSSectionSourceSystemIdentifier", .text(maxLength: 255), notNull: true),
            Column("CreateDate", .dateTime, header: true, notNull: true),
            Column("LastModifiedDate", .dateTime, header: true, notNull: true),
        ],
        parents: [sectionLink, userLink], deleteScope: .section, scopeParent: sectionLink,
        childTables: [ChildTable(table: "BadgeTag", column: "Tags", valueColumn: "Tag")])

    /// The one DDL script per engine the resource needs, given to the store as `--migrations-dir`.
    static func ddl(_ engine: TestEngine) -> String {
        switch engine {
        case .sqlite:
            return """
                CREATE TABLE Badge (
                    BadgeIdentifier INTEGER NOT NULL CONSTRAINT Badge_PK PRIMARY KEY,
                    SourceSystemIdentifier TEXT NOT NULL,
                    SourceSystem TEXT NOT NULL,
                    LMSUserIdentifier INTEGER NOT NULL REFERENCES LMSUser (LMSUserIdentifier),
                    LMSSectionIdentifier INTEGER NOT NULL REFERENCES LMSSection (LMSSectionIdentifier),
                    BadgeName TEXT NOT NULL,
                    AwardedDate TEXT,
                    DeletedAt TEXT,
                    CreateDate TEXT NOT NULL,
                    LastModifiedDate TEXT NOT NULL,
                    CONSTRAINT Badge_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
                );
                CREATE TABLE BadgeTag (
                    BadgeIdentifier INTEGER NOT NULL REFERENCES Badge (BadgeIdentifier),
                    Tag TEXT NOT NULL,
                    CreateDate TEXT NOT NULL,
                    DeletedAt TEXT,
                    CONSTRAINT BadgeTag_PK PRIMARY KEY (BadgeIdentifier, Tag)
                );
                """
        case .postgresql:
            return """
                CREATE TABLE lms.Badge (
                    BadgeIdentifier INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    SourceSystemIdentifier VARCHAR(255) NOT NULL,
                    SourceSystem VARCHAR(255) NOT NULL,
                    LMSUserIdentifier INT NOT NULL REFERENCES lms.LMSUser (LMSUserIdentifier),
                    LMSSectionIdentifier INT NOT NULL REFERENCES lms.LMSSection (LMSSectionIdentifier),
                    BadgeName VARCHAR(60) NOT NULL,
                    AwardedDate DATE NULL,
                    DeletedAt TIMESTAMP NULL,
                    CreateDate TIMESTAMP NOT NULL,
                    LastModifiedDate TIMESTAMP NOT NULL,
                    CONSTRAINT Badge_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
                );
                CREATE TABLE lms.BadgeTag (
                    BadgeIdentifier INT NOT NULL REFERENCES lms.Badge (BadgeIdentifier),
                    Tag VARCHAR(60) NOT NULL,
                    CreateDate TIMESTAMP NOT NULL,
                    DeletedAt TIMESTAMP NULL,
                    CONSTRAINT BadgeTag_PK PRIMARY KEY (BadgeIdentifier, Tag)
                );
                """
        }
    }

    static func badge(_ id: String, user: String, section: String, name: String = "Star", tags: String = "") -> [String: String] {
        ["SourceSystemIdentifier": id, "SourceSystem": Row.ss, "BadgeName": name, "AwardedDate": "2026-09-01", "Tags": tags,
         "LMSUserSourceSystemIdentifier": user, "LMSSectionSourceSystemIdentifier": section,
         "CreateDate": "2026-08-01 08:00:00", "LastModifiedDate": "2026-09-01 08:00:00"]
    }

    /// Writes a badges CSV with the schema's header (the World's writer knows only the standard resources).
    static func writeBadges(_ w: World, _ relative: String, _ rows: [[String: String]]) throws {
        let names = schema.columns.map(\.name)
        var text = names.joined(separator: ",") + "\n"
        for r in rows { text += names.map { csvField(r[$0] ?? "") }.joined(separator: ",") + "\n" }
        try w.writeRaw(relative, text)
    }

    static func agent(_ w: World, _ registry: ResourceRegistry) throws -> LMSAgent {
        try LMSAgent(settings: w.settings, logger: w.logger, requireExtract: true, registry: registry)
    }

    @Test func theRegistryDerivesTheFolderOfTheAddedResource() throws {
        let registry = try ResourceRegistry.standard.adding(Self.schema)
        #expect(registry.resources == Resource.allCases + [Self.badges])
        #expect(registry.tables.suffix(2) == ["AssignmentSubmissionType", "BadgeTag"])
        guard case .file(let f) = registry.classify("Section=s1/badges/2026-09-01-07-00-00.csv") else {
            Issue.record("badges file not classified")
            return
        }
        #expect(f.resource == Self.badges)
        #expect(f.scope == Scope(sectionId: "s1"))
        #expect(f.upstreamRelativePath == "section=s1/badges/2026-09-01-07-00-00.csv")
        // The standard registry does not know the folder; both still ignore grades.
        guard case .ignored = ExtractPath.classify("section=s1/badges/2026-09-01-07-00-00.csv") else {
            Issue.record("the standard registry classified a badges file")
            return
        }
        guard case .ignored(let why) = registry.classify("section=s1/grades/2026-09-01-07-00-00.csv") else {
            Issue.record("grades classified")
            return
        }
        #expect(why.contains("grades"))
    }

    @Test func aSchemaThatDoesNotFitIsRefusedWithItsReason() throws {
        // Its parent is not registered before it.
        let orphan = ResourceSchema(
            resource: Resource("stickers"), folder: "section={id}/stickers", table: "Sticker", identity: "StickerIdentifier",
            columns: Self.schema.columns.filter { $0.name != "Tags" },
            parents: [ParentLink(column: "LMSUserSourceSystemIdentifier", parent: Self.badges, foreignKey: "BadgeIdentifier")],
            deleteScope: .sourceSystem)
        #expect(throws: RegistryError.self) { try ResourceRegistry.standard.adding(orphan) }
        // A section-scoped delete needs a section folder.
        let unscoped = ResourceSchema(
            resource: Self.badges, folder: "badges", table: "Badge", identity: "BadgeIdentifier", columns: Self.schema.columns,
            parents: Self.schema.parents, deleteScope: .section, scopeParent: Self.sectionLink)
        #expect(throws: RegistryError.self) { try ResourceRegistry.standard.adding(unscoped) }
        // Two resources in one folder.
        let twin = ResourceSchema(
            resource: Resource("medals"), folder: "section={id}/assignments", table: "Medal", identity: "MedalIdentifier",
            columns: Self.schema.columns, parents: Self.schema.parents, deleteScope: .section, scopeParent: Self.sectionLink)
        #expect(throws: RegistryError.self) { try ResourceRegistry.standard.adding(twin) }
    }

    @Test(arguments: TestEngine.available)
    func aToyResourceTravelsFromTheExtractToStatus(_ engine: TestEngine) throws {
        let w = try World(engine: engine)
        let registry = try ResourceRegistry.standard.adding(Self.schema)
        let scripts = w.dir + "/migrations"
        try FileManager.default.createDirectory(atPath: scripts, withIntermediateDirectories: true)
        try Self.ddl(engine).write(toFile: scripts + "/5001_create_badge_tables.sql", atomically: true, encoding: .utf8)
        w.migrationsDir = scripts

        // Day 1: three badges in section s1 (one with two tags), one in s2.
        try w.write("users/2026-09-01-07-00-00.csv", .users, (1...3).map { Row.user("u\($0)") })
        try w.write("sections/2026-09-01-07-00-00.csv", .sections, [Row.section("s1"), Row.section("s2")])
        try Self.writeBadges(w, "section=s1/badges/2026-09-01-07-00-00.csv", [
            Self.badge("b1", user: "u1", section: "s1"),
            Self.badge("b2", user: "u2", section: "s1"),
            Self.badge("b3", user: "u3", section: "s1", tags: "['gold', 'early']"),
        ])
        try Self.writeBadges(w, "section=s2/badges/2026-09-01-07-00-00.csv", [Self.badge("c1", user: "u1", section: "s2")])

        let day1 = try Self.agent(w, registry)
        let run1 = try day1.run(scan: true)
        day1.close()
        #expect(run1.exitCode == .success)
        #expect(run1.stage?.staged == 4)
        #expect(run1.forward.byResource["badges"]?.files == 2)
        #expect(run1.forward.byResource["badges"]?.inserted == 4)
        #expect(try w.snapshot("Badge", "BadgeName") == ["b1": "Star", "b2": "Star", "b3": "Star", "c1": "Star"])
        // The parents resolved by the declared links.
        #expect(try w.value("""
            SELECT u.SourceSystemIdentifier || '/' || s.SourceSystemIdentifier FROM \(w.t("Badge")) b
            JOIN \(w.t("LMSUser")) u ON u.LMSUserIdentifier = b.LMSUserIdentifier
            JOIN \(w.t("LMSSection")) s ON s.LMSSectionIdentifier = b.LMSSectionIdentifier WHERE b.SourceSystemIdentifier = 'b3'
            """) == "u3/s1")
        #expect(try w.count("BadgeTag") == 2)

        // Day 2: s1's snapshot renames b1, drops b2 and b3's 'early' tag; s2's folder is not touched.
        try Self.writeBadges(w, "section=s1/badges/2026-09-02-07-00-00.csv", [
            Self.badge("b1", user: "u1", section: "s1", name: "Gold star"),
            Self.badge("b3", user: "u3", section: "s1", tags: "['gold']"),
        ])
        let day2 = try Self.agent(w, registry)
        let run2 = try day2.run(scan: true)
        #expect(run2.exitCode == .success)
        #expect(run2.forward.byResource["badges"]?.updated == 1)
        #expect(run2.forward.byResource["badges"]?.softDeleted == 1)
        #expect(try w.snapshot("Badge", "BadgeName") == ["b1": "Gold star", "b2": "Star deleted", "b3": "Star", "c1": "Star"])
        #expect(try w.value("SELECT x.Tag FROM \(w.t("BadgeTag")) x WHERE x.DeletedAt IS NOT NULL") == "early")

        // `status` lists the resource's tables with their live and deleted rows.
        let status = try day2.status()
        day2.close()
        let tables = Dictionary(uniqueKeysWithValues: status.tables.map { ($0.table, ($0.live, $0.deleted)) })
        #expect(tables["Badge"].map { [$0.0, $0.1] } == [3, 1])
        #expect(tables["BadgeTag"].map { [$0.0, $0.1] } == [1, 1])
        #expect(tables["LMSUser"].map { [$0.0, $0.1] } == [3, 0])
        #expect(status.counts.contains { $0.resource == "badges" && $0.files > 0 })
    }
}
