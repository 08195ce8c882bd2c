import Foundation
import Testing

/// Every run closes what it opened. A statement held its database strongly while the database
/// cached it, so no connection was ever freed: each flush leaked 6 descriptors, and a long test
/// run (or a long-lived process) ran out ("Too many open files").
@Suite("Connections are freed")
struct ConnectionLeakTests {
    /// This process's open descriptors on files under `dir` (the world's buffer, LMS-DS and their
    /// WAL and shared-memory files). Only these: tests running in parallel open and close
    /// descriptors of their own all the time, and counting every descriptor made this test flaky.
    static func openDescriptors(under dir: String) -> [String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0) }
            .filter { $0.hasPrefix(dir + "/") }.sorted()
    }

    @Test func repeatedRunsOpenNoMoreDescriptors() throws {
        let w = try World()
        try w.writeBase()
        _ = try w.flush()
        let before = Self.openDescriptors(under: w.dir)
        for _ in 0..<20 { _ = try w.flush() }
        for _ in 0..<20 { _ = try w.buffer() }
        let after = Self.openDescriptors(under: w.dir)
        #expect(after.count <= before.count, "before: \(before); after 40 runs: \(after)")
    }
}
