import Foundation
import Testing

/// Every run closes what it opened. A statement held its database strongly while the database
/// cached it, so no connection was ever freed: each flush leaked 6 descriptors, and a long test
/// run (or a long-lived process) ran out ("Too many open files").
@Suite("Connections are freed")
struct ConnectionLeakTests {
    static func openDescriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }

    @Test func repeatedRunsOpenNoMoreDescriptors() throws {
        let w = try World()
        try w.writeBase()
        _ = try w.flush()
        let before = Self.openDescriptors()
        for _ in 0..<20 { _ = try w.flush() }
        for _ in 0..<20 { _ = try w.buffer() }
        #expect(Self.openDescriptors() <= before + 2, "\(before) descriptors before, \(Self.openDescriptors()) after 40 runs")
    }
}
