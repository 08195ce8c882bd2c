/// How a CSV column's text becomes a value.
public enum ColumnType: Sendable, Equatable {
    /// Kept exactly as written; longer than `maxLength` characters is an error.
    case text(maxLength: Int)
    /// Kept as written but cut to `maxLength` characters (upstream cuts descriptions).
    case truncatedText(maxLength: Int)
    /// A date and time, stored as `YYYY-MM-DD HH:MM:SS[.ffffff]`. With a zone, converted to UTC.
    case dateTime
    /// A date and time the upstream loader passes to the database unparsed: a zone is dropped and
    /// the wall clock kept (what PostgreSQL does with such text), so both loaders write the same value.
    case wallClockDateTime
    /// A date (a time part is accepted and dropped), stored as `YYYY-MM-DD`.
    case date
    /// A 32-bit integer; `10.0` is accepted as 10, `10.5` is an error.
    case integer
    /// Assignment submission types (`online_upload` or `['a', 'b']`); not a column of the table.
    case submissionTypes
}

/// One column of a resource's CSV file.
public struct Column: Sendable, Equatable {
    /// The column's name in the CSV header and in the target table.
    public let name: String
    /// How its text is checked and normalised.
    public let type: ColumnType
    /// The column must appear in the header.
    public let headerRequired: Bool
    /// Every row needs a value (the target column is NOT NULL).
    public let valueRequired: Bool

    /// A column; `header`: it must be in the file's header; `notNull`: every row needs a value.
    public init(_ name: String, _ type: ColumnType, header: Bool = false, notNull: Bool = false) {
        self.name = name
        self.type = type
        self.headerRequired = header
        self.valueRequired = notNull
    }

    /// A file without this column cannot be loaded.
    public var isRequired: Bool { headerRequired || valueRequired }
}

/// A reference from a row to its parent row, by the parent's natural key.
public struct ParentLink: Sendable, Equatable {
    /// The CSV column holding the parent's `SourceSystemIdentifier`.
    public let column: String
    /// The resource whose row is referenced.
    public let parent: Resource
    /// The foreign-key column of the target table.
    public let foreignKey: String

    /// A link from `column` of this resource's file to a row of `parent`, stored in `foreignKey`.
    public init(column: String, parent: Resource, foreignKey: String) {
        self.column = column
        self.parent = parent
        self.foreignKey = foreignKey
    }
}

/// A link no CSV column names: resolved through another resource's table by the foreign keys the two
/// rows share. Attendance events link to the enrollment (section association) of their user in
/// their section; where several match, a live one, then the oldest.
public struct ThroughLink: Sendable, Equatable {
    /// The resource whose table the link is found in.
    public let resource: Resource
    /// The foreign-key column of this table, filled with the found row's identity.
    public let foreignKey: String
    /// Foreign keys (filled from this row's parents) that the found row must have equal.
    public let matching: [String]

    /// A link through `resource`'s table: its row whose `matching` foreign keys equal this row's fills
    /// `foreignKey`.
    public init(resource: Resource, foreignKey: String, matching: [String]) {
        self.resource = resource
        self.foreignKey = foreignKey
        self.matching = matching
    }
}

/// A table of values a CSV column lists per row: assignments' `SubmissionType` column
/// (`online_upload` or `['online_text_entry', 'online_upload']`) fills `AssignmentSubmissionType`,
/// one row per (assignment, type). Its rows are keyed by the owning row's identity and the value,
/// and soft-deleted when the owning row's file no longer lists the value.
public struct ChildTable: Sendable, Equatable {
    /// The child table, without schema (`AssignmentSubmissionType`).
    public let table: String
    /// The CSV column the values come from; its type is `.submissionTypes` (the list syntax).
    public let column: String
    /// The child table's value column (`SubmissionType`).
    public let valueColumn: String
    /// The session-local staging table of the (natural key, value) pairs of one file.
    public let staging: String

    /// A child table; `staging` defaults to `stg_` and the table's name.
    public init(table: String, column: String, valueColumn: String, staging: String? = nil) {
        self.table = table
        self.column = column
        self.valueColumn = valueColumn
        self.staging = staging ?? "stg_" + table
    }

    /// The values one CSV field lists, duplicates dropped.
    public func values(_ raw: String?) -> [String] { SubmissionTypes.parse(raw) }
}

