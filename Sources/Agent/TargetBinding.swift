import Buffer
import Foundation
import PostgresDB
import Stores

/// Which LMS-DS a buffer forwards to. A buffer's ledger says what *one* target has applied: pointed
/// at another, it would report "nothing to do" while that target holds nothing. So a buffer
/// records its target (engine and place, never a secret) the first time it forwards, and refuses
/// any other. To load an extract into a second target, give it a buffer of its own (`--buffer`):
/// a new buffer stages the extract afresh and forwards all of it, and the target's ProcessedFiles
/// keeps anything from being applied twice.
public struct TargetIdentity: Sendable, Equatable, CustomStringConvertible {
    /// The identity as the buffer records it (`sqlite:/path`, `postgresql://host:port/db`).
    public let text: String
    /// The text.
    public var description: String { text }

    /// The target the settings name, as the buffer records it.
    public static func of(_ settings: Settings) -> TargetIdentity {
        switch settings.engine {
        case .sqlite:
            return TargetIdentity(text: "sqlite:" + realPath(settings.sqliteDatabasePath))
        case .postgresql:
            var host = settings.server, port = settings.port.map(String.init), db = settings.dbname
            if let cs = settings.connectionString {
                // libpq's own parse: a password holding '?', '/' or '@' is not taken for a host or a
                // port. A string libpq does not expand is a database name (a mistyped URI: redacted).
                let parts = ConnectionString.isExpandedByLibpq(cs)
                    ? ConnectionString.publicParts(of: cs) ?? [:]
                    : ["dbname": Redactor(parameters: [("dbname", cs)]).redact(cs)]
                host = host ?? parts["host"] ?? parts["hostaddr"]
                port = port ?? parts["port"]
                db = db ?? parts["dbname"]
            }
            let env = ProcessInfo.processInfo.environment
            host = host ?? env["PGHOST"] ?? "localhost"
            port = port ?? env["PGPORT"] ?? "5432"
            db = db ?? env["PGDATABASE"] ?? settings.username ?? env["PGUSER"] ?? "postgres"
            return TargetIdentity(text: "postgresql://\(host!):\(port!)/\(db!)")
        case .mssql:
            return TargetIdentity(text: "mssql://\(settings.server ?? "localhost"):\(settings.port ?? 1433)/\(settings.dbname ?? "")")
        }
    }

    /// The path with symbolic links and `..` resolved, as far as it exists.
    static func realPath(_ path: String) -> String {
        if let r = realpath(path, nil) { defer { free(r) }; return String(cString: r) }
        let dir = (path as NSString).deletingLastPathComponent
        if let r = realpath(dir, nil) { defer { free(r) }; return String(cString: r) + "/" + (path as NSString).lastPathComponent }
        return path
    }
}

extension LMSAgent {
    /// The target this buffer is bound to, if it has forwarded before.
    public var boundTarget: String? { try? buffer.meta("target") }

    /// Refuses a target other than the one this buffer is bound to (before any work is done).
    func checkTargetBinding() throws {
        let wanted = TargetIdentity.of(settings)
        guard let bound = boundTarget, bound != wanted.text else { return }
        throw AgentError.config("""
            the buffer \(buffer.path) forwards to \(bound), not \(wanted): its ledger says what that target has applied. \
            Name that target again, or give this target a buffer of its own with --buffer (a new buffer stages the extract \
            again and forwards all of it)
            """)
    }

    /// Records the target on the buffer's first forward.
    func bindTarget() throws {
        if boundTarget == nil { try buffer.setMeta("target", TargetIdentity.of(settings).text) }
    }

    /// Configuration faults of the target that can be found before any work starts.
    func checkTargetConfiguration() throws {
        try LMSAgent.checkTargetConfiguration(settings, bufferPath: buffer.path)
    }

    /// The same, before the buffer exists (so that a misconfigured flush creates nothing).
    static func checkTargetConfiguration(_ settings: Settings, bufferPath: String) throws {
        guard settings.engine == .sqlite else { return }
        let path = settings.sqliteDatabasePath
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw AgentError.config("--dbname \(path) is a directory; name the LMS-DS file, for example \(path)/lms-ds.sqlite")
        }
        if TargetIdentity.realPath(path) == TargetIdentity.realPath(bufferPath) {
            throw AgentError.config("--dbname \(path) is the buffer itself; the LMS-DS needs a file of its own")
        }
        if FileManager.default.fileExists(atPath: path),
           let head = FileHandle(forReadingAtPath: path).flatMap({ h in defer { try? h.close() }; return try? h.read(upToCount: 16) }),
           !head.isEmpty, !head.starts(with: Array("SQLite format 3".utf8)) {
            throw AgentError.config("--dbname \(path) exists and is not an SQLite database; name the LMS-DS file")
        }
    }
}
