@testable import Agent
import Foundation
import PropertyBased
import Testing

/// The watcher's state machine against what it promises, over random sequences of what can happen to
/// an extract tree (WatchSimulation is the simulated tree, inotify, clock and LMS-DS):
/// - every complete file is handed to staging once per version;
/// - no file is staged while it is open for writing, or sooner than the settle time after it changed;
/// - a file in the tree is always either staged in its current version or tracked (nothing forgotten,
///   also right after a queue overflow, whose rescan must find everything);
/// - files under a removed or moved-away directory are dropped;
/// - forwarding backs off 1, 2, 4 ... s while the LMS-DS is away;
/// - once the tree is quiet, everything complete is staged and forwarded, and the watcher sleeps.
///
/// A failing case prints its seed (in `.fixedSeed("…")`): set LMS_AGENT_WATCH_SEED to it and run the
/// `replay` test (`LMS_AGENT_WATCH_SEED='…' swift test --filter WatchModelTests/replay`), which prints
/// the case's trace.
@Suite("watch: the state machine against a model")
struct WatchModelTests {
    static let config = WatchStateMachine.Config(settle: 1, maxWait: 4, rescanInterval: 100_000, maxBackoff: 8)
    /// Longer than every bound above (a file seen written and never closed waits 30 settle times,
    /// max-wait, backoff), far shorter than the periodic rescan: what the watcher finds, it finds
    /// from events and from the scans that events lead to.
    static let quietPeriod = 120.0

    enum Op: CustomStringConvertible, Sendable {
        case write(dir: Int, file: Int, bytes: Int)
        case close(Int)
        case pause(Double)
        case tick
        case renameIn(dir: Int, file: Int)
        case mkdir(parent: Int, name: Int)
        case rmdir(Int)
        case moveOut(Int)
        case moveIn(parent: Int, name: Int, files: Int)
        case renameDirectory(Int, name: Int)
        /// A folder is swapped for a fresh one: renamed aside (or moved out of the tree), and a new
        /// one moved in under its name.
        case replaceDirectory(Int, name: Int, out: Bool)
        /// A process writes in a folder that was moved out of the tree.
        case writeOutside(Int, file: Int)
        case overflow(keep: Int)
        case targetDown, targetUp

        static let kinds = 16
        init(_ n: Int) {
            let p = n / Self.kinds
            switch n % Self.kinds {
            case 0, 1: self = .write(dir: p % 7, file: p / 7 % 3, bytes: 1 + p / 21 % 50)
            case 2: self = .close(p)
            case 3: self = .pause([0.2, 0.5, 0.9, 1.1, 1.6, 2.5, 4, 7][p % 8])
            case 4: self = .tick
            case 5: self = .renameIn(dir: p % 7, file: p / 7 % 3)
            case 6: self = .mkdir(parent: p % 3, name: p / 3 % 3)
            case 7: self = .rmdir(p)
            case 8: self = .moveOut(p)
            case 9: self = .moveIn(parent: p % 2, name: p / 2 % 3, files: 1 + p / 6 % 3)
            case 10: self = .renameDirectory(p, name: p / 7 % 3)
            case 11: self = .overflow(keep: p % 4)
            case 12: self = p % 2 == 0 ? .targetDown : .pause(0.3)
            case 13: self = .replaceDirectory(p, name: p / 7 % 3, out: p / 21 % 2 == 1)
            case 14: self = .writeOutside(p, file: p / 5 % 3)
            default: self = p % 3 == 0 ? .targetUp : .write(dir: p % 7, file: p / 7 % 3, bytes: 5)
            }
        }

        var description: String {
            switch self {
            case .write(let d, let f, let b): return "write(\(d),\(f),\(b))"
            case .close(let w): return "close(\(w))"
            case .pause(let s): return "pause(\(s))"
            case .tick: return "tick"
            case .renameIn(let d, let f): return "renameIn(\(d),\(f))"
            case .mkdir(let p, let n): return "mkdir(\(p),\(n))"
            case .rmdir(let d): return "rmdir(\(d))"
            case .moveOut(let d): return "moveOut(\(d))"
            case .moveIn(let p, let n, let f): return "moveIn(\(p),\(n),\(f))"
            case .renameDirectory(let d, let n): return "renameDirectory(\(d),\(n))"
            case .replaceDirectory(let d, let n, let out): return "replaceDirectory(\(d),\(n)\(out ? ",out" : ""))"
            case .writeOutside(let d, let f): return "writeOutside(\(d),\(f))"
            case .overflow(let k): return "overflow(keep \(k))"
            case .targetDown: return "targetDown"
            case .targetUp: return "targetUp"
            }
        }
    }

    /// The tree before the watcher starts: which of four files exist, which of them the ledger already
    /// holds, whether one is still being written, whether the LMS-DS is down.
    struct Setup: CustomStringConvertible, Sendable {
        var files: Int, known: Int, writing: Bool, targetDown: Bool
        init(_ n: Int) { files = n % 16; known = n / 16 % 16; writing = n / 256 % 2 == 1; targetDown = n / 512 % 4 == 0 }
        var description: String { "Setup(files \(files), known \(known), writing \(writing), targetDown \(targetDown))" }
    }

