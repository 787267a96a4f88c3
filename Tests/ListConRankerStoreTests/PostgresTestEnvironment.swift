import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL server the tests use, as `tools/ci/start-postgres.sh` describes it.
///
/// Locally, without `LISTCONRANKER_TEST_POSTGRES_URL`, the PostgreSQL tests are skipped. Under CI
/// (`CI` set) they run regardless and fail with a message naming the missing variable, so a CI
/// that forgot to start the server cannot pass by skipping them.
enum PostgresTestEnvironment {
    static let urlVariable = "LISTCONRANKER_TEST_POSTGRES_URL"
    static let stopVariable = "LISTCONRANKER_TEST_POSTGRES_STOP"
    static let startVariable = "LISTCONRANKER_TEST_POSTGRES_START"

    private static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static var isCI: Bool { !(environment["CI"] ?? "").isEmpty }

    /// The server's URL, if one was given.
    static var url: String? { nonEmpty(environment[urlVariable]) }

    /// Shell commands that stop and start the server, for the outage test.
    static var stopCommand: String? { nonEmpty(environment[stopVariable]) }
    static var startCommand: String? { nonEmpty(environment[startVariable]) }

    /// Whether the PostgreSQL tests run: a URL was given, or CI requires them.
    static var shouldRun: Bool { url != nil || isCI }
    /// Whether the outage test runs: stop and start commands were given, or CI requires it.
    static var shouldRunOutage: Bool { (url != nil && stopCommand != nil && startCommand != nil) || isCI }

    static let missingMessage = "CI is set but \(urlVariable) is not: source the file tools/ci/start-postgres.sh writes before swift test"
    static let missingOutageMessage = "CI is set but \(stopVariable) and \(startVariable) are not: tools/ci/start-postgres.sh writes them"

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}

/// Runs `command` with /bin/sh and waits for it; throws when it exits non-zero.
///
/// posix_spawn and waitpid rather than Foundation's Process: on Linux, Process learns that a child
/// ended when a socket the child inherited closes, and a server that the command starts in the
/// background inherits that socket too, so `waitUntilExit` would wait for the server to stop.
func runShell(_ command: String) throws {
    var pid = pid_t()
    let arguments = ["/bin/sh", "-c", command]
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ)
    guard spawned == 0 else { throw ShellError(command: command, status: Int32(spawned)) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    // Exited normally with code 0: the low 7 bits (the signal) are 0 and so is the exit code.
    if status != 0 {
        throw ShellError(command: command, status: status)
    }
}

struct ShellError: Error, CustomStringConvertible {
    let command: String
    let status: Int32
    var description: String { "`\(command)` failed (wait status \(status))" }
}
