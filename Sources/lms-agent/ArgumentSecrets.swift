import Glibc
import PostgresDB

/// Blanks secrets in the process's own argument memory once they have been copied out of it, so
/// that `ps` and `/proc/<pid>/cmdline` stop showing them (as curl and the MySQL client do).
///
/// This narrows the exposure to the first milliseconds after start; it does not close it, hence the
/// warning `--password` and a password in `--connection-string` still get.
enum ArgumentSecrets {
    /// Options whose whole value is a secret.
    static let secretOptions: Set<String> = ["--password", "-p"]
    /// Options whose value may hold one (a URI or conninfo with a password).
    static let connectionOptions: Set<String> = ["--connection-string"]

    static func blank() {
        let argc = Int(CommandLine.argc)
        let argv = CommandLine.unsafeArgv
        var i = 1
        while i < argc {
            guard let arg = argv[i] else { i += 1; continue }
            let text = String(cString: arg)
            if text.hasPrefix("--"), let eq = strchr(arg, Int32(UInt8(ascii: "="))) {
                // --option=value: the value starts after '='.
                blank(eq + 1, option: String(text.prefix { $0 != "=" }))
            } else if secretOptions.contains(text) || connectionOptions.contains(text), i + 1 < argc, let value = argv[i + 1] {
                blank(value, option: text)
                i += 1
            }
            i += 1
        }
    }

    /// Overwrites the secret part of one value in place, keeping its length.
    static func blank(_ value: UnsafeMutablePointer<CChar>, option: String) {
        let length = strlen(value)
        if secretOptions.contains(option) {
            memset(value, Int32(UInt8(ascii: "*")), length)
        } else if connectionOptions.contains(option) {
            let text = String(cString: value)
            let bytes = Array(text.utf8)
            for secret in ConnectionString.secrets(in: text) {
                let s = Array(secret.utf8)
                guard !s.isEmpty, s.count <= bytes.count else { continue }
                for start in 0...(bytes.count - s.count) where Array(bytes[start..<(start + s.count)]) == s {
                    memset(value + start, Int32(UInt8(ascii: "*")), s.count)
                }
            }
        }
    }
}
