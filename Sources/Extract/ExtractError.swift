/// Why a file cannot be loaded, pointing at the place in the file.
public struct ExtractError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    /// 1-based physical line where the problem is, when there is one.
    public let line: Int?
    /// The column's name (or `#n` when the header itself is the problem).
    public let column: String?
    public let message: String
    /// The file could not be opened or read (permission, I/O): a fault of its access, not of its
    /// content. Such a file is tried again on the next pass.
    public let isUnreadable: Bool

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
