import Dispatch
import Glibc
import Synchronization
import UnixSignals

/// A request to stop after the file in hand: SIGTERM or SIGINT as ServiceLifecycle delivers them (the
/// service group's graceful shutdown for `watch`, its signal sequence for `flush` and `resume`). Work
/// checks it between two files; the read end of `wakeFD` becomes readable when it is made, so a loop
/// that polls it wakes at once instead of sleeping out its timeout.
final class StopRequest: Sendable {
    private let requested = Atomic<Bool>(false)
    /// A pipe that is written once and never read: readable from the request on.
    private let pipeFDs: (read: Int32, write: Int32)

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        } else {
            fds = [-1, -1]
        }
        pipeFDs = (fds[0], fds[1])
    }

    deinit {
        close(pipeFDs.read)
        close(pipeFDs.write)
    }

    /// Readable once a stop was requested (-1 if no pipe could be made: the loop then wakes on its timers only).
    var wakeFD: Int32 { pipeFDs.read }

    var isRequested: Bool { requested.load(ordering: .acquiring) }

    func request() {
        guard !requested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 1
        _ = write(pipeFDs.write, &byte, 1)
    }
}

extension LMSAgent {
    /// Makes SIGTERM and SIGINT stop a run between two files instead of killing the process;
    /// returns the check to pass as `shouldStop`. Returns once the signals are trapped, so that a
    /// signal sent after the header is printed is heard.
    public static func stopOnSignals() -> @Sendable () -> Bool {
        let stop = StopRequest()
        let trapped = DispatchSemaphore(value: 0)
        Task.detached {
            let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
            trapped.signal()
            for await _ in signals { stop.request() }
        }
        trapped.wait()
        return { stop.isRequested }
    }
}
