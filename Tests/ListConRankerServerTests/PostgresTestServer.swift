import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL server of tools/ci/start-postgres.sh, found as the store tests find it
/// (Tests/ListConRankerStoreTests/PostgresTestEnvironment.swift; a test target cannot import
/// another's support code): skipped locally without `LISTCONRANKER_TEST_POSTGRES_URL`, required
/// (and failing when missing) under CI.
enum PostgresTestServer {
    private static var environment: [String: String] { ProcessInfo.processInfo.environment }
    private static func value(_ name: String) -> String? {
        guard let value = environment[name], !value.isEmpty else { return nil }
        return value
    }

    static var isCI: Bool { value("CI") != nil }
    static var url: String? { value("LISTCONRANKER_TEST_POSTGRES_URL") }
    static var stopCommand: String? { value("LISTCONRANKER_TEST_POSTGRES_STOP") }
    static var startCommand: String? { value("LISTCONRANKER_TEST_POSTGRES_START") }

    static var shouldRun: Bool { url != nil || isCI }
    static var shouldRunOutage: Bool { (url != nil && stopCommand != nil && startCommand != nil) || isCI }

    static let missingMessage = "CI is set but LISTCONRANKER_TEST_POSTGRES_URL is not: source the file tools/ci/start-postgres.sh writes before swift test"
    static let missingOutageMessage = "CI is set but LISTCONRANKER_TEST_POSTGRES_STOP and _START are not: tools/ci/start-postgres.sh writes them"

    /// Runs `command` with /bin/sh and waits for it; throws when it exits non-zero.
    ///
    /// posix_spawn and waitpid rather than Foundation's Process: a server the command starts in
    /// the background inherits Process's pipe, and `waitUntilExit` would wait for the server.
    static func run(_ command: String) throws {
        var pid = pid_t()
        let arguments = ["/bin/sh", "-c", command]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ)
        guard spawned == 0 else { throw CommandFailed(command: command, status: Int32(spawned)) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        if status != 0 { throw CommandFailed(command: command, status: status) }
    }

    struct CommandFailed: Error, CustomStringConvertible {
        let command: String
        let status: Int32
        var description: String { "`\(command)` failed (wait status \(status))" }
    }
}
