import Foundation
import Glibc

/// One run of the built `lms-agent` binary as a child process, with its own environment, working
/// directory and umask, and its standard output and error kept apart.
struct AgentRun {
    var code: Int32
    var stdout: String
    var stderr: String
    var output: String { stdout + stderr }

    /// Runs `lms-agent arguments` to its end. `environment` replaces the inherited one entirely (so
    /// that the test server's PG* settings or a developer's DB_* never leak in), but for PATH.
    /// `prefix` goes before the binary (for example `strace ... -o file`).
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
                    umask mask: mode_t? = nil, prefix: [String] = [], timeout: Double = 60) throws -> AgentRun {
        let process = try AgentProcess(arguments, environment: environment, directory: directory, umask: mask, prefix: prefix)
        return process.wait(timeout: timeout)
    }
}

/// The built binary running in the background (`watch`), through `/bin/sh` so that the umask can be set.
final class AgentProcess {
    let process = Process()
    let outPath: String
    let errPath: String

    init(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
         umask mask: mode_t? = nil, prefix: [String] = []) throws {
        let id = UUID().uuidString.prefix(8)
        outPath = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(id).out").path
        errPath = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(id).err").path
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // `exec` keeps the pid: the shell becomes the agent (or the prefix tool).
        let umaskCommand = mask.map { "umask \(String($0, radix: 8)); " } ?? ""
        process.arguments = ["-c", umaskCommand + "exec \"$@\"", "sh"] + prefix + [WatchProcess.binary] + arguments
        var env = environment
        env["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
    }

    var pid: pid_t { process.processIdentifier }
    var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// Waits for the end (SIGKILL after `timeout` seconds).
    func wait(timeout: Double = 60) -> AgentRun {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        return AgentRun(code: process.terminationStatus, stdout: stdout, stderr: stderr)
    }

    /// SIGTERM, then the end.
    func stop() -> AgentRun {
        kill(pid, SIGTERM)
        return wait(timeout: 30)
    }
}

/// A loopback TCP port nothing listens on (bound, then released; nothing else here takes it back).
func closedLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// A file's permission bits (nil when it does not exist).
func permissions(_ path: String) -> mode_t? {
    var st = stat()
    return stat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
}

/// A command's path on PATH, if installed.
func installed(_ tool: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
}
