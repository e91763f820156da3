import Foundation

/// Runs a program to completion with both outputs captured: the built `svcunit`, Python helpers,
/// witnesses. Not product code.
public enum TestProcess {
    /// Runs `executable` with exactly `environment`, in `directory`, stdin from /dev/null.
    /// Both pipes are read at once, so a chatty stderr cannot block the child.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String],
                           directory: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        nonisolated(unsafe) var stderrData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            stderrData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderrData, as: UTF8.self))
    }
}
