import Extract

/// The merge of one resource file into its table, generated from the resource's schema (and its
/// parents' schemas in the registry) for one SQL dialect. Every engine runs these statements in this
/// order inside one transaction:
///
/// 1. `createStaging` (session-local), then the rows go into it by the engine's bulk path, and each
///    child table's values into its own staging table;
/// 2. `resolveParents`: natural keys -> synthetic keys (and the links resolved through another
///    table, such as attendance's enrollment), and the row's own target row if it has one;
/// 3. `markOrphans`, `selectOrphanLines`: rows whose parents are missing wait in the buffer;
/// 4. `countRestored`, `update`, `insert`;
/// 5. the child-table statements (`ChildMergeSQL`: assignments' submission types);
/// 6. `softDelete` for the file's scope (snapshots only).
///
/// No value is ever spliced into the SQL text: values are rows in staging or bind parameters.
struct MergeSQL: Sendable {
    let schema: ResourceSchema
    let registry: ResourceRegistry
    let dialect: any SQLDialect
    /// Schema columns the file has; absent ones are not compared or written on update.
    let present: Set<String>

    init(schema: ResourceSchema, registry: ResourceRegistry, dialect: any SQLDialect, present: Set<String>) {
        self.schema = schema
        self.registry = registry
        self.dialect = dialect
        self.present = present
    }

    var target: String { dialect.table(schema.table) }
    var staging: String { "stg_" + schema.table }
    static let droppedKeyStaging = "stg_DroppedKeys"

    /// Columns the rows are loaded into, in this order: `line`, then every schema column.
    var stagingInputColumns: [String] { ["StagingLine"] + schema.columns.map(\.name) }

    /// The merge of each child table the schema declares.
    var children: [ChildMergeSQL] { schema.childTables.map { ChildMergeSQL(child: $0, owner: self) } }

    /// A registered resource's schema (the registry checked every link when the schema was added).
    func schema(of resource: Resource) -> ResourceSchema {
        guard let s = registry[resource] else { preconditionFailure("\(resource) is not registered") }
        return s
    }

    /// Data columns of the file that are copied into the table.
    var copiedColumns: [String] {
        schema.dataColumns.map(\.name).filter { present.contains($0) }
    }

    /// The natural key as staging columns, for the key-only staging tables.
    private var keyColumns: String {
        ResourceSchema.naturalKey.map { "\($0) \(dialect.stagingType(.text(maxLength: 255)))" }.joined(separator: ", ")
    }

    var createStaging: [String] {
        var cols = ["StagingLine \(dialect.integerType) NOT NULL"]
        cols += schema.columns.map { "\($0.name) \(dialect.stagingType($0.type))" }
        cols += schema.foreignKeys.map { "\($0) \(dialect.integerType)" }
        cols += ["ExistingId \(dialect.integerType)", "ExistingDeleted \(dialect.integerType)", "Orphan \(dialect.integerType) NOT NULL DEFAULT 0"]
        var s = [dialect.createTempTable(staging, columns: cols.joined(separator: ", ")),
                 // "Is this row in the file?" is asked once per row of the scope: index it.
                 dialect.createTempIndex("\(staging)_key", on: staging, columns: "SourceSystemIdentifier, SourceSystem")]
        for c in schema.childTables {
            s.append(dialect.createTempTable(c.staging, columns: keyColumns + ", \(c.valueColumn) \(dialect.stagingType(.text(maxLength: 255)))"))
        }
        if schema.deleteScope == .previousSnapshot {
            s.append(dialect.createTempTable(MergeSQL.droppedKeyStaging, columns: keyColumns))
        }
        return s
    }

    var clearStaging: [String] {
        var s = [dialect.clear(staging)] + schema.childTables.map { dialect.clear($0.staging) }
        if schema.deleteScope == .previousSnapshot { s.append(dialect.clear(MergeSQL.droppedKeyStaging)) }
        return s.compactMap { $0 }
    }

