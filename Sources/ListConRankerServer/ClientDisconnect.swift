import Foundation
import Hummingbird
import NIOCore

/// The request context of the service's routes: Hummingbird's basic one plus the connection's
/// channel, so that a request can be cancelled when its client goes away
/// (``cancellingOnDisconnect(_:)``).
public struct ServiceRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The connection the request came on.
    let channel: any Channel

    /// The context of a request on `source`'s connection.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Runs `operation`, cancelling it if the client closes the connection first (a queued
    /// request then gives its place back at once, see `InferenceQueue`). Hummingbird does not
    /// cancel a handler whose client went away; its `consumeWithCancellationOnInboundClose` would,
    /// but it ends every connection after its response (no keep-alive). ``DisconnectWatcher``, in
    /// the connection's pipeline, sees the client's end of input without taking over the stream.
    /// Without a watcher (the router test client) `operation` just runs.
    func cancellingOnDisconnect<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let watcher = try? await channel.pipeline.handler(type: DisconnectWatcher.self).get() else {
            return try await operation()
        }
        let task = Task { try await operation() }
        let key = watcher.onDisconnect { task.cancel() }
        defer { if let key { watcher.forget(key) } }
        return try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }
}

/// In each connection's pipeline: runs the registered actions once when the client closes its
/// side (TCP FIN, which the server's half-closure turns into an `inputClosed` event) or the
/// connection drops. A FIN cannot be told from a client that only shuts down its sending side
/// and still waits for the answer (`shutdown(SHUT_WR)`, which HTTP clients do not do): such a
/// request is cancelled too.
final class DisconnectWatcher: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny

    private let lock = NSLock()
    private var disconnected = false
    private var actions: [Int: @Sendable () -> Void] = [:]
    private var nextKey = 0

    /// Registers `action` to run when the client goes away; runs it now, and returns nil, when it
    /// already has. The key is for ``forget(_:)``.
    func onDisconnect(_ action: @escaping @Sendable () -> Void) -> Int? {
        let key: Int? = lock.withLock {
            guard !disconnected else { return nil }
            nextKey += 1
            actions[nextKey] = action
            return nextKey
        }
        if key == nil { action() }
        return key
    }

    /// Drops the action registered under `key` (its request has finished).
    func forget(_ key: Int) {
        _ = lock.withLock { actions.removeValue(forKey: key) }
    }

    private func clientWentAway() {
        let pending: [@Sendable () -> Void] = lock.withLock {
            disconnected = true
            defer { actions.removeAll() }
            return Array(actions.values)
        }
        for action in pending { action() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { clientWentAway() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientWentAway()
        context.fireChannelInactive()
    }
}
