import Testing
@testable import ListConRankerStore

@Suite("--store locations")
struct FeatureStoreLocationTests {
    @Test func pathsAndSqlitePrefixAreSQLite() throws {
        #expect(try FeatureStoreLocation(parsing: "features.sqlite") == .sqlite(path: "features.sqlite"))
        #expect(try FeatureStoreLocation(parsing: "/var/lib/lcr/f.db") == .sqlite(path: "/var/lib/lcr/f.db"))
        #expect(try FeatureStoreLocation(parsing: "sqlite:features.sqlite") == .sqlite(path: "features.sqlite"))
        #expect(try FeatureStoreLocation(parsing: "sqlite:///tmp/f.sqlite") == .sqlite(path: "/tmp/f.sqlite"))
    }

    @Test func postgresURLsArePostgres() throws {
        let url = "postgres://lcr:s%40cret@db.internal:6543/features?sslmode=disable"
        #expect(try FeatureStoreLocation(parsing: url) == .postgres(url: url))
        #expect(try FeatureStoreLocation(parsing: "postgresql://u@localhost/db") == .postgres(url: "postgresql://u@localhost/db"))
        let settings = try PostgresSettings(url: url)
        #expect(settings.host == "db.internal")
        #expect(settings.port == 6543)
        #expect(settings.username == "lcr")
        #expect(settings.password == "s@cret")
        #expect(settings.database == "features")
        #expect(settings.sslMode == .disable)
        // The password never appears in what is printed.
        #expect(try FeatureStoreLocation(parsing: url).description == "postgres://lcr@db.internal:6543/features")
        #expect(try PostgresSettings(url: "postgres://u@h/d").sslMode == .prefer)
        #expect(try PostgresSettings(url: "postgres://u@h/d?sslmode=verify-full").sslMode == .verify)
    }

    @Test func malformedLocationsAreRefused() {
        for bad in ["", "  ", "sqlite:", "postgress://u@h/db", "mysql://u@h/db", "postgres://h/db", "postgres:///db",
                    "postgres://u@h/db?sslmode=sometimes"] {
            #expect(throws: FeatureStoreError.self, "\(bad)") { try FeatureStoreLocation(parsing: bad) }
        }
    }
}
