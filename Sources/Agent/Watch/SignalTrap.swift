import Glibc

/// SIGTERM and SIGINT set a flag and wake the watcher's poll through a pipe; the current file's
/// transaction finishes (or rolls back), then the agent exits 0.
enum SignalTrap {
    nonisolated(unsafe) static var stopRequested: sig_atomic_t = 0
    nonisolated(unsafe) static var wakeFD: Int32 = -1
    nonisolated(unsafe) static var readFD: Int32 = -1

    static func install() {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        readFD = fds[0]
        wakeFD = fds[1]
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
        _ = fcntl(wakeFD, F_SETFL, fcntl(wakeFD, F_GETFL) | O_NONBLOCK)
        for sig in [SIGTERM, SIGINT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { _ in
                SignalTrap.stopRequested = 1
                var b: UInt8 = 1
                _ = write(SignalTrap.wakeFD, &b, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(sig, &action, nil)
        }
        // A parent may have started us with these signals blocked (Foundation's Process passes its
        // thread's mask on): a service must hear them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    static var stopping: Bool { stopRequested != 0 }

    static func drain() {
        var b = [UInt8](repeating: 0, count: 64)
        while read(readFD, &b, 64) > 0 {}
    }
}
