import Hummingbird
import Logging

/// Outermost middleware: turns every error into the JSON error body, counts every request by
/// route and status, and records its latency.
struct ServiceMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            let serviceError = ServiceError(answering: error)
            if serviceError.status.code >= 500 || serviceError.kind == .backend {
                context.logger.error("Request failed", metadata: ["error": "\(serviceError)"])
            } else {
                context.logger.debug("Request refused", metadata: ["error": "\(serviceError)"])
            }
            response = try serviceError.response(from: request, context: context)
        }
        // Only matched routes become label values; anything else would let clients grow the
        // metric set without bound.
        metrics.recordRequest(
            route: context.endpointPath ?? "unmatched",
            method: request.method.rawValue,
            status: response.status.code,
            duration: ContinuousClock.now - start)
        return response
    }
}

extension ServiceError {
    /// The JSON error for any error a handler throws: ours as they are, Hummingbird's (404, …) with
    /// their status, anything else as a 500.
    init(answering error: any Error) {
        switch error {
        case let error as ServiceError:
            self = error
        case let error as HTTPError:
            self.init(
                status: error.status, kind: .validation,
                message: error.body ?? error.status.reasonPhrase)
        case let error as any HTTPResponseError:
            self.init(status: error.status, kind: .validation, message: error.status.reasonPhrase)
        default:
            self.init(status: .internalServerError, kind: .backend, message: "Internal error: \(error)")
        }
    }
}
