/// What ``FeatureStore/integrityCheck()`` found.
public struct IntegrityReport: Sendable, Equatable {
    /// Entries the check looked at.
    public var entryCount: Int
    /// Ids whose stored vector does not have the store's dimension × precision bytes, or whose
    /// text hash is empty (at most ``maximumListed`` of them; ``malformedCount`` counts all).
    public var malformedIDs: [String]
    /// How many entries are malformed in all.
    public var malformedCount: Int
    /// What the database engine's own check reported beyond "ok" (SQLite's `PRAGMA integrity_check`).
    public var engineProblems: [String]

    /// How many malformed ids a report lists by name.
    public static let maximumListed = 100

    /// A report.
    public init(entryCount: Int, malformedIDs: [String], malformedCount: Int, engineProblems: [String]) {
        self.entryCount = entryCount
        self.malformedIDs = malformedIDs
        self.malformedCount = malformedCount
        self.engineProblems = engineProblems
    }

    /// True when nothing is malformed and the engine reported no problem.
    public var isHealthy: Bool { malformedCount == 0 && engineProblems.isEmpty }
}
