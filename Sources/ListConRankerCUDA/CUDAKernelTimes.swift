import CCUDA
import Foundation

/// Where a GPU's time goes, kernel by kernel, for `train --profile`: while armed, an event is
/// recorded on the device's stream after every kernel, every product, every clearing of new memory
/// (`memset`) and every copy to the device (`copy_to_device`), so the time between two consecutive
/// events is the later one's (with any time the GPU sat waiting for the host to enqueue it). Events
/// cost the host about a microsecond each and the GPU nothing measurable, so the step's own speed
/// stands.
package final class CUDAKernelTimes: @unchecked Sendable {
    /// A timeline's seconds and launches by name (products as `cublaslt_gemm_f32`, …).
    package struct Profile: Sendable {
        /// Seconds summed over each name's runs.
        package var seconds: [String: Double] = [:]
        /// How many times each name ran: with the seconds, whether a step is made of a few long
        /// kernels or of many short ones whose launches the host cannot keep up with.
        package var launches: [String: Int] = [:]
    }

    private let lock = NSLock()
    private var armed = false
    /// Created as needed and reused from step to step.
    private var events: [UnsafeMutableRawPointer] = []
    /// `names[i]` ran between `events[i]` and `events[i + 1]`.
    private var names: [String] = []

    deinit {
        for event in events { lcr_cuda_event_destroy(event) }
    }

    /// Starts a timeline on `stream`: the first event, then one after each ``enqueued(_:on:)``.
    func start(on stream: UnsafeMutableRawPointer) throws {
        try lock.withLock {
            names = []
            armed = true
            try record(0, on: stream)
        }
    }

    /// Notes that `name` was just enqueued on `stream` (nothing when no timeline runs: the name is
    /// not even built, as this runs after every launch).
    func enqueued(_ name: @autoclosure () -> String, on stream: UnsafeMutableRawPointer) throws {
        try lock.withLock {
            guard armed else { return }
            names.append(name())
            try record(names.count, on: stream)
        }
    }

    /// Ends the timeline: waits for `stream`, then gives each name's seconds, summed over its runs,
    /// and its number of runs.
    func take(waitingFor stream: UnsafeMutableRawPointer) throws -> Profile {
        try lock.withLock {
            guard armed else { return Profile() }
            armed = false
            try cudaCall("waiting for the GPU") { lcr_cuda_stream_synchronize(stream, $0, $1) }
            var profile = Profile()
            for (i, name) in names.enumerated() {
                var milliseconds: Float = 0
                try cudaCall("reading a kernel's time") {
                    lcr_cuda_event_elapsed(&milliseconds, events[i], events[i + 1], $0, $1)
                }
                profile.seconds[name, default: 0] += Double(milliseconds) / 1000
                profile.launches[name, default: 0] += 1
            }
            return profile
        }
    }

    private func record(_ index: Int, on stream: UnsafeMutableRawPointer) throws {
        while events.count <= index {
            var event: UnsafeMutableRawPointer?
            try cudaCall("creating a timing event") { lcr_cuda_event_create(&event, $0, $1) }
            events.append(event!)
        }
        try cudaCall("recording a timing event") { lcr_cuda_event_record(events[index], stream, $0, $1) }
    }
}

extension CUDADevice {
    /// Starts timing every kernel and product enqueued from now on (``CUDAKernelTimes``).
    package func startTimingKernels() throws {
        try bind()
        try kernelTimes.start(on: stream)
    }

    /// Stops timing: each kernel's seconds and launches since ``startTimingKernels()`` by name
    /// (products as `cublaslt_gemm_f32` or `cublaslt_gemm_bf16`), once the GPU has run them.
    package func takeKernelProfile() throws -> CUDAKernelTimes.Profile {
        try bind()
        return try kernelTimes.take(waitingFor: stream)
    }
}
