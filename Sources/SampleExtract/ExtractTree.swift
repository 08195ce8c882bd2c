// The folders of the tree being written and the files in them: creates each folder once, opens each
// file under the snapshot's file name, and counts what was written.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Extract
import Folders

final class ExtractTree {
    let root: String
    /// The name of every file of the snapshot: its extraction time.
    let fileName: String
    private(set) var summary: SampleSummary
    /// Folders known to exist, so that each is created (or found) with one system call.
    private var folders: Set<String> = []

    init(root: String, fileName: String) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        self.fileName = fileName
        var rows: [Resource: Int] = [:]
        for resource in Resource.allCases { rows[resource] = 0 }
        summary = SampleSummary(files: 0, rows: rows, totalRows: 0)
    }

    /// Creates the root folder (and any missing parent).
    func makeRoot() throws { try makeFolder(root) }

    /// Opens `<folder>/<fileName>` for a resource, creating the folder.
    func open(_ folder: String, _ resource: Resource) throws -> ResourceFile {
        try ResourceFile(path: try path(folder), resource: resource)
    }

    /// Opens `<folder>/<fileName>` with columns of its own (a file no schema describes).
    func open(_ folder: String, columns: [String]) throws -> ResourceFile {
        try ResourceFile(path: try path(folder), resource: nil, columns: columns)
    }

    /// Completes a file and counts it (and its rows, if it is a resource's).
    func close(_ file: ResourceFile) throws {
        try file.finish()
        summary.files += 1
        if let resource = file.resource {
            summary.rows[resource, default: 0] += file.rows
            summary.totalRows += file.rows
        }
    }

    private func path(_ folder: String) throws -> String {
        try makeFolder(root + "/" + folder)
        return root + "/" + folder + "/" + fileName
    }

    private func makeFolder(_ path: String) throws {
        if path.isEmpty || folders.contains(path) { return }
        do {
            try Folders.make(path, mode: 0o755)
        } catch {
            throw SampleError(error.description)
        }
        folders.insert(path)
    }
}
