import CLibPQ

/// Takes secrets out of text before it becomes an error message.
///
/// libpq quotes what it could not parse: `IPv6 host address may not be empty in URI:
/// "postgresql://u:secret@[]/db"`, `missing "=" after "secret" in connection info string`,
/// `invalid percent-encoded token: "se%ZZcret"`. A server quotes a database name it does not know,
/// and a string libpq does not recognise as a URI is taken as a database name. Such messages reach
/// the log, the flush summary, `status` and the buffer's error table, so every message the
/// PostgreSQL layer makes passes through `redact` first.
///
/// Three passes: every known secret (the password given as a parameter, and whatever
/// `ConnectionString.secrets(in:)` finds in a connection string, even a malformed one) is replaced
/// wherever it appears; a quoted piece of a conninfo string libpq could not parse is masked
/// (`missing "=" after "***"`: nobody can tell whether the stray word was a password), libpq's
/// keywords excepted; then whatever still has the shape of a secret (`scheme://user:…@`,
/// `password=…`) is masked, for secrets nobody told us about.
public struct Redactor: Sendable {
    /// What a secret is replaced with.
    public static let mask = "***"
    /// Known secrets shorter than this are not replaced literally (replacing every "ab" would make
    /// messages unreadable); the shape-based pass still masks them inside URIs and conninfo.
    public static let shortestLiteral = 4

    /// Known secrets, longest first (so that a secret containing another is replaced whole).
    public let secrets: [String]
    /// Conninfo strings libpq refuses: what its messages quote from them is masked.
    public let unparsable: [String]

    /// A redactor for these secrets (those shorter than `shortestLiteral` are masked only by shape) and for the conninfo strings libpq could not parse.
    public init(secrets: [String], unparsable: [String] = []) {
        var unique: [String] = []
        for s in secrets where s.count >= Redactor.shortestLiteral && !unique.contains(s) { unique.append(s) }
        self.secrets = unique.sorted { $0.count > $1.count }
        self.unparsable = unparsable
    }

    /// The secrets of libpq connection keywords: `password` and `sslpassword` values, and those inside
    /// a `dbname` that holds a URI or conninfo string.
    public init(parameters: [(String, String)]) {
        var found: [String] = []
        var unparsable: [String] = []
        for (key, value) in parameters {
            if ConnectionString.secretKeywords.contains(key) { found.append(value) }
            if key == "dbname" {
                found += ConnectionString.secrets(in: value)
                // A conninfo libpq refuses: its messages quote stray words, which may be a password.
                // (A URI's own messages quote the URI or a token, both covered by the secrets.)
                if value.contains("=") && !value.contains("://") && !ConnectionString.parses(value) { unparsable.append(value) }
            }
        }
        self.init(secrets: found, unparsable: unparsable)
    }

    /// `text` with every known secret, every quoted piece of an unparsable conninfo, and anything shaped like a secret replaced by `mask`.
    public func redact(_ text: String) -> String {
        var out = text
        for s in secrets where out.contains(s) { out = out.replacing(s, with: Redactor.mask) }
        if !unparsable.isEmpty {
            let keywords = ConnectionString.keywords
            out = out.replacing(#/"(?<quoted>[^"]+)"/#) { m in
                let q = String(m.output.quoted)
                // Punctuation (`missing "=" after`) and libpq's keywords are kept: they carry no secret.
                let fromString = unparsable.contains { $0.contains(q) } && q.contains { $0.isLetter || $0.isNumber }
                return fromString && !keywords.contains(q) ? "\"" + Redactor.mask + "\"" : "\"" + q + "\""
            }
        }
        return Redactor.redactShapes(out)
    }

    /// Masks what looks like a secret without knowing it: the password of a `scheme://user:password@`
    /// URI and the value of `password=` / `sslpassword=` (conninfo or URI query).
    public static func redactShapes(_ text: String) -> String {
        guard text.contains("@") || text.contains("password") || text.contains("PASSWORD") else { return text }
        var out = text.replacing(#/(?<head>[A-Za-z][A-Za-z0-9+.\-]*:/+[^\s:/@"']*):[^\s@"']*@/#) { m in
            m.output.head + ":" + mask + "@"
        }
        out = out.replacing(#/(?<key>(?i:ssl)?(?i:password)\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|[^\s&"]+)/#) { m in
            m.output.key + mask
        }
        return out
    }
}

/// What a connection string (a `postgresql://` URI or a `key=value` conninfo) holds, as far as secrets go.
public enum ConnectionString {
    /// libpq keywords whose values are secrets.
    public static let secretKeywords: Set<String> = ["password", "sslpassword"]

    /// Whether the string carries a password (or a key's passphrase). Used to warn when it was given
    /// on the command line, where every user of the machine can read it.
    public static func hasPassword(_ text: String) -> Bool { !secrets(in: text).isEmpty }

