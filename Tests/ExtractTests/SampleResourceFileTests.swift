import Foundation
import Testing
import Extract
@testable import SampleExtract

/// The generator's resource file: the header comes from the resource schema, and each value lands
/// under its column's name whatever order a writer sets it in.
@Suite struct SampleResourceFileTests {
    private func written(_ body: (String) throws -> Void) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("resource-file-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
        return try String(decoding: Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
    }

    @Test func valuesLandUnderTheirColumnInAnyOrder() throws {
        let text = try written { path in
            let file = try ResourceFile(path: path, resource: nil, columns: ["A", "B", "C"])
            file.set("C", .text("x, \"y\""))
            file.set("A", .int(-5))
            file.set("B", .null)
            file.endRow()
            file.set("A", .id(1))
            file.set("B", .date(WallClock.dayOne + 3661))
            file.set("C", .textOrNull(nil))
            file.endRow()
            try file.finish()
            #expect(file.rows == 2)
        }
        #expect(text == "\u{FEFF}A,B,C\n-5,,\"x, \"\"y\"\"\"\n1,2026-09-01 01:01:01,\n")
    }

    @Test func theHeaderIsTheSchemasColumnList() throws {
        let text = try written { path in
            let file = try ResourceFile(path: path, resource: .systemActivities)
            file.setKey(7, system: "Canvas")
            file.setActivity(type: "sign-in", at: WallClock.dayOne, parent: nil, minutes: nil)
            file.set("LMSUserSourceSystemIdentifier", .id(9))
            file.setAudit(created: WallClock.dayOne, modified: WallClock.dayOne)
            file.endRow()
            try file.finish()
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "\u{FEFF}" + Resource.systemActivities.schema.columns.map(\.name).joined(separator: ","))
        #expect(lines[1] == "7,Canvas,sign-in,2026-09-01 00:00:00,active,,,9,2026-09-01 00:00:00,2026-09-01 00:00:00,,")
    }

    @Test func aFileWithoutRowsIsALoneLineEnd() throws {
        let text = try written { path in try ResourceFile(path: path, resource: .users).finish() }
        #expect(text == "\n")
    }
}
