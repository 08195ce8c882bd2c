@testable import Agent
import Glibc
import Testing

/// How raw inotify events get their paths, and why a directory that leaves takes its subtree's
/// watches with it.
@Suite("watch: naming inotify events")
struct WatchRegistryTests {
    static func mask(_ m: Int32) -> UInt32 { UInt32(m) }

    @Test func eventsAreNamedByTheirWatchAndHiddenNamesAreIgnored() {
        var r = WatchRegistry()
        r.added(1, path: "")
        r.added(2, path: "section=1")
        #expect(r.event(wd: 2, mask: Self.mask(IN_CLOSE_WRITE), name: "a.csv").event == .fileClosed("section=1/a.csv"))
        #expect(r.event(wd: 2, mask: Self.mask(IN_MOVED_TO), name: "a.csv").event == .fileMovedIn("section=1/a.csv"))
        #expect(r.event(wd: 2, mask: Self.mask(IN_MODIFY), name: "a.csv").event == .fileWritten("section=1/a.csv"))
        #expect(r.event(wd: 1, mask: Self.mask(IN_CREATE | IN_ISDIR), name: "section=2").event == .directoryAdded("section=2"))
        #expect(r.event(wd: 2, mask: Self.mask(IN_CLOSE_WRITE), name: ".partial").event == nil)
        #expect(r.event(wd: 9, mask: Self.mask(IN_CLOSE_WRITE), name: "a.csv").event == nil)
        #expect(r.event(wd: -1, mask: Self.mask(IN_Q_OVERFLOW), name: "").event == .overflow)
    }

    @Test func aDirectoryThatLeavesTakesItsSubtreesWatchesWithItAtOnce() {
        var r = WatchRegistry()
        r.added(1, path: "")
        r.added(2, path: "section=1")
        r.added(3, path: "section=1/assignments")
        r.added(4, path: "section=10")
        // `mv section=1 section=9`: after the parent's IN_MOVED_FROM, the subtree's watches would
        // report under the old name, "section=1/...": they are dropped, to be removed from the kernel.
        let (event, removed) = r.event(wd: 1, mask: Self.mask(IN_MOVED_FROM | IN_ISDIR), name: "section=1")
        #expect(event == .directoryRemoved("section=1"))
        #expect(removed.sorted() == [2, 3])
        #expect(r.event(wd: 3, mask: Self.mask(IN_CLOSE_WRITE), name: "a.csv").event == nil)
        #expect(r.event(wd: 2, mask: Self.mask(IN_MOVE_SELF), name: "").event == nil)
        #expect(r.paths == [1: "", 4: "section=10"])
        // Watched again under the new name (the watcher's `.watch` for the added directory).
        r.added(5, path: "section=9")
        r.added(6, path: "section=9/assignments")
        #expect(r.event(wd: 6, mask: Self.mask(IN_CLOSE_WRITE), name: "a.csv").event == .fileClosed("section=9/assignments/a.csv"))
    }

    @Test func aDeletedDirectoryIsForgottenAndIgnoredWatchesToo() {
        var r = WatchRegistry()
        r.added(1, path: "")
        r.added(2, path: "section=1")
        r.added(3, path: "section=1/assignments")
        #expect(r.event(wd: 3, mask: Self.mask(IN_DELETE_SELF), name: "") == (.directoryRemoved("section=1/assignments"), [3]))
        #expect(r.event(wd: 2, mask: Self.mask(IN_IGNORED), name: "").event == nil)
        #expect(r.paths == [1: ""])
        #expect(r.remove(under: "").sorted() == [1])
        #expect(r.paths.isEmpty)
    }
}