    /// Runs one case and returns what went wrong (empty when nothing did).
    static func check(_ setup: Setup, _ ops: [Op]) -> (violations: [String], trace: [String], coverage: [String: Int]) {
        let sim = WatchSimulation(config: config)
        sim.mkdir("users")
        var known: [String] = []
        for i in 0..<4 where setup.files & (1 << i) != 0 {
            let path = i < 2 ? "users/f\(i).csv" : "f\(i).csv"
            sim.write(path, bytes: Int64(10 + i))
            if !(setup.writing && i == 0) { sim.close(path) }
            if setup.known & (1 << i) != 0 && !(setup.writing && i == 0) { known.append(path) }
        }
        sim.setTarget(up: !setup.targetDown)
        sim.run(until: 10)   // the extractor wrote these a while ago
        sim.start(knownVersions: known)

        /// The directories in a stable order, root first; `pick` chooses one of them.
        func directory(_ pick: Int, includingRoot: Bool = true) -> String? {
            let dirs = sim.directories.keys.sorted().filter { includingRoot || !$0.isEmpty }
            return dirs.isEmpty ? nil : dirs[pick % dirs.count]
        }
        for op in ops {
            switch op {
            case .write(let d, let f, let b):
                if let dir = directory(d) { sim.write(WatchSimulation.join(dir, "f\(f).csv"), bytes: Int64(b)) }
            case .close(let w):
                let open = sim.writers.sorted()
                if !open.isEmpty { sim.close(open[w % open.count]) }
            case .pause(let s):
                sim.run(until: sim.now + s * config.settle)
            case .tick:
                sim.run(until: sim.now + 0.01)
            case .renameIn(let d, let f):
                if let dir = directory(d) { sim.renameIn(WatchSimulation.join(dir, "f\(f).csv"), bytes: Int64(40 + f)) }
            case .mkdir(let p, let n):
                // Two levels at most: the root's folders and theirs.
                let parents = sim.directories.keys.filter { !$0.contains("/") }.sorted()
                sim.mkdir(WatchSimulation.join(parents[p % parents.count], "d\(n)"))
            case .rmdir(let d):
                if let dir = directory(d, includingRoot: false) { sim.removeDirectory(dir) }
            case .moveOut(let d):
                if let dir = directory(d, includingRoot: false) { sim.moveOut(dir) }
            case .moveIn(let p, let n, let count):
                let parent = p == 0 ? "" : "users"
                if sim.directories[parent] != nil { sim.moveIn(WatchSimulation.join(parent, "in\(n)"), files: count) }
            case .renameDirectory(let d, let n):
                if let dir = directory(d, includingRoot: false) {
                    sim.renameDirectory(dir, to: WatchSimulation.join(WatchSimulation.parent(dir), "r\(n)"))
                }
            case .replaceDirectory(let d, let n, let out):
                if let dir = directory(d, includingRoot: false) {
                    if out { sim.moveOut(dir) } else { sim.renameDirectory(dir, to: WatchSimulation.join(WatchSimulation.parent(dir), "r\(n)")) }
                    if sim.directories[dir] == nil { sim.moveIn(dir, files: 2) }
                }
            case .writeOutside(let d, let f):
                sim.writeOutside(d, name: "f\(f).csv")
            case .overflow(let keep):
                sim.overflow(keep: keep)
            case .targetDown:
                sim.setTarget(up: false)
            case .targetUp:
                sim.setTarget(up: true)
            }
        }
        // The tree goes quiet (writers that are still open stay open) and the LMS-DS comes back.
        sim.setTarget(up: true)
        let before = sim.wakeUps - sim.eventWakeUps
        sim.run(until: sim.now + quietPeriod)
        sim.checkSettled(timerWakeUpsBefore: before, period: quietPeriod)
        return (sim.violations, sim.trace, sim.coverage)
    }

    static let setups = Gen.int(in: 0...2047).map(Setup.init)
    static let sequences = Gen.int(in: 0...(Op.kinds * 400 - 1)).array(of: 1...40).map { $0.map(Op.init) }

    /// 1500 cases take a few seconds; LMS_AGENT_WATCH_CASES runs more (a soak).
    static let cases = Int(ProcessInfo.processInfo.environment["LMS_AGENT_WATCH_CASES"] ?? "") ?? 1500

    @Test func theWatcherKeepsItsPromises() async {
        var coverage: [String: Int] = [:]
        await propertyCheck(count: Self.cases, input: Self.setups, Self.sequences) { setup, ops in
            let result = Self.check(setup, ops)
            coverage.merge(result.coverage, uniquingKeysWith: +)
            #expect(result.violations.isEmpty, "\(result.violations.joined(separator: "\n"))\n\(setup)\n\(ops)\ntrace:\n\(result.trace.joined(separator: "\n"))")
        }
        // The cases reach every situation the promises are about (a property that never meets them proves nothing).
        for situation in ["files staged", "startup scan found files", "overflow scan found files", "newDirectory scan found files",
                          "a settled file was found open for writing", "a probe saw a change no event reported",
                          "a round of part of the tree (max-wait)", "a new version of a staged file was staged",
                          "forwarding retried with a growing backoff", "the LMS-DS came back during an outage"] {
            #expect(coverage[situation, default: 0] > 0, "never: \(situation) (\(coverage))")
        }
        print("watch model: \(Self.cases) cases; \(coverage.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))")
    }

    static let replaySeed = ProcessInfo.processInfo.environment["LMS_AGENT_WATCH_SEED"]

    /// Replays the case of a seed a failure printed (the text inside `.fixedSeed("…")`): the same
    /// generators on the same random state give the same case.
    @Test(.enabled(if: replaySeed != nil, "set LMS_AGENT_WATCH_SEED to replay a seed"))
    func replay() throws {
        var rng = try #require(Xoshiro(seed: Self.replaySeed ?? ""), "LMS_AGENT_WATCH_SEED is not a seed")
        let (setup, ops) = zip(Self.setups, Self.sequences).run(using: &rng)
        let result = Self.check(setup, ops)
        print("replaying \(setup) \(ops)\ntrace:\n\(result.trace.joined(separator: "\n"))")
        #expect(result.violations.isEmpty, "\(result.violations.joined(separator: "\n"))")
    }
}
