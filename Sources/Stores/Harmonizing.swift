import Foundation

/// Linking the LMS-DS to the Ed-Fi ODS (the upstream harmonizer's work, spec/harmonizer.md), as a
/// store capability: a target that has an ODS beside its `lms` schema runs the harmonize procedures.
/// The agent calls it after a round that changed data, and on its own (`lms-agent harmonize`).
public protocol Harmonizing: Sendable {
    /// Whether this target can harmonize, and if not, why (said once by the agent; loading goes on).
    func harmonizeSupport() throws -> HarmonizeSupport
    /// Runs the procedures for these source systems (`Canvas`, `Google`, `Schoology`) in the upstream
    /// order: users, sections, assignments, submissions. Each procedure is its own transaction; one
    /// that fails is reported in its step and the others still run. Throws only when the target is
    /// unreachable (`StoreError.unavailable`).
    func harmonize(sourceSystems: [String]) throws -> HarmonizeReport
    /// Counts of the exception views (what is not linked, and why), read after a pass.
    func exceptionCounts() throws -> ExceptionCounts
    /// Writes the upstream exceptions report (`sections/`, `users/`, `descriptors/` under `directory`,
    /// each file named by the local time `at`); returns the paths written.
    func writeExceptionReports(to directory: String, at: Date) throws -> [String]
}

/// Whether a target can harmonize.
public enum HarmonizeSupport: Sendable, Equatable {
    /// The target has the ODS tables and the harmonizer's procedures and views: `harmonize` may run.
    case ready
    /// Not here, and why: the embedded SQLite LMS-DS has no ODS; a PostgreSQL database without the
    /// `edfi`/`lmsx` tables the procedures need.
    case unavailable(reason: String)
}

/// What one harmonization pass did.
public struct HarmonizeReport: Sendable, Codable, Equatable {
    /// One procedure call.
    public struct Step: Sendable, Codable, Equatable {
        /// The procedure, as called (`lms.harmonize_lmsuser_canvas`, `lms.harmonize_assignment`).
        public var procedure: String
        /// The `_sourcesystem` argument, for the two procedures that take one.
        public var sourceSystem: String?
        /// The server's message when the call failed (never a secret); nil when it succeeded.
        public var failure: String?
        /// How long the call took, in seconds.
        public var seconds: Double

        /// A step; `failure` nil for a call that succeeded.
        public init(procedure: String, sourceSystem: String? = nil, failure: String? = nil, seconds: Double) {
            self.procedure = procedure
            self.sourceSystem = sourceSystem
            self.failure = failure
            self.seconds = seconds
        }
    }

    /// Every procedure call, in the order made.
    public var steps: [Step]
    /// Counts read after the pass (nil when they could not be read).
    public var exceptions: ExceptionCounts?

    /// A report of these calls and counts.
    public init(steps: [Step], exceptions: ExceptionCounts?) {
        self.steps = steps
        self.exceptions = exceptions
    }

    /// The calls that failed.
    public var failures: [Step] { steps.filter { $0.failure != nil } }
}

/// What is not linked after a pass: the upstream summary's numbers (spec/harmonizer.md section 7).
public struct ExceptionCounts: Sendable, Codable, Equatable {
    /// Live LMS users with no ODS student (`lmsx.exceptions_LMSUser`).
    public var unmatchedUsers: Int
    /// Live LMS sections with no ODS section (`lmsx.exceptions_LMSSection`).
    public var unmatchedSections: Int
    /// Live assignments with no `lmsx.Assignment` (`lmsx.assignments_exceptions`).
    public var unmatchedAssignments: Int
    /// Live submissions with no `lmsx.AssignmentSubmission` (`lmsx.assignment_submissions_exceptions`).
    public var unmatchedSubmissions: Int
    /// Distinct assignment categories and submission statuses with no descriptor.
    public var missingDescriptors: Int

    /// Counts as read from the exception views.
    public init(unmatchedUsers: Int, unmatchedSections: Int, unmatchedAssignments: Int,
                unmatchedSubmissions: Int, missingDescriptors: Int) {
        self.unmatchedUsers = unmatchedUsers
        self.unmatchedSections = unmatchedSections
        self.unmatchedAssignments = unmatchedAssignments
        self.unmatchedSubmissions = unmatchedSubmissions
        self.missingDescriptors = missingDescriptors
    }
}
