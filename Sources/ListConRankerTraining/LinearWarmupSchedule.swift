/// The learning rate of `transformers.get_linear_schedule_with_warmup`: linear warm-up from 0
/// to the peak over `warmupSteps`, then linear decay to 0 at `totalSteps`.
///
/// Step k (0-based: the k-th optimizer step) uses `peak · k / warmup` while k < warmup, then
/// `peak · max(0, (total − k) / (total − warmup))`. As in transformers, the very first step of a
/// schedule with warm-up has learning rate 0 (it only fills AdamW's moments).
public struct LinearWarmupSchedule: Sendable, Equatable {
    /// The learning rate at the end of warm-up.
    public let peak: Float
    /// Steps of warm-up.
    public let warmupSteps: Int
    /// Steps in the whole run (the rate reaches 0 there).
    public let totalSteps: Int

    /// A schedule; throws unless 0 ≤ warmup ≤ total, total > 0 and the peak is finite and ≥ 0.
    public init(peak: Float, warmupSteps: Int, totalSteps: Int) throws {
        guard peak.isFinite, peak >= 0, warmupSteps >= 0, totalSteps > 0, warmupSteps <= totalSteps else {
            throw TrainingError.invalidInput("schedule needs 0 ≤ warmup (\(warmupSteps)) ≤ total (\(totalSteps)), "
                + "total > 0, peak ≥ 0 (\(peak))")
        }
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The learning rate of optimizer step `step` (0-based).
    public func learningRate(atStep step: Int) -> Float {
        if step < warmupSteps { return Float(Double(peak) * Double(step) / Double(max(1, warmupSteps))) }
        let remaining = Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps))
        return Float(Double(peak) * max(0, remaining))
    }
}
