import Agent
import ArgumentParser

struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a rejected (or superseded) file back in line: staged rows are forwarded again, bad input is read again.",
        discussion: exitCodesHelp)

    @OptionGroup var options: BufferOptions
    @Argument(help: "The file's id (see `inspect files`).") var id: Int64

    func run() throws {
        try options.withAgent(for: .retry) { agent in
            switch try agent.retry(id: id) {
            case .requeued:
                print("file \(id) is staged again; `lms-agent resume` (or the next flush or watch round) forwards it")
            case .goneFromExtract(let path):
                print("file \(id) was forgotten; \(path) is no longer in the extract, so nothing is read")
            case .restaged(let path, let newId, let rows):
                print("\(path) read again: staged as file \(newId) with \(rows) rows; `lms-agent resume` forwards it")
            case .rejectedAgain(let path, let newId, let error):
                print("\(path) is still rejected (file \(newId)): \(error)")
                return .rejectedFiles
            case .notStaged(let path, let result):
                print("\(path): \(result)")
            }
            return .success
        }
    }
}

struct Release: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Release a file held by the mass-delete guard: the next resume, flush or watch round applies it, whatever it deletes.",
        discussion: exitCodesHelp)

    @OptionGroup var options: BufferOptions
    @Argument(help: "The held file's id (see `inspect files --state held`).") var id: Int64

    func run() throws {
        try options.withAgent(for: .release) { agent in
            let f = try agent.release(id: id)
            print("file \(id) (\(f.path)) is released; `lms-agent resume` (or the next flush or watch round) applies it with its deletions")
            return .success
        }
    }
}