/// Which existing rows a snapshot file replaces: the rows of its scope that it lacks are soft-deleted.
public enum DeleteScope: Sendable, Equatable {
    /// Every row of the file's source system (users, sections).
    case sourceSystem
    /// Rows of the section named by the file's `section=` folder.
    case section
    /// Rows of the assignment named by the file's `assignment=` folder.
    case assignment
    /// Rows that an earlier snapshot of the same folder delivered (system activities: the `date=`
    /// folder is the extraction date, so the table itself cannot tell which rows a folder owns).
    case previousSnapshot

    /// The folder key that names the scope (`section=`, `assignment=`), for folder-scoped deletes.
    public var folderKey: String? {
        switch self {
        case .section: return "section"
        case .assignment: return "assignment"
        case .sourceSystem, .previousSnapshot: return nil
        }
    }
}

/// Everything the agent knows about one resource: the folder its files sit in, the CSV columns, the
/// target table, its parents, child tables and delete scope. The folder classifier, the buffer's
/// staging tables, the merge SQL of every engine and the stores' bulk loads are derived from it;
/// the table itself comes from one DDL script per engine.
public struct ResourceSchema: Sendable {
    /// The resource described.
    public let resource: Resource
    /// Where the resource's files sit, relative to the extract root.
    public let folder: FolderPattern
    /// The target table, without schema (`LMSUser`).
    public let table: String
    /// The table's synthetic key column (`LMSUserIdentifier`).
    public let identity: String
    /// Every CSV column, in the extractor's order.
    public let columns: [Column]
    /// The rows this resource's rows refer to; a row whose parent is not in the LMS-DS yet waits in the
    /// buffer.
    public let parents: [ParentLink]
    /// Which rows a snapshot replaces: those of its scope that it lacks are soft-deleted.
    public let deleteScope: DeleteScope
    /// For a folder-scoped delete (`section`, `assignment`): the parent whose row the folder names.
    /// Its column must repeat the folder's id on every row, and the soft delete is scoped by its
    /// foreign key.
    public let scopeParent: ParentLink?
    /// Links resolved through another table (attendance events' enrollment).
    public let throughLinks: [ThroughLink]
    /// Tables filled from a column's list of values (assignments' submission types).
    public let childTables: [ChildTable]

    /// The natural key: unique per table, and how parents are found.
    public static let naturalKey = ["SourceSystemIdentifier", "SourceSystem"]

    /// `folder` is a `FolderPattern` text (`section={id}/assignments`). A folder-scoped delete needs
    /// its `scopeParent`; `ResourceRegistry` checks a schema's declarations when it is registered.
    public init(resource: Resource, folder: String, table: String, identity: String, columns: [Column],
                parents: [ParentLink] = [], deleteScope: DeleteScope, scopeParent: ParentLink? = nil,
                throughLinks: [ThroughLink] = [], childTables: [ChildTable] = []) {
        self.resource = resource
        self.folder = FolderPattern(folder)
        self.table = table
        self.identity = identity
        self.columns = columns
        self.parents = parents
        self.deleteScope = deleteScope
        self.scopeParent = scopeParent
        self.throughLinks = throughLinks
        self.childTables = childTables
    }

    /// The column of that name, nil when the resource has none.
    public func column(named name: String) -> Column? { columns.first { $0.name == name } }
    /// The position of the named column in `columns` (and in every `ResourceRow`'s values).
    public func index(of name: String) -> Int? { columns.firstIndex { $0.name == name } }

    /// For a file whose folder names its scope (`section=` or `assignment=`), the column every row must
    /// repeat that id in, and the folder key. The merge deletes the folder's scope, so a row of another
    /// section in a section's folder would delete the folder's rows and write another section's.
    public var folderScopeColumn: (column: String, folderKey: String)? {
        guard let key = deleteScope.folderKey, let parent = scopeParent else { return nil }
        return (parent.column, key)
    }

    /// Foreign keys the merge fills: one per parent, then one per through link.
    public var foreignKeys: [String] { parents.map(\.foreignKey) + throughLinks.map(\.foreignKey) }

    /// Columns copied into the target table as they are (not parent references, not child-table lists).
    public var dataColumns: [Column] {
        columns.filter { c in !childTables.contains { $0.column == c.name } && !parents.contains { $0.column == c.name } }
    }
}