    /// Parents by natural key, and the row's own target row, in one pass over staging. Correlated
    /// subqueries probe the unique indexes once per staged row, whatever the planner's statistics say.
    var resolveParents: [String] {
        var sets = schema.parents.map { link in
            let parent = schema(of: link.parent)
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
        for link in schema.throughLinks {
            // Fix of upstream D19: with two enrollments of one user in one section, take the live one
            // (then the oldest) instead of inserting the event twice and failing.
            let through = schema(of: link.resource)
            let match = link.matching.map { "a.\($0) = \(staging).\($0)" }.joined(separator: " AND ")
            s.append("""
                UPDATE \(staging) SET \(link.foreignKey) = (\(dialect.selectFirst("a.\(through.identity)", rest: """
                FROM \(dialect.table(through.table)) a WHERE \(match)
                ORDER BY CASE WHEN a.DeletedAt IS NULL THEN 0 ELSE 1 END, a.\(through.identity)
                """)))
                """)
        }
        return s
    }

    var markOrphans: String? {
        guard !schema.foreignKeys.isEmpty else { return nil }
        return "UPDATE \(staging) SET Orphan = 1 WHERE " + schema.foreignKeys.map { "\($0) IS NULL" }.joined(separator: " OR ")
    }

    var selectOrphanLines: String { "SELECT StagingLine FROM \(staging) WHERE Orphan = 1 ORDER BY StagingLine" }

    var countRestored: String {
        "SELECT count(*) FROM \(staging) WHERE Orphan = 0 AND ExistingDeleted = 1"
    }

    /// Fix of upstream D2, D3, D17: a row is updated when any value differs (not only
    /// LastModifiedDate), a returning row is restored, and parent links follow the file.
    var update: String {
        // The natural key is equal by the join; the rest is compared and copied.
        let cols = copiedColumns.filter { !ResourceSchema.naturalKey.contains($0) } + schema.foreignKeys
        let set = (cols.map { "\($0) = s.\($0)" } + ["DeletedAt = NULL"]).joined(separator: ", ")
        let differs = (cols.map { dialect.distinct("t.\($0)", "s.\($0)") } + ["t.DeletedAt IS NOT NULL"]).joined(separator: " OR ")
        return """
            UPDATE \(target) AS t SET \(set) FROM \(staging) AS s
            WHERE t.\(schema.identity) = s.ExistingId AND s.Orphan = 0 AND (\(differs))
            """
    }

    var insert: String {
        let cols = copiedColumns + schema.foreignKeys
        return """
            INSERT INTO \(target) (\(cols.joined(separator: ", ")))
            SELECT \(cols.map { "s.\($0)" }.joined(separator: ", ")) FROM \(staging) s
            WHERE s.Orphan = 0 AND s.ExistingId IS NULL ORDER BY s.StagingLine
            """
    }

    /// A statement with its bind values in order.
    struct Bound: Sendable {
        var sql: String
        var parameters: [String]
    }

    /// Soft-deletes the rows of the file's scope that the file lacks, for one source system.
    /// `now` is the transaction's time. Returns nil when the scope cannot be named.
    func softDelete(scope: Scope, sourceSystem: String, now: String) -> Bound? {
        let p = dialect.parameter
        let missing = """
            NOT EXISTS (SELECT 1 FROM \(staging) s WHERE s.SourceSystemIdentifier = t.SourceSystemIdentifier AND s.SourceSystem = t.SourceSystem)
            """
        let head = "UPDATE \(target) AS t SET DeletedAt = \(dialect.timestampParameter(1)) WHERE t.DeletedAt IS NULL AND t.SourceSystem = \(p(2)) AND \(missing)"
        if schema.deleteScope == .previousSnapshot {
            // Driven by the (few) dropped keys, not by a scan of the whole table.
            return Bound(sql: head + """
                 AND t.\(schema.identity) IN (SELECT x.\(schema.identity) FROM \(target) x JOIN \(MergeSQL.droppedKeyStaging) d
                 ON d.SourceSystemIdentifier = x.SourceSystemIdentifier AND d.SourceSystem = x.SourceSystem)
                """, parameters: [now, sourceSystem])
        }
        guard let filter = scopeFilter(scope, sourceSystem: p(2), id: p(3)) else { return nil }
        return Bound(sql: head + filter.sql, parameters: [now, sourceSystem] + filter.parameters)
    }

    /// Counts the live rows of the file's scope for one source system (the mass-delete guard).
    func liveInScope(scope: Scope, sourceSystem: String) -> Bound? {
        let p = dialect.parameter
        guard let filter = scopeFilter(scope, sourceSystem: p(1), id: p(2)) else { return nil }
        return Bound(sql: "SELECT count(*) FROM \(target) t WHERE t.DeletedAt IS NULL AND t.SourceSystem = \(p(1))" + filter.sql,
                     parameters: [sourceSystem] + filter.parameters)
    }

    /// The condition that narrows a source system's rows to the file's folder scope (empty for a
    /// whole-source-system scope), with its parameter; nil when the scope has no name. A folder scope
    /// is the parent row the folder names (`section=` -> the section), found by its natural key.
    private func scopeFilter(_ scope: Scope, sourceSystem: String, id: String) -> (sql: String, parameters: [String])? {
        if schema.deleteScope == .sourceSystem { return ("", []) }
        guard let key = schema.deleteScope.folderKey, let link = schema.scopeParent, let folderId = scope.value(of: key) else { return nil }
        let parent = schema(of: link.parent)
        return ("""
             AND t.\(link.foreignKey) IN (SELECT x.\(parent.identity) FROM \(dialect.table(parent.table)) x
             WHERE x.SourceSystemIdentifier = \(id) AND x.SourceSystem = \(sourceSystem))
            """, [folderId])
    }
}

/// The merge of a child table (`ChildTable`) of the owner's rows: assignments' submission types.
/// Its rows are (owner identity, value); the file's (natural key, value) pairs are in `child.staging`.
struct ChildMergeSQL: Sendable {
    let child: ChildTable
    let owner: MergeSQL

