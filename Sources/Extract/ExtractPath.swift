/// Where a file sits in the extractor tree, and what that tells us.
///
/// The folder names carry the delete scope of a snapshot: a `section=` folder scopes section
/// resources, an `assignment=` folder scopes submissions, a `date=` folder scopes system activities.
public struct Scope: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The section of a `section={id}` folder.
    public var sectionId: String?
    /// The assignment of an `assignment={id}` folder (submissions).
    public var assignmentId: String?
    /// The folder of a system-activities file, less a `date=` prefix: the extraction date.
    public var date: String?

    /// A scope from its folders' ids; none given is the whole source system (users, sections).
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

    /// The key, or `(whole source system)` when no folder names a scope.
    public var description: String { key.isEmpty ? "(whole source system)" : key }

    /// The folder keys a scope can hold, which `FolderPattern`s may bind.
    public static let keys = ["section", "assignment", "date"]

    /// The id the folder named `key` gave (`section` -> `sectionId`).
    public func value(of key: String) -> String? {
        switch key {
        case "section": return sectionId
        case "assignment": return assignmentId
        case "date": return date
        default: return nil
        }
    }

    mutating func set(_ key: String, _ value: String) {
        switch key {
        case "section": sectionId = value
        case "assignment": assignmentId = value
        case "date": date = value
        default: break
        }
    }
}

/// One CSV file of the extract, classified by its path.
public struct ExtractFile: Hashable, Sendable {
    /// The path relative to the extract root, exactly as on disk.
    public let relativePath: String
    /// What the file holds, from the folder it sits in.
    public let resource: Resource
    /// The part of the LMS-DS a snapshot of this file replaces (its folders' ids).
    public let scope: Scope
    /// The file name (a `%Y-%m-%d-%H-%M-%S.csv` timestamp); snapshots of a scope sort by it.
    public let snapshot: String

    /// A classified file; a `ResourceRegistry` makes these from paths (`classify(_:)`).
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
        for i in parts.indices.dropLast() {
            for key in FolderPattern.keyedScopeKeys {
                guard let id = scope.value(of: key), ExtractPath.value(of: key, in: parts[i]) == id else { continue }
                parts[i] = key + "=" + id
            }
        }
        return parts.joined(separator: "/")
    }
}

/// What a path in the extract tree is: a file of a resource, or something to leave alone.
public enum PathClassification: Sendable, Equatable {
    /// A file of a registered resource, with its scope and snapshot.
    case file(ExtractFile)
    /// Not an LMS-DS file; the reason says why (shown by `inspect` and debug logs).
    case ignored(String)
}

/// The extractor's folder layout for the standard resources (spec/extract-layout.md).
public enum ExtractPath {
    /// Classifies a path relative to the extract root (`/`-separated) by the standard resources' folders.
    public static func classify(_ relativePath: String) -> PathClassification {
        ResourceRegistry.standard.classify(relativePath)
    }

    /// `section=123` -> `123`; the key is matched in any case (upstream samples use `Assignment=`).
    static func value(of key: String, in folder: String) -> String? {
        guard let eq = folder.firstIndex(of: "="), folder[..<eq].lowercased() == key else { return nil }
        let value = String(folder[folder.index(after: eq)...])
        return value.isEmpty ? nil : value
    }
}

/// The folders a resource's files sit in, relative to the extract root, one segment per folder:
///
/// - `users`: a folder of exactly this name (case-sensitive, as upstream);
/// - `section={id}`: `section=` (the key in any case: upstream samples have `Assignment=`) and a
///   non-empty id, which becomes the scope's `section`;
/// - `{date}`: any folder; its name, less a `date=` prefix, becomes the scope's `date`.
///
/// Keys are the scope's (`Scope.keys`). A `key={id}` folder is spelled `key=` in lower case in
/// upstream's `ProcessedFiles.FullPath`.
public struct FolderPattern: Sendable, Equatable, CustomStringConvertible {
    /// One folder of a pattern.
    public enum Segment: Sendable, Equatable {
        /// A folder of exactly this name (`users`, `assignments`).
        case literal(String)
        /// `key={id}`: the key in any case and a non-empty id, which becomes the scope's value for the key.
        case keyed(String)
        /// Any folder; its name, less a `key=` prefix, becomes the scope's value for the key.
        case anyFolder(String)
    }

