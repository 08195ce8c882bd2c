/// Where a file sits in the extractor tree, and what that tells us.
///
/// The folder names carry the delete scope of a snapshot: a `section=` folder scopes section
/// resources, an `assignment=` folder scopes submissions, a `date=` folder scopes system activities.
public struct Scope: Hashable, Sendable, Codable, CustomStringConvertible {
    public var sectionId: String?
    public var assignmentId: String?
    public var date: String?

    public init(sectionId: String? = nil, assignmentId: String? = nil, date: String? = nil) {
        self.sectionId = sectionId
        self.assignmentId = assignmentId
        self.date = date
    }

    /// A stable text key, used by the buffer to find the other snapshots of the same scope.
    public var key: String {
        var parts: [String] = []
        if let sectionId { parts.append("section=\(sectionId)") }
        if let assignmentId { parts.append("assignment=\(assignmentId)") }
        if let date { parts.append("date=\(date)") }
        return parts.joined(separator: "/")
    }

    public var description: String { key.isEmpty ? "(whole source system)" : key }
}

/// One CSV file of the extract, classified by its path.
public struct ExtractFile: Hashable, Sendable {
    /// The path relative to the extract root, exactly as on disk.
    public let relativePath: String
    public let resource: Resource
    public let scope: Scope
    /// The file name (a `%Y-%m-%d-%H-%M-%S.csv` timestamp); snapshots of a scope sort by it.
    public let snapshot: String

    public init(relativePath: String, resource: Resource, scope: Scope, snapshot: String) {
        self.relativePath = relativePath
        self.resource = resource
        self.scope = scope
        self.snapshot = snapshot
    }

    /// The relative path as upstream spells it (`section=` and `assignment=` always lower case: upstream
    /// builds those folder names itself), used for `ProcessedFiles.FullPath` so that the upstream loader
    /// and the agent recognise each other's files. Only the keys of the scope folders change, never an id.
    public var upstreamRelativePath: String {
        var parts = relativePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if scope.sectionId != nil, parts.count > 1, parts[0].lowercased().hasPrefix("section=") {
            parts[0] = "section=" + parts[0].dropFirst("section=".count)
        }
        if scope.assignmentId != nil, parts.count > 2, parts[1].lowercased().hasPrefix("assignment=") {
            parts[1] = "assignment=" + parts[1].dropFirst("assignment=".count)
        }
        return parts.joined(separator: "/")
    }
}

public enum PathClassification: Sendable, Equatable {
    case file(ExtractFile)
    /// Not an LMS-DS file; the reason says why (shown by `inspect` and debug logs).
    case ignored(String)
}

public enum ExtractPath {
    /// Classifies a path relative to the extract root (`/`-separated).
    public static func classify(_ relativePath: String) -> PathClassification {
        let parts = relativePath.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let name = parts.last else { return .ignored("empty path") }
        guard name.hasSuffix(".csv"), name.count > 4 else { return .ignored("not a .csv file") }
        guard !name.hasPrefix(".") else { return .ignored("hidden file") }
        let dirs = Array(parts.dropLast())

        func file(_ resource: Resource, _ scope: Scope = Scope()) -> PathClassification {
            .file(ExtractFile(relativePath: parts.joined(separator: "/"), resource: resource, scope: scope, snapshot: name))
        }

        switch dirs.count {
        case 1:
            switch dirs[0] {
            case "users": return file(.users)
            case "sections": return file(.sections)
            case "system-activities": return .ignored("system activity files belong in a date= folder")
            default: return .ignored("unknown folder '\(dirs[0])'")
            }
        case 2:
            if dirs[0] == "system-activities" {
                let folder = dirs[1]
                let date = value(of: "date", in: folder) ?? folder
                return file(.systemActivities, Scope(date: date))
            }
            guard let section = value(of: "section", in: dirs[0]) else { return .ignored("unknown folder '\(dirs[0])'") }
            let scope = Scope(sectionId: section)
            switch dirs[1] {
            case "section-associations": return file(.sectionAssociations, scope)
            case "assignments": return file(.assignments, scope)
            case "attendance-events": return file(.attendanceEvents, scope)
            case "section-activities": return file(.sectionActivities, scope)
            case "grades": return .ignored("grades are not loaded into the LMS-DS")
            default: return .ignored("unknown section folder '\(dirs[1])'")
            }
        case 3:
            guard let section = value(of: "section", in: dirs[0]) else { return .ignored("unknown folder '\(dirs[0])'") }
            guard let assignment = value(of: "assignment", in: dirs[1]), dirs[2] == "submissions" else {
                return .ignored("unknown folder '\(dirs[1])/\(dirs[2])'")
            }
            return file(.submissions, Scope(sectionId: section, assignmentId: assignment))
        default:
            return .ignored("not at a known depth of the extract tree")
        }
    }

    /// `section=123` -> `123`; the key is matched in any case (upstream samples use `Assignment=`).
    static func value(of key: String, in folder: String) -> String? {
        guard let eq = folder.firstIndex(of: "="), folder[..<eq].lowercased() == key else { return nil }
        let value = String(folder[folder.index(after: eq)...])
        return value.isEmpty ? nil : value
    }
}
