@testable import Agent
import Testing

/// One decision of the watcher at a time, on a hand-written timeline (settle 1 s).
@Suite("watch: the state machine's decisions")
struct WatchStateMachineTests {
    typealias M = WatchStateMachine
    static let s1 = FileStat(size: 100, mtimeNs: 1), s2 = FileStat(size: 120, mtimeNs: 2)

    /// A started machine whose backlog was forwarded, at t = 0.
    static func started(_ config: M.Config = M.Config(settle: 1, maxWait: 10, rescanInterval: 600, maxBackoff: 8),
                        found: [String: FileStat] = [:]) -> M {
        var m = M(config)
        #expect(m.start(at: 0) == [.watch(""), .scan("", .startup)])
        // The backlog staged before the start is forwarded at once.
        #expect(m.handle(.scanned("", .startup, found: found), at: 0) == [.forward])
        #expect(m.handle(.forwarded(.done(interrupted: false)), at: 0) == [])
        return m
    }

    @Test func aClosedFileIsStagedOneSettleTimeAfterItsLastChangeThenForwarded() {
        var m = Self.started()
        _ = m.handle(.fileWritten("users/a.csv", Self.s1), at: 1)
        _ = m.handle(.fileClosed("users/a.csv", Self.s1), at: 1.2)
        #expect(m.nextWake(after: 1.2) == 2.2)
        #expect(m.handle(.tick, at: 2.1) == [])
        #expect(m.handle(.tick, at: 2.2) == [.probe(all: ["users/a.csv"], openCheck: [])])
        #expect(m.handle(.probed(["users/a.csv": M.Probe(stat: Self.s1)]), at: 2.2) == [.stage(["users/a.csv"])])
        #expect(m.handle(.staged(done: ["users/a.csv"], stagedAny: true), at: 2.3) == [.forward])
        #expect(m.handle(.forwarded(.done(interrupted: false)), at: 2.4) == [])
        // Nothing left: it sleeps until the periodic rescan.
        #expect(m.nextWake(after: 2.4) == 600)
    }

    @Test func aChangeOnlyTheProbeSeesStartsTheSettleTimeAgain() {
        var m = Self.started()
        _ = m.handle(.fileClosed("a.csv", Self.s1), at: 1)
        #expect(m.handle(.tick, at: 2) == [.probe(all: ["a.csv"], openCheck: [])])
        #expect(m.handle(.probed(["a.csv": M.Probe(stat: Self.s2)]), at: 2) == [])
        #expect(m.tracker.entries["a.csv"]?.closed == false)
        // No close event vouches for the new content: twice the settle time, and not open for writing.
        #expect(m.handle(.tick, at: 3) == [.probe(all: ["a.csv"], openCheck: [])])
        #expect(m.handle(.probed(["a.csv": M.Probe(stat: Self.s2)]), at: 3) == [])
        #expect(m.handle(.tick, at: 4) == [.probe(all: ["a.csv"], openCheck: ["a.csv"])])
        #expect(m.handle(.probed(["a.csv": M.Probe(stat: Self.s2, openForWriting: false)]), at: 4) == [.stage(["a.csv"])])
    }

