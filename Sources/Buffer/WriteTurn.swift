import Foundation
import SQLiteDB

/// Takes turns at writing, first come first served, between the buffer connections of one process.
///
/// `flush` stages and forwards at once, on two connections to one buffer file. SQLite lets one of
/// them write at a time and makes the other poll (the busy timeout), and a connection that commits
/// and begins again at once can starve a poller for good. Both connections therefore take a turn
/// before they begin a write transaction, and the one that holds it lets a waiting one go first at
/// its next commit (`Buffer.batchTick`).
public final class WriteTurn: WriteGate, @unchecked Sendable {
    private let condition = NSCondition()
    private var nextTicket = 0
    private var serving = 0

    /// A turn nobody holds yet.
    public init() {}

    /// Waits for this caller's turn (callers are served in the order they came).
    public func take() {
        condition.lock()
        defer { condition.unlock() }
        let ticket = nextTicket
        nextTicket += 1
        while serving != ticket { condition.wait() }
    }

    /// Ends the holder's turn: the next caller in line goes.
    public func give() {
        condition.lock()
        serving += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Whether another caller waits for the turn the caller holds.
    var othersWaiting: Bool {
        condition.lock()
        defer { condition.unlock() }
        return nextTicket - serving > 1
    }
}
