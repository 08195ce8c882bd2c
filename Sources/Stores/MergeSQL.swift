import Extract

/// The merge of one resource file into its table, generated from the resource's schema for one
/// SQL dialect. Every engine runs these statements in this order inside one transaction:
///
/// 1. `createStaging` (session-local), then the rows go into it by the engine's bulk path;
/// 2. `resolveParents`: natural keys -> synthetic keys (and, for attendance, the enrollment), and the
///    row's own target row if it has one;
/// 3. `markOrphans`, `selectOrphanLines`: rows whose parents are missing wait in the buffer;
/// 4. `countRestored`, `update`, `insert`;
/// 5. the submission-type statements (assignments only);
/// 6. `softDelete` for the file's scope (snapshots only).
///
/// No value is ever spliced into the SQL text: values are rows in staging or bind parameters.
public struct MergeSQL: Sendable {
    public let schema: ResourceSchema
    public let dialect: any SQLDialect
    /// Schema columns the file has; absent ones are not compared or written on update.
    public let present: Set<String>

    public init(schema: ResourceSchema, dialect: any SQLDialect, present: Set<String>) {
        self.schema = schema
        self.dialect = dialect
        self.present = present
    }

    var target: String { dialect.table(schema.table) }
    public var staging: String { "stg_" + schema.table }
    public static let submissionTypeStaging = "stg_AssignmentSubmissionType"
    public static let droppedKeyStaging = "stg_DroppedKeys"

    /// Columns the rows are loaded into, in this order: `line`, then every schema column.
    public var stagingInputColumns: [String] { ["StagingLine"] + schema.columns.map(\.name) }

    /// Foreign keys filled by resolution: one per parent, plus the enrollment for attendance.
    var foreignKeys: [String] {
        schema.parents.map(\.foreignKey) + (schema.linksEnrollment ? ["LMSUserLMSSectionAssociationIdentifier"] : [])
    }

    /// Data columns of the file that are copied into the table.
    var copiedColumns: [String] {
        schema.dataColumns.map(\.name).filter { present.contains($0) }
    }

    public var createStaging: [String] {
        var cols = ["StagingLine \(dialect.integerType) NOT NULL"]
        cols += schema.columns.map { "\($0.name) \(dialect.stagingType($0.type))" }
        cols += foreignKeys.map { "\($0) \(dialect.integerType)" }
        cols += ["ExistingId \(dialect.integerType)", "ExistingDeleted \(dialect.integerType)", "Orphan \(dialect.integerType) NOT NULL DEFAULT 0"]
        var s = [dialect.createTempTable(staging, columns: cols.joined(separator: ", ")),
                 // "Is this row in the file?" is asked once per row of the scope: index it.
                 dialect.createTempIndex("\(staging)_key", on: staging, columns: "SourceSystemIdentifier, SourceSystem")]
        if schema.resource == .assignments {
            s.append(dialect.createTempTable(MergeSQL.submissionTypeStaging,
                                             columns: "SourceSystemIdentifier \(dialect.stagingType(.text(maxLength: 255))), SourceSystem \(dialect.stagingType(.text(maxLength: 255))), SubmissionType \(dialect.stagingType(.text(maxLength: 60)))"))
        }
        if schema.deleteScope == .previousSnapshot {
            s.append(dialect.createTempTable(MergeSQL.droppedKeyStaging,
                                             columns: "SourceSystemIdentifier \(dialect.stagingType(.text(maxLength: 255))), SourceSystem \(dialect.stagingType(.text(maxLength: 255)))"))
        }
        return s
    }

    public var clearStaging: [String] {
        var s = [dialect.clear(staging)]
        if schema.resource == .assignments { s.append(dialect.clear(MergeSQL.submissionTypeStaging)) }
        if schema.deleteScope == .previousSnapshot { s.append(dialect.clear(MergeSQL.droppedKeyStaging)) }
        return s.compactMap { $0 }
    }

