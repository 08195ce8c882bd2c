import Agent
import Foundation
import Stores
import Testing

/// `watch` harmonizes after a round that changed data, and every `--harmonize-interval` (the ODS
/// changes without any LMS change); its metrics file has the last pass's counts.
@Suite("watch: harmonization", .serialized, .enabled(if: TestPostgres.configured, "PostgreSQL is not configured"))
struct HarmonizeWatchTests {
    @Test func aWatchRoundHarmonizesAndTheIntervalPicksUpODSChanges() throws {
        let w = try World(engine: .postgresql)
        let ods = try ODS(w)
        try ods.install()
        try ods.student("S1")
        try ods.section("SEC-1")
        try ods.shippedDescriptors(["Canvas"])
        let metrics = w.dir + "/metrics.prom"
        let watch = try w.startWatch(settle: 0.3, extra: ["--harmonize-interval", "2s", "--metrics-file", metrics])
        try w.write("users/\(w.stamp(1))", .users, [LMSRow.user("u1", "Canvas", sis: "S1"), LMSRow.user("u2", "Canvas", sis: "S2")])
        try w.write("sections/\(w.stamp(1))", .sections, [LMSRow.section("c1", "Canvas", sis: "SEC-1")])
        // The round's pass links u1 and c1.
        #expect(eventually(60) { try w.userLinks()["u1"] == "S1" && w.sectionLinks()["c1"] == "SEC-1" }, "\(watch.output)")
        // The links are committed procedure by procedure; the pass's line comes after the last.
        #expect(eventually(20) { watch.output.contains("harmonization: Canvas:") }, "\(watch.output)")
        // S2 arrives in the ODS; no LMS file changes: the interval's pass links u2.
        try ods.student("S2")
        #expect(eventually(60) { try w.userLinks()["u2"] == "S2" }, "\(watch.output)")
        #expect(eventually(20) {
            let text = (try? String(contentsOfFile: metrics, encoding: .utf8)) ?? ""
            return text.contains("lms_agent_harmonization_unmatched{kind=\"users\"} 0")
                && text.contains("lms_agent_harmonization_last_timestamp_seconds")
        }, "\((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "no metrics")")
        #expect(watch.stop().code == 0)
        #expect(try w.agent(csvPath: false).status().harmonization?.trigger == .interval)
    }
}