    private var table: String { owner.dialect.table(child.table) }
    private var identity: String { owner.schema.identity }
    private var value: String { child.valueColumn }

    /// Columns the pairs are loaded into.
    var stagingInputColumns: [String] { ResourceSchema.naturalKey + [child.valueColumn] }

    /// The file's live owner rows joined to their values in staging.
    private var stagedValues: String {
        """
        \(child.staging) st JOIN \(owner.staging) s ON s.SourceSystemIdentifier = st.SourceSystemIdentifier AND s.SourceSystem = st.SourceSystem AND s.Orphan = 0
        JOIN \(owner.target) a ON a.SourceSystemIdentifier = st.SourceSystemIdentifier AND a.SourceSystem = st.SourceSystem
        """
    }

    /// Insert new (owner, value) pairs; `CreateDate` is the load time, as upstream.
    var insert: String {
        """
        INSERT INTO \(table) (\(identity), \(value), CreateDate)
        SELECT DISTINCT a.\(identity), st.\(value), \(owner.dialect.timestampParameter(1)) FROM \(stagedValues)
        WHERE NOT EXISTS (SELECT 1 FROM \(table) x WHERE x.\(identity) = a.\(identity) AND x.\(value) = st.\(value))
        """
    }

    var restore: String {
        """
        UPDATE \(table) AS x SET DeletedAt = NULL WHERE x.DeletedAt IS NOT NULL AND EXISTS (
        SELECT 1 FROM \(stagedValues) WHERE a.\(identity) = x.\(identity) AND st.\(value) = x.\(value))
        """
    }

    /// Fix of upstream D4: only the values of this file's owner rows are deleted, and a deleted
    /// value keeps its first deletion time.
    var delete: String {
        """
        UPDATE \(table) AS x SET DeletedAt = \(owner.dialect.timestampParameter(1)) WHERE x.DeletedAt IS NULL
        AND x.\(identity) IN (SELECT a.\(identity) FROM \(owner.staging) s JOIN \(owner.target) a
            ON a.SourceSystemIdentifier = s.SourceSystemIdentifier AND a.SourceSystem = s.SourceSystem WHERE s.Orphan = 0)
        AND NOT EXISTS (SELECT 1 FROM \(stagedValues) WHERE a.\(identity) = x.\(identity) AND st.\(value) = x.\(value))
        """
    }
}
