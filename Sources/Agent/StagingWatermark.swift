import Buffer
import Extract
import Foundation

/// How far the staging half of an overlapped `flush` has committed, for the forwarding half.
///
/// The stager takes its candidates in the order the watermark put them in: by resource in forward order, then scope, then
/// snapshot and path. Once it has committed every candidate of a scope, no file of that scope
/// changes again in this run (the stager only ever touches the versions of the path it stages),
/// so the forwarder may apply the scope's pending snapshots while the stager reads the next ones.
/// A file is ready when its (resource, scope) comes before the next candidate's; everything is
/// ready once staging has finished (or stopped, or failed).
final class StagingWatermark: @unchecked Sendable {
    /// Where a file sorts: its resource's forward rank, then its scope key.
    struct Position: Comparable {
        var rank: Int
        var scope: String
        static func < (a: Position, b: Position) -> Bool { (a.rank, a.scope) < (b.rank, b.scope) }
    }

    private let condition = NSCondition()
    private let registry: ResourceRegistry
    /// The position of each candidate, in staging order.
    private let positions: [Position]
    /// Candidates committed so far (a prefix of `positions`).
    private var committed = 0
    private var finished = false
    /// The buffer fault that stopped staging, if one did.
    private var fault: String?
    /// Rises with every publication, so that a waiter knows something moved.
    private var generation = 0

    /// A watermark at the start of `candidates`, which it puts in the order the stager must take
    /// them (sorted in place: a large tree's list of files is held once).
    init(ordering candidates: inout [Candidate], registry: ResourceRegistry) {
        self.registry = registry
        func position(_ c: Candidate) -> (Position, String, String) {
            guard case .file(let f) = c.classification else { return (Position(rank: -1, scope: ""), "", c.relativePath) }
            return (Position(rank: registry.forwardRank(of: f.resource), scope: f.scope.key), f.snapshot, c.relativePath)
        }
        let keys = candidates.map(position)
        let sorted = keys.indices.sorted { (keys[$0].0, keys[$0].1, keys[$0].2) < (keys[$1].0, keys[$1].1, keys[$1].2) }
        candidates = sorted.map { candidates[$0] }
        positions = sorted.map { keys[$0].0 }
    }

    /// Called by the stager after each commit: the first `count` candidates of `order` are in the buffer.
    func committed(through count: Int) {
        condition.lock()
        committed = max(committed, count)
        generation += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Staging is over (done, stopped by a signal, or ended by `fault`): every file is ready.
    func finish(fault: String? = nil) {
        condition.lock()
        finished = true
        self.fault = self.fault ?? fault
        generation += 1
        condition.broadcast()
        condition.unlock()
    }

    /// The buffer fault that ended staging, once it has.
    var stagingFault: String? {
        condition.lock()
        defer { condition.unlock() }
        return fault
    }

    /// Which files the forwarder may apply, as of now: one instant for a whole list of files, so
    /// that two snapshots of a scope are never judged at two moments (the older not ready yet, the
    /// newer ready a moment later, and applied first).
    struct Readiness {
        fileprivate let registry: ResourceRegistry
        /// The position of the first candidate not committed yet (nil: staging is over).
        fileprivate let next: Position?

        /// Whether nothing this run stages can still change a file of this resource and scope.
        func isReady(_ resource: Resource?, scope: String) -> Bool {
            guard let next else { return true }
            return Position(rank: registry.forwardRank(of: resource), scope: scope) < next
        }

        /// Whether the forwarder may apply `file`.
        func isReady(_ file: LedgerFile) -> Bool { isReady(file.resource, scope: file.scope.key) }
    }

    /// What is ready now.
    var readiness: Readiness {
        condition.lock()
        defer { condition.unlock() }
        return Readiness(registry: registry, next: finished || committed >= positions.count ? nil : positions[committed])
    }

    /// Whether every file of the resource at this forward rank that this run stages is staged.
    func isStaged(rank: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return finished || committed >= positions.count || positions[committed].rank > rank
    }

    /// The current publication, to wait for the next with `wait(after:)`.
    var mark: Int {
        condition.lock()
        defer { condition.unlock() }
        return generation
    }

    /// Waits until something is published after `mark` (or `timeout` seconds pass).
    func wait(after mark: Int, timeout: Double = 1) {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while generation == mark && !finished {
            if !condition.wait(until: deadline) { return }
        }
    }
}
