import Foundation
import RepriseCore
import Testing

/// The hand-rolled UTC formatter against Foundation's (from 1583: before the Gregorian reform
/// Foundation counts Julian days, ISO 8601 keeps the Gregorian calendar), and at the edges of its range.
@Suite struct ISO8601Tests {
    @Test func matchesFoundationAcrossTheCalendar() {
        var rng = SystemRandomNumberGenerator()
        var samples: [Int64] = [0, 1, -1, 999, -999, 1_000, -1_000, 86_399_999, -86_400_000, 951_782_400_000, 1_796_558_400_000, 4_107_542_399_999, -2_208_988_800_000]
        for _ in 0..<2_000 { samples.append(Int64.random(in: -12_212_553_600_000...253_402_300_799_999, using: &rng)) }
        for ms in samples {
            let seconds = (Double(ms) / 1000).rounded(.down)
            #expect(ISO8601.utc(ms) == Date(timeIntervalSince1970: seconds).formatted(.iso8601), "\(ms)")
        }
    }

    @Test func anyInputStaysInYearsOneToNineThousandNineHundredNinetyNine() {
        #expect(ISO8601.utc(.max) == "9999-12-31T23:59:59Z")
        #expect(ISO8601.utc(.min) == "0001-01-01T00:00:00Z")
        #expect(ISO8601.utc(1_796_558_400_000) == "2026-12-06T12:00:00Z")
        // Proleptic Gregorian before 1583, as ISO 8601 has it: Python's datetime counts the same way.
        #expect(ISO8601.utc(-27_083_289_600_000) == "1111-10-08T00:00:00Z")
    }
}
