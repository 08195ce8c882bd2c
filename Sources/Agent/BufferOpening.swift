import Buffer
import Extract
import Foundation
import Logging

extension LMSAgent {
    /// Opens the buffer at `path`, checking it first. A corrupt buffer (SQLite cannot read it, or
    /// its pages do not check out) is moved aside to `<path>.corrupt-<time>` and replaced by a new
    /// one when `rebuild` is set: `flush` and `watch` read the extract, and the LMS-DS's
    /// ProcessedFiles tells which of its files are applied already, so the new buffer loses nothing
    /// the extract still has. Other commands report the damage and leave the file alone.
    ///
    /// Returns the buffer and whether it was created now.
    static func openBuffer(at path: String, extractRoot: String?, create: Bool, rebuild: Bool, registry: ResourceRegistry,
                           logger: Logger) throws -> (Buffer, Bool) {
        if let damage = Buffer.damage(at: path) {
            guard rebuild, extractRoot != nil else {
                throw AgentError.config("""
                    the buffer \(path) is corrupt (\(damage)). `lms-agent flush` (or `watch`) moves it aside and builds a new one \
                    from the extract and the LMS-DS's ProcessedFiles
                    """)
            }
            let aside = try Buffer.moveAside(path)
            logger.error("""
                the buffer \(path) is corrupt (\(damage)): it is moved aside to \(aside) and a new buffer is built from the extract \
                and the LMS-DS's ProcessedFiles. Files the LMS-DS already has are not applied again; files that were staged but \
                not yet forwarded are read again from the extract (what the extract no longer has was only in the old buffer)
                """)
        }
        let isNew = !FileManager.default.fileExists(atPath: path)
        if isNew && create { logger.info("creating the buffer \(path)") }
        do {
            return (try Buffer(path: path, extractRoot: extractRoot, create: create, registry: registry), isNew)
        } catch {
            guard let why = Buffer.environmentFault(error) else { throw error }
            throw AgentError.config("cannot open the buffer \(path): \(why)")
        }
    }
}
