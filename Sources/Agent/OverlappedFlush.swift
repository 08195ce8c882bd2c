import Buffer
import Foundation
import Logging
import Stores

/// What the staging and forwarding parts of a run did, before the summary is made of it.
struct LoadWork {
    var stage: StageReport?
    var forward = ForwardReport()
    /// Why the LMS-DS or the buffer was unavailable, when it was.
    var unavailable: String?
    /// The LMS-DS, when it could be opened.
    var store: (any LMSDataStore)?
    var stageSeconds = 0.0
    var forwardSeconds = 0.0
}

extension LMSAgent {
    /// `flush` on both cores: one thread stages the extract on a second buffer connection while this
    /// one forwards every scope the stager has committed whole (`StagingWatermark`).
    ///
    /// What stays as in a sequential flush:
    /// - The forwarder applies files in the same order (resource, then snapshot) and the stager
    ///   takes the scopes in forward order, so the LMS-DS ends as it would have.
    /// - The exactly-once protocol is the forwarder's, unchanged; the two connections only take
    ///   turns at writing (`WriteTurn`), and the forwarder never holds a turn while the LMS-DS merges.
    /// - What earlier runs left committed in the LMS-DS is recovered before the stager starts.
    /// - A fault of the LMS-DS does not stop staging: everything is staged for `resume`.
    func stageWhileForwarding(shouldStop: @escaping @Sendable () -> Bool) throws -> LoadWork {
        let start = ContinuousClock.now
        var work = LoadWork()
        var found = try scanForFlush()
        // One copy of a large tree's list of files: sorted in place, then the stager's alone.
        var order = found.candidates
        found.candidates = []
        let watermark = StagingWatermark(ordering: &order, registry: registry)
        let store: any LMSDataStore
        do {
            store = try openStore()
        } catch {
            // As in a sequential flush: everything is staged, then the LMS-DS's fault is reported.
            let staged = ContinuousClock.now
            do {
                var report = try stage(order, shouldStop: shouldStop).report
                found.complete(&report, logger: logger)
                work.stage = report
            } catch {
                try noteStagingFault(error, in: &work)
            }
            work.stageSeconds = (ContinuousClock.now - staged).seconds
            try noteForwardingFault(error, in: &work)
            return work
        }
        work.store = store

        let stagingBuffer: Buffer
        do { stagingBuffer = try Buffer(path: buffer.path, extractRoot: root, registry: registry) } catch {
            throw bufferUnavailable(error).map { BufferUnavailable(message: $0) } ?? error
        }
        let turn = WriteTurn()
        buffer.writeTurn = turn
        stagingBuffer.writeTurn = turn
        stagingBuffer.onBatchCommit = buffer.onBatchCommit
        // Short batches: the forwarder sees each commit's scopes soon, and never waits long for its turn.
        stagingBuffer.batchSeconds = overlappedCommitSeconds
        stagingBuffer.yieldsTurn = true
        defer {
            buffer.writeTurn = nil
            stagingBuffer.close()
        }
        let shared = progress.map(SharedProgress.init)
        let staging = StagingThread(candidates: order, buffer: stagingBuffer, root: root, logger: logger,
                                    progress: shared, watermark: watermark, shouldStop: shouldStop)
        order = []
        var forwarder = self.forwarder(store: store)
        forwarder.progress = shared
        do {
            work.forward = try forwarder.forwardPending(shouldStop: { shouldStop() || watermark.stagingFault != nil },
                                                        alongside: watermark, afterRecovery: { staging.start() })
        } catch {
            do { try noteForwardingFault(error, in: &work) } catch {
                _ = staging.finish()
                throw error
            }
        }
        // Staging goes on to its end whatever became of forwarding (it had not started if the
        // pass failed before its recovery was done).
        let forwarded = ContinuousClock.now
        switch staging.finish() {
        case .success(let report):
            var report = report
            found.complete(&report, logger: logger)
            work.stage = report
        case .failure(let error):
            try noteStagingFault(error, in: &work)
        }
        work.stageSeconds = staging.seconds
        work.forwardSeconds = (forwarded - start).seconds
        // Only this connection writes now.
        buffer.writeTurn = nil
        if work.forward.changedData { try noteDataChanged() }
        return work
    }
}

/// The staging half of an overlapped flush, on its own thread with its own buffer connection.
/// Started once by the forwarder (after its recovery), or run here by `finish` if it never was.
final class StagingThread: @unchecked Sendable {
    /// The files to stage; each is released once staged (the list of a large tree is its
    /// largest piece of memory).
    private var candidates: [Candidate]
    private let buffer: Buffer
    private let root: String
    private let logger: Logger
    private let progress: SharedProgress?
    private let watermark: StagingWatermark
    private let shouldStop: @Sendable () -> Bool
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var started = false
    private var result: Result<StageReport, any Error>?
    /// How long staging took, once it is over.
    private(set) var seconds = 0.0

    init(candidates: [Candidate], buffer: Buffer, root: String, logger: Logger, progress: SharedProgress?,
         watermark: StagingWatermark, shouldStop: @escaping @Sendable () -> Bool) {
        self.candidates = candidates
        self.buffer = buffer
        self.root = root
        self.logger = logger
        self.progress = progress
        self.watermark = watermark
        self.shouldStop = shouldStop
    }

    /// Starts staging on a new thread (once).
    func start() {
        guard claim() else { return }
        let thread = Thread { [self] in
            stageAll()
            done.signal()
        }
        thread.name = "lms-agent stage"
        thread.start()
    }

    /// Waits for staging to end (staging here if it never started) and returns what it did.
    func finish() -> Result<StageReport, any Error> {
        if claim() { stageAll() } else { done.wait() }
        return result!
    }

    private func claim() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if started { return false }
        started = true
        return true
    }

    private func stageAll() {
        let began = ContinuousClock.now
        result = Result {
            try LMSAgent.stage(&candidates, releasing: true, into: buffer, root: root, logger: logger, progress: progress,
                               watermark: watermark, shouldStop: shouldStop).report
        }
        seconds = (ContinuousClock.now - began).seconds
        var fault: String? = nil
        if case .failure(let error) = result { fault = "\(error)" }
        watermark.finish(fault: fault)
    }
}

/// One progress sink for the two threads of an overlapped flush: their reports, one at a time.
final class SharedProgress: ProgressSink, @unchecked Sendable {
    private let sink: any ProgressSink
    private let lock = NSLock()

    init(_ sink: any ProgressSink) { self.sink = sink }

    func report(_ progress: Progress) {
        lock.lock()
        defer { lock.unlock() }
        sink.report(progress)
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        sink.finish()
    }
}
