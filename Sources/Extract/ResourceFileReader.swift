/// A row of a resource file after validation: one value per schema column (nil = NULL or absent).
public struct ResourceRow: Sendable, Equatable {
    public var line: Int
    public var values: [String?]

    public init(line: Int, values: [String?]) {
        self.line = line
        self.values = values
    }
}

/// Reads one resource CSV file as validated, typed rows, streaming.
///
/// The header must name every required column of the schema and no unknown column; every row
/// must have as many fields as the header, and every value must fit its column's type.
public struct ResourceFileReader {
    public let schema: ResourceSchema
    public let path: String
    /// For each schema column, whether the file's header has it (absent columns are left untouched
    /// on update, like upstream).
    public private(set) var present: [Bool]
    private var reader: CSVReader
    /// For each file field, the schema column it feeds.
    private var fieldToColumn: [Int] = []
    public private(set) var rowCount = 0

    /// Reads the header. Throws `ExtractError` for an empty file or a header that does not fit.
    public init(source: any ByteChunkSource, path: String, schema: ResourceSchema) throws {
        self.schema = schema
        self.path = path
        self.present = Array(repeating: false, count: schema.columns.count)
        self.reader = CSVReader(source: source, path: path)
        guard let header = try reader.next() else {
            throw ExtractError(path: path, line: 1, message: "empty file: no header row")
        }
        var unknown: [String] = []
        var mapping: [Int] = []
        for name in header.fields {
            guard let i = schema.index(of: name) else { unknown.append(name); mapping.append(-1); continue }
            if present[i] {
                throw ExtractError(path: path, line: header.line, column: name, message: "column appears twice in the header")
            }
            present[i] = true
            mapping.append(i)
        }
        let missing = schema.columns.enumerated().filter { $0.element.isRequired && !present[$0.offset] }.map(\.element.name)
        if !missing.isEmpty || !unknown.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing required column(s) \(missing.joined(separator: ", "))") }
            if !unknown.isEmpty { parts.append("unknown column(s) \(unknown.joined(separator: ", "))") }
            throw ExtractError(path: path, line: header.line, message: "header does not match the \(schema.resource.rawValue) schema: " + parts.joined(separator: "; "))
        }
        fieldToColumn = mapping
    }

    static let outOfRange = "outside 0001-01-01 to 9999-12-31 once converted to UTC"

    /// The next valid row, or nil at the end of the file.
    public mutating func next() throws -> ResourceRow? {
        guard let record = try reader.next() else { return nil }
        guard record.fields.count == fieldToColumn.count else {
            throw ExtractError(path: path, line: record.line,
                               message: "expected \(fieldToColumn.count) fields as in the header, found \(record.fields.count)")
        }
        var values = [String?](repeating: nil, count: schema.columns.count)
        for (f, raw) in record.fields.enumerated() {
            let c = fieldToColumn[f]
            values[c] = try convert(raw, schema.columns[c], line: record.line)
        }
        rowCount += 1
        return ResourceRow(line: record.line, values: values)
    }

    private func convert(_ raw: String, _ column: Column, line: Int) throws -> String? {
        if raw.isEmpty {
            if column.valueRequired {
                throw ExtractError(path: path, line: line, column: column.name, message: "a value is required")
            }
            return nil
        }
        func bad(_ what: String) -> ExtractError {
            ExtractError(path: path, line: line, column: column.name, message: "\(what): '\(raw.prefix(80))'")
        }
        switch column.type {
        case .text(let maxLength):
            // Scalars never outnumber bytes: count them only when the bytes could be too many.
            if raw.utf8.count > maxLength, raw.unicodeScalars.count > maxLength {
                throw ExtractError(path: path, line: line, column: column.name,
                                   message: "value is \(raw.unicodeScalars.count) characters long; the limit is \(maxLength)")
            }
            return raw
        case .truncatedText(let maxLength):
            return raw.unicodeScalars.count > maxLength ? String(String.UnicodeScalarView(raw.unicodeScalars.prefix(maxLength))) : raw
        case .dateTime:
            guard let v = Values.dateTime(raw, zone: .toUTC) else {
                throw bad(Values.leavesRangeInUTC(raw) ? Self.outOfRange : "not a date and time")
            }
            return v
        case .wallClockDateTime:
            guard let v = Values.dateTime(raw, zone: .dropZone) else { throw bad("not a date and time") }
            return v
        case .date:
            guard let v = Values.date(raw) else { throw bad(Values.leavesRangeInUTC(raw) ? Self.outOfRange : "not a date") }
            return v
        case .integer:
            guard let v = Values.integer(raw) else { throw bad("not a whole number in the 32-bit range") }
            return v
        case .submissionTypes:
            for t in SubmissionTypes.parse(raw) where t.unicodeScalars.count > 60 {
                throw bad("submission type longer than 60 characters")
            }
            return raw
        }
    }
}
