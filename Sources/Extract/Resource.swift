/// The eight kinds of file an LMS extractor writes that the LMS-DS holds, in load order.
///
/// The raw value is the `ResourceName` upstream records in `lms.ProcessedFiles`.
public enum Resource: String, CaseIterable, Sendable, Codable, Comparable {
    case users
    case sections
    case sectionAssociations = "section-associations"
    case assignments
    case submissions
    case attendanceEvents = "attendance-events"
    case sectionActivities = "section-activities"
    case systemActivities = "system-activities"

    /// Position in the load order: parents always come before their children.
    public var loadOrder: Int { Resource.allCases.firstIndex(of: self)! }

    public static func < (lhs: Resource, rhs: Resource) -> Bool { lhs.loadOrder < rhs.loadOrder }

    /// The schema that describes this resource's CSV columns and target table.
    public var schema: ResourceSchema { ResourceSchema.of(self) }
}
