import Foundation
import Testing
@testable import ListConRankerTraining

/// Comparing a resumed run's settings with the saved ones: a value that cannot be encoded is an
/// error, never "no differences".
@Suite struct TrainingConfigurationTests {
    @Test func namesEachChangedSetting() throws {
        var changed = TrainingConfiguration()
        changed.epochs = 7
        #expect(try changed.differences(from: TrainingConfiguration()) == ["epochs: 4 → 7"])
        #expect(try TrainingConfiguration().differences(from: TrainingConfiguration()).isEmpty)
    }

    /// The precision is one of a run's settings: a stage-2 run trained with bf16 products cannot be
    /// resumed in fp32 (nor the other way), since `TrainingOutput.check` refuses any difference.
    @Test func precisionIsASettingOfTheRun() throws {
        var bf16 = TrainingConfiguration()
        bf16.stage = 2
        bf16.precision = .bf16
        var fp32 = bf16
        fp32.precision = .fp32
        #expect(try fp32.differences(from: bf16) == ["precision: bf16 → fp32"])
    }

    /// Two settings that JSON cannot encode (NaN) and that differ in `epochs`: before, both
    /// encodings failed silently and the comparison reported no difference.
    @Test func unencodableSettingsThrowInsteadOfComparingEqual() {
        var saved = TrainingConfiguration()
        saved.learningRate = .nan
        var resumed = saved
        resumed.epochs = 9
        #expect(throws: TrainingError.self) { try resumed.differences(from: saved) }
    }
}
