import Foundation
import ListConRankerCUDA

/// Seconds of each phase of a training step, for `train --profile` (written to the log's step
/// lines as `"phases"`): where a step's time goes, on the CPU or on a GPU, without a profiler.
///
/// A lap ends a phase and starts the next. On a GPU each lap first waits for the device, so that
/// a phase is charged for its own kernels rather than for those still queued when it ended; that
/// wait costs a little, which is why profiling is asked for, not always on.
///
/// On a GPU it also times each kernel of the step (`"kernels"`: seconds by kernel name, from events
/// on the device's stream, which do not slow it; `"kernel_launches"`: how many of each): which
/// kernels a phase's time is made of.
final class PhaseClock {
    /// Starting and ending a device's per-kernel timeline (``CUDAKernelTimes``).
    struct KernelTimeline {
        let start: () throws -> Void
        let take: () throws -> CUDAKernelTimes.Profile
    }

    private var seconds: [String: Double] = [:]
    private let waitForDevice: () throws -> Void
    private let kernels: KernelTimeline?
    private var last: UInt64 = 0

    /// A clock that calls `waitForDevice` before reading the time, and times kernels on
    /// `kernels` when given.
    init(waitForDevice: @escaping () throws -> Void, kernels: KernelTimeline? = nil) {
        self.waitForDevice = waitForDevice
        self.kernels = kernels
    }

    /// Starts the step's first phase (and its kernel timeline).
    func start() throws {
        try waitForDevice()
        try kernels?.start()
        last = DispatchTime.now().uptimeNanoseconds
    }

    /// Ends the phase that ran since the last lap (or the start), adding its seconds to `phase`'s.
    func lap(_ phase: String) throws {
        try waitForDevice()
        let now = DispatchTime.now().uptimeNanoseconds
        seconds[phase, default: 0] += Double(now - last) / 1e9
        last = now
    }

    /// The step's seconds per phase, and a fresh count for the next step.
    func take() -> [String: Double] {
        defer { seconds = [:] }
        return seconds
    }

    /// The step's seconds and launches per kernel since ``start()``, as log fields; none without a
    /// kernel timeline.
    func takeKernels() throws -> [String: Any] {
        guard let taken = try kernels?.take() else { return [:] }
        return ["kernels": taken.seconds, "kernel_launches": taken.launches]
    }
}
