import Folders
import Foundation
import Glibc
import Testing

@Suite("Folders: mkdir -p with a mode")
struct FoldersTests {
    private func mode(_ path: String) -> mode_t? {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
    }

    /// Every missing folder gets the mode from mkdir itself; one that exists keeps its own.
    @Test func missingFoldersGetTheModeAndExistingOnesAreLeftAlone() throws {
        let base = FileManager.default.temporaryDirectory.path + "/folders-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let old = umask(0)
        defer { umask(old) }
        #expect(mkdir(base, 0o750) == 0)
        try Folders.make(base + "/a/b/c/", mode: 0o700)
        for folder in ["/a", "/a/b", "/a/b/c"] { #expect(mode(base + folder) == 0o700, "\(folder)") }
        #expect(mode(base) == 0o750)
        try Folders.make(base + "/a/b", mode: 0o755)   // already there: nothing to do
        #expect(mode(base + "/a/b") == 0o700)
        try Folders.makeParent(of: base + "/x/y/buffer.sqlite", mode: 0o700)
        #expect(mode(base + "/x/y") == 0o700)
        #expect(mode(base + "/x/y/buffer.sqlite") == nil)
    }

    /// A failure names the folder that could not be made and says why.
    @Test func aFailureNamesTheFolder() throws {
        let base = FileManager.default.temporaryDirectory.path + "/folders-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(FileManager.default.createFile(atPath: base, contents: Data()))
        #expect {
            try Folders.make(base + "/sub/deeper", mode: 0o700)
        } throws: { error in
            "\(error)" == "cannot create folder \(base)/sub/deeper: Not a directory"
        }
    }
}
