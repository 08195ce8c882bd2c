/// The resources an agent knows: their schemas, in forward order (parents before children), and the
/// folders of the extract tree that hold none. Everything that needs "all resources" asks a registry:
/// the path classifier, the buffer's staging tables, the stores' table counts, the forwarder's order.
///
/// A value, not global state: `ResourceRegistry.standard` holds the eight resources of the LMS
/// Toolkit, and `adding(_:)` makes a registry with one more (its table comes from the DDL script the
/// store is given, e.g. through `--migrations-dir`).
public struct ResourceRegistry: Sendable {
    /// Every registered schema, in forward order.
    public let schemas: [ResourceSchema]
    /// Folders whose files are not LMS-DS files, with why.
    public let ignoredFolders: [IgnoredFolder]
    private let positions: [Resource: Int]

    /// The eight resources of the LMS Toolkit (spec/extract-layout.md sections 2 and 7).
    public static let standard: ResourceRegistry = {
        do { return try ResourceRegistry(ResourceSchema.standard, ignoring: ResourceSchema.standardIgnoredFolders) }
        catch { preconditionFailure("the standard resource schemas are inconsistent: \(error)") }
    }()

    /// Checks that the schemas fit together (see `RegistryError`); parents come before children.
    public init(_ schemas: [ResourceSchema], ignoring ignoredFolders: [IgnoredFolder] = []) throws {
        var positions: [Resource: Int] = [:]
        for (i, s) in schemas.enumerated() {
            try ResourceRegistry.check(s, registered: positions, schemas: schemas)
            positions[s.resource] = i
        }
        self.schemas = schemas
        self.ignoredFolders = ignoredFolders
        self.positions = positions
    }

    /// This registry and `schema` after its resources (its parents must be registered already).
    public func adding(_ schema: ResourceSchema) throws -> ResourceRegistry {
        try ResourceRegistry(schemas + [schema], ignoring: ignoredFolders)
    }

    /// The registered resources, in forward order.
    public var resources: [Resource] { schemas.map(\.resource) }

    /// The schema of `resource`, nil when this registry does not hold it.
    public func schema(of resource: Resource) -> ResourceSchema? { positions[resource].map { schemas[$0] } }

    /// The schema of `resource`, nil when this registry does not hold it (`registry[.users]`).
    public subscript(_ resource: Resource) -> ResourceSchema? { schema(of: resource) }

    /// Position in the forward order; a resource this registry does not hold comes last.
    public func forwardRank(of resource: Resource?) -> Int { resource.flatMap { positions[$0] } ?? schemas.count }

    /// Every table the schemas fill: each resource's, then each child table.
    public var tables: [String] { schemas.map(\.table) + schemas.flatMap { $0.childTables.map(\.table) } }

    /// The deepest folder any registered file sits in.
    public var maxFolderDepth: Int { (schemas.map(\.folder) + ignoredFolders.map(\.folder)).map(\.segments.count).max() ?? 0 }

    private static func check(_ s: ResourceSchema, registered: [Resource: Int], schemas: [ResourceSchema]) throws {
        func fail(_ why: String) -> RegistryError { RegistryError(resource: s.resource, message: why) }
        guard registered[s.resource] == nil else { throw fail("registered twice") }
        let earlier = schemas.prefix { $0.resource != s.resource }
        if let other = earlier.first(where: { $0.table == s.table }) { throw fail("its table \(s.table) is \(other.resource)'s") }
        if let other = earlier.first(where: { $0.folder == s.folder }) { throw fail("its folder \(s.folder) is \(other.resource)'s") }
        for key in ResourceSchema.naturalKey where s.column(named: key)?.isRequired != true {
            throw fail("the natural key column \(key) must be a required column")
        }
        for p in s.parents {
            guard registered[p.parent] != nil else { throw fail("its parent \(p.parent) must be registered before it") }
            guard s.column(named: p.column) != nil else { throw fail("its parent column \(p.column) is not one of its columns") }
        }
        for t in s.throughLinks {
            guard registered[t.resource] != nil else { throw fail("its link through \(t.resource) must be registered before it") }
            for m in t.matching where !s.parents.contains(where: { $0.foreignKey == m }) {
                throw fail("its link through \(t.resource) matches \(m), which is no parent's foreign key")
            }
        }
        for c in s.childTables where s.column(named: c.column)?.type != .submissionTypes {
            throw fail("the child table \(c.table) comes from \(c.column), which must be a column of the list type (.submissionTypes)")
        }
        for key in s.folder.keys where !Scope.keys.contains(key) {
            throw fail("its folder \(s.folder) names '\(key)', which is not a scope key (\(Scope.keys.joined(separator: ", ")))")
        }
        if let key = s.deleteScope.folderKey {
            guard let p = s.scopeParent, s.parents.contains(p) else { throw fail("a \(key)-scoped delete needs its scopeParent among its parents") }
            guard s.folder.keys.contains(key) else { throw fail("a \(key)-scoped delete needs a \(key)={id} folder in \(s.folder)") }
        }
    }
}

/// A schema that does not fit the registry it was added to.
public struct RegistryError: Error, CustomStringConvertible, Sendable {
    /// The resource whose schema was refused.
    public let resource: Resource
    /// What does not fit (`its parent users must be registered before it`).
    public let message: String
    /// `resource <name>: <message>`.
    public var description: String { "resource \(resource): \(message)" }
}
