/// The name of a kind of file an LMS extractor writes that the LMS-DS holds: `users`, `submissions`.
///
/// An open identifier, not a closed list: what a resource is (its columns, table, folder, parents,
/// delete scope) is its `ResourceSchema`, and the resources an agent knows are the schemas of its
/// `ResourceRegistry`. The raw value is the `ResourceName` upstream records in `lms.ProcessedFiles`.
public struct Resource: Hashable, Sendable, Codable, Comparable, RawRepresentable, CustomStringConvertible {
    /// The name, as upstream's `ResourceName` (`section-associations`).
    public let rawValue: String

    /// The resource of this name (`RawRepresentable`).
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The resource of this name: `Resource("badges")` names a resource its schema will describe.
    public init(_ name: String) { self.rawValue = name }

    /// `users/`: the LMS's users (`LMSUser`).
    public static let users = Resource("users")
    /// `sections/`: course sections (`LMSSection`).
    public static let sections = Resource("sections")
    /// `section={id}/section-associations/`: enrollments of users in a section (`LMSUserLMSSectionAssociation`).
    public static let sectionAssociations = Resource("section-associations")
    /// `section={id}/assignments/`: a section's assignments and their submission types (`Assignment`).
    public static let assignments = Resource("assignments")
    /// `section={id}/assignment={id}/submissions/`: submissions to one assignment (`AssignmentSubmission`).
    public static let submissions = Resource("submissions")
    /// `section={id}/attendance-events/`: attendance of enrolled users in a section (`LMSUserAttendanceEvent`).
    public static let attendanceEvents = Resource("attendance-events")
    /// `section={id}/section-activities/`: users' activity within a section (`LMSSectionActivity`).
    public static let sectionActivities = Resource("section-activities")
    /// `system-activities/{date}/`: users' activity outside any section (`LMSSystemActivity`).
    public static let systemActivities = Resource("system-activities")

    /// The standard resources, in the standard registry's forward order. Code that may meet a
    /// registered resource asks its `ResourceRegistry` instead.
    public static var allCases: [Resource] { ResourceRegistry.standard.resources }

    /// The standard registry's forward order (parents before children); resources it does not hold
    /// come after, by name. A registry with added resources orders them with `forwardRank(of:)`.
    public static func < (lhs: Resource, rhs: Resource) -> Bool {
        let s = ResourceRegistry.standard
        let l = s.forwardRank(of: lhs), r = s.forwardRank(of: rhs)
        return l != r ? l < r : lhs.rawValue < rhs.rawValue
    }

    /// The schema of a standard resource (the eight the standard registry holds); a resource of
    /// another registry is looked up there (`registry[resource]`).
    public var schema: ResourceSchema {
        guard let s = ResourceRegistry.standard.schema(of: self) else {
            preconditionFailure("\(rawValue) is not a standard resource: look it up in its ResourceRegistry")
        }
        return s
    }

    /// The name.
    public var description: String { rawValue }

    /// Decodes the name from a single string, as it is encoded.
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes the resource as its name alone (`"users"`), as JSON output shows it.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}