    /// The secrets in a connection string: what libpq itself parses out of it, and, for a string
    /// libpq refuses (which is when its error quotes the string), what a lenient reading finds:
    /// the `user:password@` part of anything URI-shaped and the `password=` values, quoted or not,
    /// terminated or not. Each also in its percent-decoded form.
    public static func secrets(in text: String) -> [String] {
        var found = lenientSecrets(in: text)
        found += parsedSecrets(in: text)
        found += found.compactMap(percentDecoded)
        return found.filter { !$0.isEmpty }
    }

    /// libpq's rule for a `dbname` it expands: a conninfo (it has `=`) or a URI; anything else is
    /// a database name, `postgres:/u:pw@host/db` (a mistyped scheme) included.
    public static func isExpandedByLibpq(_ text: String) -> Bool {
        text.contains("=") || text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// Whether libpq parses it (its error, which may quote the string, is dropped unread).
    public static func parses(_ text: String) -> Bool {
        var error: UnsafeMutablePointer<CChar>? = nil
        let options = PQconninfoParse(text, &error)
        if let error { PQfreemem(error) }
        if let options { PQconninfoFree(options) }
        return options != nil
    }

    /// The host, port, database and user a connection string names, for messages; nil when libpq
    /// cannot parse it. Never the password.
    public static func publicParts(of text: String) -> [String: String]? {
        var error: UnsafeMutablePointer<CChar>? = nil
        guard let options = PQconninfoParse(text, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var parts: [String: String] = [:]
        var p = options
        while let keyword = p.pointee.keyword {
            let k = String(cString: keyword)
            if ["host", "hostaddr", "port", "dbname", "user"].contains(k), let v = p.pointee.val { parts[k] = String(cString: v) }
            p += 1
        }
        return parts
    }

    /// libpq's connection keywords (`host`, `port`, `sslmode`, ...): public words, never secrets.
    static var keywords: Set<String> {
        guard let defaults = PQconndefaults() else { return [] }
        defer { PQconninfoFree(defaults) }
        var out: Set<String> = []
        var p = defaults
        while let k = p.pointee.keyword { out.insert(String(cString: k)); p += 1 }
        return out
    }

    /// libpq's own parse (`PQconninfoParse`); nothing when it does not parse. Its error message
    /// is dropped unread: it may quote the string.
    static func parsedSecrets(in text: String) -> [String] {
        var error: UnsafeMutablePointer<CChar>? = nil
        guard let options = PQconninfoParse(text, &error) else {
            if let error { PQfreemem(error) }
            return []
        }
        defer { PQconninfoFree(options) }
        var found: [String] = []
        var p = options
        while let keyword = p.pointee.keyword {
            if secretKeywords.contains(String(cString: keyword)), let value = p.pointee.val {
                found.append(String(cString: value))
            }
            p += 1
        }
        return found
    }

    static func lenientSecrets(in text: String) -> [String] {
        var found: [String] = []
        // URI-shaped (also a mistyped scheme, which libpq takes as a database name and a server
        // then quotes): the userinfo is what precedes the last '@'; its password follows the first ':'.
        if let at = text.lastIndex(of: "@") {
            var userinfo = text[..<at]
            if let r = userinfo.firstRange(of: "://") ?? userinfo.firstRange(of: ":/") { userinfo = userinfo[r.upperBound...] }
            if !userinfo.contains(where: { $0 == " " || $0 == "=" }), let colon = userinfo.firstIndex(of: ":") {
                found.append(String(userinfo[userinfo.index(after: colon)...]))
            }
        }
        // URI query parameters: ?password=...&...
        for m in text.matches(of: #/[?&](?i:ssl)?(?i:password)=(?<value>[^&]*)/#) { found.append(String(m.output.value)) }
        // conninfo: password = value, or password = 'quoted \' value' (to the end when unterminated).
        for m in text.matches(of: #/(?:^|\s)(?i:ssl)?(?i:password)\s*=\s*(?<value>'(?:[^'\\]|\\.)*'?|[^\s']+)/#) {
            var v = Substring(m.output.value)
            if v.first == "'" {
                v = v.dropFirst()
                if v.last == "'" { v = v.dropLast() }
                found.append(unescapedConninfo(v))
            }
            found.append(String(v))
        }
        return found
    }

    static func unescapedConninfo(_ s: Substring) -> String {
        var out = ""
        var escaped = false
        for c in s {
            if escaped { out.append(c); escaped = false } else if c == "\\" { escaped = true } else { out.append(c) }
        }
        return out
    }

    /// `%41` → `A`; nil when there is nothing to decode or the text is not valid percent-encoding.
    static func percentDecoded(_ s: String) -> String? {
        guard s.contains("%") else { return nil }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