    /// The pattern's folders, outermost first.
    public let segments: [Segment]

    /// Keys a `key={id}` segment may bind; `{date}`-style segments bind the rest.
    static let keyedScopeKeys = ["section", "assignment"]

    /// Reads a pattern's text: `users`, `section={id}/assignments`, `system-activities/{date}`.
    public init(_ text: String) {
        segments = text.split(separator: "/").map { part in
            if part.hasPrefix("{"), part.hasSuffix("}") { return .anyFolder(String(part.dropFirst().dropLast())) }
            if part.hasSuffix("={id}") { return .keyed(String(part.dropLast("={id}".count)).lowercased()) }
            return .literal(String(part))
        }
    }

    /// The pattern's text, as `init(_:)` reads it.
    public var description: String {
        segments.map { s in
            switch s {
            case .literal(let name): return name
            case .keyed(let key): return key + "={id}"
            case .anyFolder(let key): return "{\(key)}"
            }
        }.joined(separator: "/")
    }

    /// The scope keys the pattern binds.
    public var keys: [String] {
        segments.compactMap { s in
            switch s {
            case .literal: return nil
            case .keyed(let k), .anyFolder(let k): return k
            }
        }
    }

    /// How many leading folders of `dirs` the pattern matches, and the scope they name.
    func matchedPrefix(_ dirs: [String]) -> (count: Int, scope: Scope) {
        var scope = Scope()
        for (i, segment) in segments.enumerated() {
            guard i < dirs.count else { return (i, scope) }
            let folder = dirs[i]
            switch segment {
            case .literal(let name):
                guard folder == name else { return (i, scope) }
            case .keyed(let key):
                guard let id = ExtractPath.value(of: key, in: folder) else { return (i, scope) }
                scope.set(key, id)
            case .anyFolder(let key):
                scope.set(key, ExtractPath.value(of: key, in: folder) ?? folder)
            }
        }
        return (segments.count, scope)
    }

    /// The scope the folders `dirs` name, when they are exactly this pattern's.
    public func match(_ dirs: [String]) -> Scope? {
        guard dirs.count == segments.count else { return nil }
        let m = matchedPrefix(dirs)
        return m.count == segments.count ? m.scope : nil
    }

    /// The scope a file's path (relative to the extract root) names, when it sits in this folder.
    public func scope(ofPath relativePath: String) -> Scope? {
        match(relativePath.split(separator: "/", omittingEmptySubsequences: true).dropLast().map(String.init))
    }
}

/// Files in a folder that holds no resource of the LMS-DS, and why (shown by `inspect` and debug logs).
public struct IgnoredFolder: Sendable, Equatable {
    /// The folders this applies to.
    public let folder: FolderPattern
    /// Why their files are not loaded (`grades are not loaded into the LMS-DS`).
    public let reason: String

    /// Files in `folder` (`FolderPattern` text) are ignored, for `reason`.
    public init(_ folder: String, _ reason: String) {
        self.folder = FolderPattern(folder)
        self.reason = reason
    }
}

extension ResourceRegistry {
    /// Classifies a path relative to the extract root (`/`-separated) by the registered folders.
    public func classify(_ relativePath: String) -> PathClassification {
        let parts = relativePath.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let name = parts.last else { return .ignored("empty path") }
        guard name.hasSuffix(".csv"), name.count > 4 else { return .ignored("not a .csv file") }
        guard !name.hasPrefix(".") else { return .ignored("hidden file") }
        let dirs = Array(parts.dropLast())

        for schema in schemas {
            if let scope = schema.folder.match(dirs) {
                return .file(ExtractFile(relativePath: parts.joined(separator: "/"), resource: schema.resource, scope: scope, snapshot: name))
            }
        }
        if let ignored = ignoredFolders.first(where: { $0.folder.match(dirs) != nil }) { return .ignored(ignored.reason) }

        // Name the first folder that no pattern of this depth accepts.
        let patterns = (schemas.map(\.folder) + ignoredFolders.map(\.folder)).filter { $0.segments.count == dirs.count }
        guard let matched = patterns.map({ $0.matchedPrefix(dirs).count }).max() else {
            return .ignored("not at a known depth of the extract tree")
        }
        let within = matched > 0 ? " in '\(dirs[..<matched].joined(separator: "/"))'" : ""
        return .ignored("unknown folder '\(dirs[matched])'" + within)
    }
}