    @Test func aFileStillOpenForWritingIsNeverStagedHoweverQuietAndProcIsNotReadAtEveryWakeUp() {
        var m = Self.started(M.Config(settle: 1, maxWait: 300, rescanInterval: 600, maxBackoff: 8),
                             found: ["b.csv": Self.s1])   // a scan found it: no event says it is closed
        #expect(m.handle(.tick, at: 1) == [.probe(all: ["b.csv"], openCheck: [])])
        _ = m.handle(.probed(["b.csv": M.Probe(stat: Self.s1)]), at: 1)
        var t = 2.0
        for _ in 1...3 {
            // Settled (twice the settle time, or 30 s after it was last found open): /proc decides.
            #expect(m.handle(.tick, at: t) == [.probe(all: ["b.csv"], openCheck: ["b.csv"])])
            #expect(m.handle(.probed(["b.csv": M.Probe(stat: Self.s1, openForWriting: true)]), at: t) == [])
            // Then it is being written: its stat is looked at every settle time, /proc again after 30 s.
            #expect(m.nextWake(after: t) == t + 1)
            #expect(m.handle(.tick, at: t + 1) == [.probe(all: ["b.csv"], openCheck: [])])
            #expect(m.handle(.probed(["b.csv": M.Probe(stat: Self.s1)]), at: t + 1) == [])
            #expect(m.handle(.tick, at: t + 29.9) == [.probe(all: ["b.csv"], openCheck: [])])
            #expect(m.handle(.probed(["b.csv": M.Probe(stat: Self.s1)]), at: t + 29.9) == [])
            t += 30
        }
        // Its writer closes it: staged once the tree has been quiet a settle time, with no other sign
        // of completeness (no final line break needed).
        _ = m.handle(.fileClosed("b.csv", Self.s1), at: t - 0.5)
        #expect(m.handle(.tick, at: t) == [])
        #expect(m.nextWake(after: t) == t + 0.5)
        #expect(m.handle(.tick, at: t + 0.5) == [.probe(all: ["b.csv"], openCheck: [])])
        #expect(m.handle(.probed(["b.csv": M.Probe(stat: Self.s1)]), at: t + 0.5) == [.stage(["b.csv"])])
    }

    @Test func aFileSeenBeingWrittenButNeverClosedIsCheckedAfter30Seconds() {
        var m = Self.started()
        _ = m.handle(.fileWritten("c.csv", Self.s1), at: 1)
        #expect(m.handle(.tick, at: 30.9) == [.probe(all: ["c.csv"], openCheck: [])])
        #expect(m.handle(.probed(["c.csv": M.Probe(stat: Self.s1)]), at: 30.9) == [])
        // Its close event may have been lost: after ten settle times (at least 30 s), /proc decides.
        #expect(m.handle(.tick, at: 31) == [.probe(all: ["c.csv"], openCheck: ["c.csv"])])
        #expect(m.handle(.probed(["c.csv": M.Probe(stat: Self.s1, openForWriting: false)]), at: 31) == [.stage(["c.csv"])])
    }

    @Test func aTreeThatStaysBusyGetsARoundOfWhatIsCompleteAfterMaxWait() {
        var m = Self.started()
        _ = m.handle(.fileClosed("done.csv", Self.s1), at: 0.5)
        var t = 0.5
        var staged: [M.Decision] = []
        while t < 12 && staged.isEmpty {
            t += 0.5
            _ = m.handle(.fileWritten("busy.csv", FileStat(size: Int64(t * 10), mtimeNs: Int64(t * 10))), at: t)
            for d in m.handle(.tick, at: t) {
                guard case .probe(let all, _) = d else { continue }
                var answers: [String: M.Probe] = [:]
                for p in all { answers[p] = M.Probe(stat: m.tracker.entries[p]?.stat, openForWriting: p == "busy.csv") }
                staged = m.handle(.probed(answers), at: t)
            }
        }
        // Max-wait is 10 s from the first file seen (0.5 s): what is complete goes, the busy file stays.
        #expect(t == 10.5)
        #expect(staged == [.stage(["done.csv"])])
    }

    @Test func forwardingBacksOffDoublingUpToTheBoundAndSaysWhenTheTargetIsBack() {
        var m = Self.started()
        var t = 1.0
        var waits: [Double] = []
        for attempt in 1...6 {
            guard case .backOff(let n, let retryIn) = m.handle(.forwarded(.unavailable), at: t).first else {
                Issue.record("no backoff"); return
            }
            #expect(n == attempt)
            waits.append(retryIn)
            #expect(m.handle(.tick, at: t + retryIn - 0.01) == [])
            t += retryIn
            #expect(m.handle(.tick, at: t) == [.forward])
        }
        #expect(waits == [1, 2, 4, 8, 8, 8])
        #expect(m.handle(.forwarded(.done(interrupted: false)), at: t) == [.targetBack(attempts: 6, downFor: t - 1)])
        #expect(!m.isTargetDown)
    }