    /// Parents by natural key, and the row's own target row, in one pass over staging. Correlated
    /// subqueries probe the unique indexes once per staged row, whatever the planner's statistics say.
    public var resolveParents: [String] {
        var sets = schema.parents.map { link in
            let parent = link.parent.schema
            return """
                \(link.foreignKey) = (SELECT p.\(parent.identity) FROM \(dialect.table(parent.table)) p
                WHERE p.SourceSystemIdentifier = \(staging).\(link.column) AND p.SourceSystem = \(staging).SourceSystem)
                """
        }
        sets.append("""
            ExistingId = (SELECT t.\(schema.identity) FROM \(target) t
            WHERE t.SourceSystemIdentifier = \(staging).SourceSystemIdentifier AND t.SourceSystem = \(staging).SourceSystem)
            """)
        sets.append("""
            ExistingDeleted = (SELECT CASE WHEN t.DeletedAt IS NULL THEN 0 ELSE 1 END FROM \(target) t
            WHERE t.SourceSystemIdentifier = \(staging).SourceSystemIdentifier AND t.SourceSystem = \(staging).SourceSystem)
            """)
        var s = ["UPDATE \(staging) SET " + sets.joined(separator: ",\n")]
        if schema.linksEnrollment {
            // Fix of upstream D19: with two enrollments of one user in one section, take the live one
            // (then the oldest) instead of inserting the event twice and failing.
            let a = dialect.table(ResourceSchema.of(.sectionAssociations).table)
            s.append("""
                UPDATE \(staging) SET LMSUserLMSSectionAssociationIdentifier = (\(dialect.selectFirst("a.LMSUserLMSSectionAssociationIdentifier", rest: """
                FROM \(a) a WHERE a.LMSUserIdentifier = \(staging).LMSUserIdentifier AND a.LMSSectionIdentifier = \(staging).LMSSectionIdentifier
                ORDER BY CASE WHEN a.DeletedAt IS NULL THEN 0 ELSE 1 END, a.LMSUserLMSSectionAssociationIdentifier
                """)))
                """)
        }
        return s
    }

    public var markOrphans: String? {
        guard !foreignKeys.isEmpty else { return nil }
        return "UPDATE \(staging) SET Orphan = 1 WHERE " + foreignKeys.map { "\($0) IS NULL" }.joined(separator: " OR ")
    }

    public var selectOrphanLines: String { "SELECT StagingLine FROM \(staging) WHERE Orphan = 1 ORDER BY StagingLine" }

    public var countRestored: String {
        "SELECT count(*) FROM \(staging) WHERE Orphan = 0 AND ExistingDeleted = 1"
    }

    /// Fix of upstream D2, D3, D17: a row is updated when any value differs (not only
    /// LastModifiedDate), a returning row is restored, and parent links follow the file.
    public var update: String {
        // The natural key is equal by the join; the rest is compared and copied.
        let cols = copiedColumns.filter { !ResourceSchema.naturalKey.contains($0) } + foreignKeys
        let set = (cols.map { "\($0) = s.\($0)" } + ["DeletedAt = NULL"]).joined(separator: ", ")
        let differs = (cols.map { dialect.distinct("t.\($0)", "s.\($0)") } + ["t.DeletedAt IS NOT NULL"]).joined(separator: " OR ")
        return """
            UPDATE \(target) AS t SET \(set) FROM \(staging) AS s
            WHERE t.\(schema.identity) = s.ExistingId AND s.Orphan = 0 AND (\(differs))
            """
    }

    public var insert: String {
        let cols = copiedColumns + foreignKeys
        return """
            INSERT INTO \(target) (\(cols.joined(separator: ", ")))
            SELECT \(cols.map { "s.\($0)" }.joined(separator: ", ")) FROM \(staging) s
            WHERE s.Orphan = 0 AND s.ExistingId IS NULL ORDER BY s.StagingLine
            """
    }

    /// A statement with its bind values in order.
    public struct Bound: Sendable {
        public var sql: String
        public var parameters: [String]
    }

    /// Soft-deletes the rows of the file's scope that the file lacks, for one source system.
    /// `now` is the transaction's time. Returns nil when the scope cannot be named.
    public func softDelete(scope: Scope, sourceSystem: String, now: String) -> Bound? {
        let p = dialect.parameter
        let missing = """
            NOT EXISTS (SELECT 1 FROM \(staging) s WHERE s.SourceSystemIdentifier = t.SourceSystemIdentifier AND s.SourceSystem = t.SourceSystem)
            """
        let head = "UPDATE \(target) AS t SET DeletedAt = \(dialect.timestampParameter(1)) WHERE t.DeletedAt IS NULL AND t.SourceSystem = \(p(2)) AND \(missing)"
        switch schema.deleteScope {
        case .sourceSystem, .section, .assignment:
            guard let filter = scopeFilter(scope, sourceSystem: p(2), id: p(3)) else { return nil }
            return Bound(sql: head + filter.sql, parameters: [now, sourceSystem] + filter.parameters)
        case .previousSnapshot:
            // Driven by the (few) dropped keys, not by a scan of the whole table.
            return Bound(sql: head + """
                 AND t.\(schema.identity) IN (SELECT x.\(schema.identity) FROM \(target) x JOIN \(MergeSQL.droppedKeyStaging) d
                 ON d.SourceSystemIdentifier = x.SourceSystemIdentifier AND d.SourceSystem = x.SourceSystem)
                """, parameters: [now, sourceSystem])
        }
    }

