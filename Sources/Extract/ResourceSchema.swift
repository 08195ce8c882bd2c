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
    public let name: String
    public let type: ColumnType
    /// The column must appear in the header.
    public let headerRequired: Bool
    /// Every row needs a value (the target column is NOT NULL).
    public let valueRequired: Bool

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
    public let parent: Resource
    /// The foreign-key column of the target table.
    public let foreignKey: String
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
}

/// Everything the agent knows about one resource; the merge SQL of every engine is generated from it.
public struct ResourceSchema: Sendable {
    public let resource: Resource
    /// The target table, without schema (`LMSUser`).
    public let table: String
    /// The table's synthetic key column (`LMSUserIdentifier`).
    public let identity: String
    /// Every CSV column, in the extractor's order.
    public let columns: [Column]
    public let parents: [ParentLink]
    public let deleteScope: DeleteScope
    /// Attendance events also link to the user's enrollment in the section.
    public let linksEnrollment: Bool

    /// The natural key: unique per table, and how parents are found.
    public static let naturalKey = ["SourceSystemIdentifier", "SourceSystem"]

    public func column(named name: String) -> Column? { columns.first { $0.name == name } }
    public func index(of name: String) -> Int? { columns.firstIndex { $0.name == name } }

    /// For a file whose folder names its scope (`section=` or `assignment=`), the column every row must
    /// repeat that id in, and the folder key. The merge deletes the folder's scope, so a row of another
    /// section in a section's folder would delete the folder's rows and write another section's.
    public var folderScopeColumn: (column: String, folderKey: String)? {
        switch deleteScope {
        case .section: return ("LMSSectionSourceSystemIdentifier", "section")
        case .assignment: return ("AssignmentSourceSystemIdentifier", "assignment")
        case .sourceSystem, .previousSnapshot: return nil
        }
    }

    /// Columns copied into the target table as they are (not parent references, not submission types).
    public var dataColumns: [Column] {
        columns.filter { c in c.type != .submissionTypes && !parents.contains { $0.column == c.name } }
    }
}
