/// A row of a resource file after validation: one value per schema column (nil = NULL or absent).
public struct ResourceRow: Sendable, Equatable {
    /// The physical line the row starts on, for errors and for `inspect rows`. A row the buffer
    /// hands back unchanged from an earlier snapshot has the line it had there.
    public var line: Int
    /// One value per schema column, in the schema's order, as checked and normalised (dates in
    /// canonical form); nil for an empty field or a column the header lacks.
    public var values: [String?]
    /// Names the row among the rows of one load (a store reports rows that wait for parents by it):
    /// the line for a row read from a file, the staged row's id (`StagedRowID`) for one the buffer
    /// hands back.
    public var id: Int64

    /// A row from its line and its values in the schema's column order; its id is the line.
    public init(line: Int, values: [String?], id: Int64? = nil) {
        self.line = line
        self.values = values
        self.id = id ?? Int64(line)
    }
}

/// Reads one resource CSV file as validated, typed rows, streaming.
///
/// The header must name every required column of the schema and no unknown column; every row
/// must have as many fields as the header, and every value must fit its column's type. In a
/// `section=` or `assignment=` folder, every row must name that folder's section or assignment.
public struct ResourceFileReader {
    /// The schema the file is read against.
    public let schema: ResourceSchema
    /// The file, relative to the extract root, as errors name it.
    public let path: String
    /// For each schema column, whether the file's header has it (absent columns are left untouched
    /// on update, like upstream).
    public private(set) var present: [Bool]
    private var reader: CSVReader
    /// For each file field, the schema column it feeds.
    private var fieldToColumn: [Int] = []
    /// Rows read and validated so far.
    public private(set) var rowCount = 0
    /// The folder's id that every row must repeat, and in which schema column.
    private var folderScope: (column: Int, id: String, folderKey: String)?

    /// A header is one short line: one far longer is not a header (a binary file, no line ends).
    static let maxHeaderBytes = 64 << 10

    /// Reads the header. Throws `ExtractError` for an empty file or a header that does not fit.
    ///
    /// `scope` is the scope the file's folder names; nil takes it from `path` (a path relative to the
    /// extract root, as the stager passes it).
    public init(source: any ByteChunkSource, path: String, schema: ResourceSchema, scope: Scope? = nil) throws {
        self.schema = schema
        self.path = path
        self.present = Array(repeating: false, count: schema.columns.count)
        self.reader = CSVReader(source: source, path: path)
        let header = try ResourceFileReader.readHeader(&reader, path: path)
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
            if !unknown.isEmpty { parts.append("unknown column(s) \(unknown.map(ResourceFileReader.shown).joined(separator: ", "))") }
            throw ExtractError(path: path, line: header.line, message: "header does not match the \(schema.resource.rawValue) schema: " + parts.joined(separator: "; "))
        }
        fieldToColumn = mapping

        let folder: Scope?
        if let scope { folder = scope } else { folder = schema.folder.scope(ofPath: path) }
        if let (column, key) = schema.folderScopeColumn, let index = schema.index(of: column), let id = folder?.value(of: key) {
            folderScope = (index, id, key)
        }
    }

    /// The header record, with the reader's record limit lowered while it is read; a header that
    /// is not text says so (a binary file or another encoding fails here, on line 1).
    private static func readHeader(_ reader: inout CSVReader, path: String) throws -> CSVRecord {
        reader.maxRecordBytes = maxHeaderBytes
        defer { reader.maxRecordBytes = CSVReader.defaultMaxRecordBytes }
        do {
            guard let header = try reader.next() else {
                throw ExtractError(path: path, line: 1, message: "empty file: no header row")
            }
            return header
        } catch let e as ExtractError where !e.message.hasPrefix("empty file") {
            let lead = reader.leadingBytes
            // What the whole file is, when its first bytes tell; otherwise what is wrong in the header.
            if lead.starts(with: [0xFF, 0xFE]) || lead.starts(with: [0xFE, 0xFF]) {
                throw ExtractError(path: path, line: 1, message: "the file is UTF-16 text (it starts with a UTF-16 byte order mark); extract files are UTF-8")
            } else if let format = knownBinaryFormat(lead) {
                throw ExtractError(path: path, line: 1, message: "the file is \(format), not CSV text")
            } else if e.message.hasPrefix("invalid UTF-8") || e.message.hasPrefix("NUL byte") || e.message.contains("longer than") {
                throw ExtractError(path: path, line: e.line, column: e.column,
                                   message: "the header row is not CSV text (\(e.message)): a binary file, or text in another encoding than UTF-8?")
            }
            throw e
        }
    }

    /// A column name from a file as the message shows it: as it is when it is plain, quoted with its
    /// invisible parts spelled out when not (a second BOM, a blank at an end, an empty name).
    static func shown(_ name: String) -> String {
        let plain = !name.isEmpty && name.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }
        return plain ? name : quotedForMessage(name)
    }

    /// Formats an extract folder may plausibly hold by mistake, from their magic numbers.
    static func knownBinaryFormat(_ lead: [UInt8]) -> String? {
        if lead.starts(with: [0x1F, 0x8B]) { return "gzip-compressed" }
        if lead.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return "a ZIP archive (an Excel .xlsx workbook?)" }
        if lead.starts(with: [0xD0, 0xCF, 0x11, 0xE0]) { return "an OLE document (an Excel .xls workbook?)" }
        if lead.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "a PNG image" }
        if lead.starts(with: [0x25, 0x50, 0x44, 0x46]) { return "a PDF document" }
        if lead.starts(with: [0x7F, 0x45, 0x4C, 0x46]) { return "an ELF executable" }
        if lead.starts(with: Array("SQLi".utf8)) { return "an SQLite database" }
        return nil
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
        if let scope = folderScope, let value = values[scope.column], value != scope.id {
            throw ExtractError(path: path, line: record.line, column: schema.columns[scope.column].name,
                               message: "the row names \(scope.folderKey) \(quotedForMessage(value)), but the file is in the folder of \(scope.folderKey) \(quotedForMessage(scope.id)): a file in a \(scope.folderKey)= folder may only hold that \(scope.folderKey)'s rows")
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
            ExtractError(path: path, line: line, column: column.name, message: "\(what): \(quotedForMessage(raw))")
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
