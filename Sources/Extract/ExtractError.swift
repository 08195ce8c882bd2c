/// Why a file cannot be loaded, pointing at the place in the file.
public struct ExtractError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file, as the caller named it (relative to the extract root when the stager reads it).
    public let path: String
    /// 1-based physical line where the problem is, when there is one.
    public let line: Int?
    /// The column's name (or `#n` when the header itself is the problem).
    public let column: String?
    /// What is wrong, in words; a value from the file in it is quoted with `quotedForMessage`.
    public let message: String
    /// The file could not be opened or read (permission, I/O): a fault of its access, not of its
    /// content. Such a file is tried again on the next pass.
    public let isUnreadable: Bool

    /// An error at `path`, and at `line` and `column` when the problem has a place; `isUnreadable`
    /// when the file could not be opened or read rather than parsed.
    public init(path: String, line: Int? = nil, column: String? = nil, message: String, isUnreadable: Bool = false) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
        self.isUnreadable = isUnreadable
    }

    /// `section=1/assignments/2021.csv:12: column 'MaxPoints': not an integer: '1O'`
    public var description: String {
        var s = path
        if let line { s += ":\(line)" }
        s += ": "
        if let column { s += "column '\(column)': " }
        return s + message
    }
}

/// Text from a file, quoted for an error message so that what is invisible shows: a blank at either
/// end, a byte order mark, a control character or a line break becomes visible (`'\u{FEFF}Name'`),
/// and a long value is shortened. Error messages are single log lines whatever the file holds.
public func quotedForMessage(_ text: some StringProtocol, limit: Int = 80) -> String {
    var out = "'"
    var count = 0
    for scalar in text.unicodeScalars {
        if count == limit { out += "…"; break }
        count += 1
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
            out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
        case .spaceSeparator where scalar != " ":
            out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
        default:
            out.unicodeScalars.append(scalar)
        }
    }
    return out + "'"
}
