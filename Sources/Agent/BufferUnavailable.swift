import Buffer
import Foundation
import Glibc

/// The buffer cannot be written: a fault of its environment (disk full, I/O, permission), not of
/// the data. Its message names the buffer, and for a full disk the file system and its free space,
/// so that the operator knows what to grow.
public struct BufferUnavailable: Error, CustomStringConvertible {
    /// What cannot be written and why, with the file system's room when the disk is full.
    public let message: String
    /// The message.
    public var description: String { message }
}

extension LMSAgent {
    /// The operator's message for a fault of the buffer's environment, or nil for any other error.
    func bufferUnavailable(_ error: any Error) -> String? {
        if let e = error as? BufferUnavailable { return e.message }
        guard let fault = Buffer.environmentFault(error) else { return nil }
        var message = "the buffer \(buffer.path) cannot be written: \(fault)"
        if let room = FileSystemRoom(of: buffer.path), room.freeBytes < 1 << 20 || fault.contains("full") {
            message += " (\(room))"
        }
        return message
    }
}

/// The file system a file lives on: where it is mounted and how much room is left.
struct FileSystemRoom: CustomStringConvertible {
    let mountPoint: String
    let freeBytes: Int
    let sizeBytes: Int

    init?(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        var fs = statvfs()
        var st = stat()
        guard statvfs(dir, &fs) == 0, stat(dir, &st) == 0 else { return nil }
        freeBytes = Int(fs.f_bavail) * Int(fs.f_frsize)
        sizeBytes = Int(fs.f_blocks) * Int(fs.f_frsize)
        // The mount point: the highest folder above `dir` on the same device.
        var top = dir
        while top != "/" {
            let parent = (top as NSString).deletingLastPathComponent
            var up = stat()
            guard stat(parent.isEmpty ? "/" : parent, &up) == 0, up.st_dev == st.st_dev else { break }
            top = parent.isEmpty ? "/" : parent
        }
        mountPoint = top
    }

    var description: String {
        "the file system on \(mountPoint) has \(FileSystemRoom.size(freeBytes)) free of \(FileSystemRoom.size(sizeBytes))"
    }

    static func size(_ bytes: Int) -> String {
        if bytes >= 10 << 30 { return "\(bytes >> 30) GiB" }
        if bytes >= 10 << 20 { return "\(bytes >> 20) MiB" }
        return "\(bytes >> 10) KiB"
    }
}
