import Logging

/// The commands an agent is opened for, and what each may do to the buffer: the one table of
/// which command needs the extract, which may create or rebuild the buffer, and which lock it takes
/// (see `BufferLock` for how the locks wait and refuse).
extension LMSAgent {
    /// A command of the CLI, as far as opening the buffer goes.
    public enum Command: String, Sendable, CaseIterable {
        /// The commands that open an agent, by their CLI names.
        case watch, flush, resume, status, inspect, retry, release, harmonize

        /// `watch` and `flush` read the extract: its directory must be named and exist.
        public var requiresExtract: Bool { self == .watch || self == .flush }

        /// These never create a buffer (it must exist) nor replace a corrupt one. `retry` and
        /// `release` still change ledger states, under their lock; `harmonize` records its pass.
        public var readOnly: Bool {
            switch self {
            case .status, .inspect, .retry, .release, .harmonize: true
            case .watch, .flush, .resume: false
            }
        }

        /// The buffer lock the command holds for the agent's life; `status` and `inspect` only
        /// read, and take none.
        public var lock: BufferLock.Command? {
            switch self {
            case .watch: .watch
            case .flush: .flush
            case .resume: .resume
            case .retry: .retry
            case .release: .release
            case .harmonize: .harmonize
            case .status, .inspect: nil
            }
        }
    }

    /// Opens the buffer as `command` does: with its extract requirement, read-only rule and lock.
    public convenience init(settings: Settings, logger: Logger, for command: Command) throws {
        try self.init(settings: settings, logger: logger, requireExtract: command.requiresExtract,
                      readOnly: command.readOnly, lock: command.lock)
    }
}