    /// Counts the live rows of the file's scope for one source system (the mass-delete guard).
    public func liveInScope(scope: Scope, sourceSystem: String) -> Bound? {
        let p = dialect.parameter
        guard let filter = scopeFilter(scope, sourceSystem: p(1), id: p(2)) else { return nil }
        return Bound(sql: "SELECT count(*) FROM \(target) t WHERE t.DeletedAt IS NULL AND t.SourceSystem = \(p(1))" + filter.sql,
                     parameters: [sourceSystem] + filter.parameters)
    }

    /// The condition that narrows a source system's rows to the file's section or assignment scope
    /// (empty for a whole-source-system scope), with its parameter; nil when the scope has no name.
    private func scopeFilter(_ scope: Scope, sourceSystem: String, id: String) -> (sql: String, parameters: [String])? {
        switch schema.deleteScope {
        case .sourceSystem:
            return ("", [])
        case .section:
            guard let section = scope.sectionId else { return nil }
            let sections = dialect.table(ResourceSchema.of(.sections).table)
            return ("""
                 AND t.LMSSectionIdentifier IN (SELECT x.LMSSectionIdentifier FROM \(sections) x
                 WHERE x.SourceSystemIdentifier = \(id) AND x.SourceSystem = \(sourceSystem))
                """, [section])
        case .assignment:
            guard let assignment = scope.assignmentId else { return nil }
            let assignments = dialect.table(ResourceSchema.of(.assignments).table)
            return ("""
                 AND t.AssignmentIdentifier IN (SELECT x.AssignmentIdentifier FROM \(assignments) x
                 WHERE x.SourceSystemIdentifier = \(id) AND x.SourceSystem = \(sourceSystem))
                """, [assignment])
        case .previousSnapshot:
            return nil
        }
    }

    // MARK: submission types (assignments only)

    var submissionTypeTable: String { dialect.table("AssignmentSubmissionType") }

    /// The file's live assignments joined to their submission types in staging.
    private var stagedTypes: String {
        let st = MergeSQL.submissionTypeStaging
        return """
            \(st) st JOIN \(staging) s ON s.SourceSystemIdentifier = st.SourceSystemIdentifier AND s.SourceSystem = st.SourceSystem AND s.Orphan = 0
            JOIN \(target) a ON a.SourceSystemIdentifier = st.SourceSystemIdentifier AND a.SourceSystem = st.SourceSystem
            """
    }

    /// Insert new (assignment, type) pairs; `CreateDate` is the load time, as upstream.
    public var insertSubmissionTypes: String {
        return """
            INSERT INTO \(submissionTypeTable) (AssignmentIdentifier, SubmissionType, CreateDate)
            SELECT DISTINCT a.AssignmentIdentifier, st.SubmissionType, \(dialect.timestampParameter(1)) FROM \(stagedTypes)
            WHERE NOT EXISTS (SELECT 1 FROM \(submissionTypeTable) x WHERE x.AssignmentIdentifier = a.AssignmentIdentifier AND x.SubmissionType = st.SubmissionType)
            """
    }

    public var restoreSubmissionTypes: String {
        """
        UPDATE \(submissionTypeTable) AS x SET DeletedAt = NULL WHERE x.DeletedAt IS NOT NULL AND EXISTS (
        SELECT 1 FROM \(stagedTypes) WHERE a.AssignmentIdentifier = x.AssignmentIdentifier AND st.SubmissionType = x.SubmissionType)
        """
    }

    /// Fix of upstream D4: only the types of this file's assignments are deleted, and a deleted
    /// type keeps its first deletion time.
    public var deleteSubmissionTypes: String {
        return """
            UPDATE \(submissionTypeTable) AS x SET DeletedAt = \(dialect.timestampParameter(1)) WHERE x.DeletedAt IS NULL
            AND x.AssignmentIdentifier IN (SELECT a.AssignmentIdentifier FROM \(staging) s JOIN \(target) a
                ON a.SourceSystemIdentifier = s.SourceSystemIdentifier AND a.SourceSystem = s.SourceSystem WHERE s.Orphan = 0)
            AND NOT EXISTS (SELECT 1 FROM \(stagedTypes) WHERE a.AssignmentIdentifier = x.AssignmentIdentifier AND st.SubmissionType = x.SubmissionType)
            """
    }
}
