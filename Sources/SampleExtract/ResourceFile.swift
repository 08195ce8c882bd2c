// One file of a resource: its header is the resource schema's column list (ResourceSchema), so the
// generator keeps no copy of it. Writers set each value by column name; the row is written in the
// header's order, so the files follow the schema wherever its columns stand.
import Extract

/// One value of a row.
enum Field {
    /// An empty field.
    case null
    case text(String)
    case int(Int)
    case id(UInt64)
    /// Wall-clock seconds (see `WallClock`), written `YYYY-MM-DD HH:MM:SS`.
    case date(Int)

    /// A text, or an empty field for nil.
    static func textOrNull(_ value: String?) -> Field { value.map(Field.text) ?? .null }
    static func intOrNull(_ value: Int?) -> Field { value.map(Field.int) ?? .null }
    static func dateOrNull(_ value: Int?) -> Field { value.map(Field.date) ?? .null }
}

final class ResourceFile {
    /// The resource of the rows (nil: a grades file, which the agent does not load).
    let resource: Resource?
    private let csv: CSVFile
    private let columns: [String]
    private let positions: [String: Int]
    /// The values of the row being written, by column position.
    private var row: [Field?]
    /// Where the next value most likely goes: writers set columns in the header's order.
    private var next = 0

    /// A file of `resource`, its columns those of the resource's schema.
    convenience init(path: String, resource: Resource) throws {
        try self.init(path: path, resource: resource, columns: resource.schema.columns.map(\.name))
    }

    /// A file with the given columns (a file the schemas do not describe).
    init(path: String, resource: Resource?, columns: [String]) throws {
        self.resource = resource
        self.columns = columns
        positions = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })
        row = Array(repeating: nil, count: columns.count)
        csv = try CSVFile(path: path, columns: columns)
    }

    /// Data rows written so far.
    var rows: Int { csv.rows }

    /// Sets the value of `column` in the current row. A name the header lacks is a defect of the
    /// generator, not of its input.
    func set(_ column: String, _ value: Field) {
        let i: Int
        if next < columns.count && columns[next] == column {
            i = next
        } else if let p = positions[column] {
            i = p
        } else {
            preconditionFailure("\(column) is not a column of \(resource?.rawValue ?? "this file")")
        }
        row[i] = value
        next = i + 1
    }

    /// Writes the current row; every column must have been set.
    func endRow() {
        csv.beginRow()
        for i in row.indices {
            guard let value = row[i] else { preconditionFailure("no value for column \(columns[i])") }
            switch value {
            case .null: csv.null()
            case .text(let s): csv.text(s)
            case .int(let n): csv.int(n)
            case .id(let n): csv.id(n)
            case .date(let t): csv.date(t)
            }
            row[i] = nil
        }
        csv.endRow()
        next = 0
    }

    /// Completes the file; throws if any write failed.
    func finish() throws { try csv.finish() }
}

// The columns every file has.
extension ResourceFile {
    /// The natural key.
    func setKey(_ id: UInt64, system: String) {
        set("SourceSystemIdentifier", .id(id))
        set("SourceSystem", .text(system))
    }

    /// The audit dates. The source system's own dates stay empty, as the extractors leave them.
    func setAudit(created: Int, modified: Int) {
        set("CreateDate", .date(created))
        set("LastModifiedDate", .date(modified))
        set("SourceCreateDate", .null)
        set("SourceLastModifiedDate", .null)
    }
}

// The columns both activity resources have.
extension ResourceFile {
    /// An active activity at `time`; `parent` is the activity it answers or ends.
    func setActivity(type: String, at time: Int, parent: UInt64?, minutes: Int?) {
        set("ActivityType", .text(type))
        set("ActivityDateTime", .date(time))
        set("ActivityStatus", .text("active"))
        set("ParentSourceSystemIdentifier", parent.map(Field.id) ?? .null)
        set("ActivityTimeInMinutes", .intOrNull(minutes))
    }
}