    @Test func whileTheTargetIsDownStagingGoesOnAndForwardingWaitsForItsTry() {
        var m = Self.started()
        _ = m.handle(.forwarded(.unavailable), at: 0.1)   // next try at 1.1
        _ = m.handle(.forwarded(.unavailable), at: 1.1)   // next try at 3.1
        _ = m.handle(.fileClosed("a.csv", Self.s1), at: 1.2)
        #expect(m.handle(.tick, at: 2.2) == [.probe(all: ["a.csv"], openCheck: [])])
        #expect(m.handle(.probed(["a.csv": M.Probe(stat: Self.s1)]), at: 2.2) == [.stage(["a.csv"])])
        #expect(m.handle(.staged(done: ["a.csv"], stagedAny: true), at: 2.2) == [])
        #expect(m.nextWake(after: 2.2) == 3.1)
        #expect(m.handle(.tick, at: 3.1) == [.forward])
    }

    @Test func directoriesAreWatchedAndScannedWhenAddedAndTheirFilesDroppedWhenRemoved() {
        var m = Self.started()
        #expect(m.handle(.directoryAdded("section=1"), at: 1) == [.watch("section=1"), .scan("section=1", .newDirectory)])
        _ = m.handle(.scanned("section=1", .newDirectory, found: ["section=1/a/x.csv": Self.s1]), at: 1)
        _ = m.handle(.fileClosed("section=1/a/y.csv", Self.s1), at: 1)
        _ = m.handle(.fileClosed("section=10/a/z.csv", Self.s1), at: 1)
        // Gone (deleted or moved away): its files are dropped; the path is looked at again in case
        // another directory has taken its name.
        #expect(m.handle(.directoryRemoved("section=1"), at: 2) == [.unwatch("section=1"), .watch("section=1"), .scan("section=1", .newDirectory)])
        #expect(m.tracker.entries.keys.sorted() == ["section=10/a/z.csv"])
    }

    @Test func anOverflowWatchesTheWholeTreeAfreshAndScansItAndNoLongerTrustsEarlierCloseEvents() {
        var m = Self.started()
        _ = m.handle(.fileClosed("a.csv", Self.s1), at: 1)
        // Every watch dropped (lost renames leave stale names) and added again, then a full scan.
        #expect(m.handle(.queueOverflow, at: 1.1) == [.unwatch(""), .watch(""), .scan("", .overflow)])
        _ = m.handle(.scanned("", .overflow, found: ["a.csv": Self.s1, "b.csv": Self.s2]), at: 1.1)
        #expect(m.tracker.entries.keys.sorted() == ["a.csv", "b.csv"])
        // A writer's events after that close may be among those lost: /proc must say it is closed.
        #expect(m.handle(.tick, at: 3.1) == [.probe(all: ["a.csv", "b.csv"], openCheck: ["a.csv", "b.csv"])])
    }

    @Test func aFailedStagingIsRetriedASettleTimeLaterNotAtOnce() {
        var m = Self.started()
        _ = m.handle(.fileClosed("a.csv", Self.s1), at: 1)
        _ = m.handle(.tick, at: 2)
        #expect(m.handle(.probed(["a.csv": M.Probe(stat: Self.s1)]), at: 2) == [.stage(["a.csv"])])
        #expect(m.handle(.stagingFailed, at: 2) == [])
        #expect(m.nextWake(after: 2) == 3)
        #expect(m.handle(.tick, at: 2.5) == [])
        #expect(m.handle(.tick, at: 3) == [.probe(all: ["a.csv"], openCheck: [])])
    }

    @Test func theTreeIsRescannedPeriodicallyAndEveryMinuteOnceTheWatchLimitIsReached() {
        var m = Self.started()
        #expect(m.nextWake(after: 1) == 600)
        #expect(m.handle(.tick, at: 600) == [.scan("", .periodic)])
        #expect(m.nextRescan == 1200)
        #expect(m.handle(.watchLimitReached, at: 700) == [])
        #expect(m.nextRescan == 760)
        #expect(m.handle(.tick, at: 760) == [.scan("", .periodic)])
        #expect(m.nextRescan == 820)
    }
}
