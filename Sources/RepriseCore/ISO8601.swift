/// UTC timestamps as ISO 8601 text (`2026-12-06T12:00:00Z`), from epoch milliseconds, without Foundation's
/// formatters (a list of 500 songs formats a thousand of them); any input is clamped to years 1-9999.
///
/// ```swift
/// ISO8601.utc(1_796_558_400_000)  // "2026-12-06T12:00:00Z"
/// ```
public enum ISO8601 {
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in epoch milliseconds.
    static let range: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    public static func utc(_ ms: Int64) -> String {
        let ms = min(max(ms, range.lowerBound), range.upperBound)
        // Floor division, so times before 1970 land on the right day and second.
        let secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let second = secs - days * 86_400
        // Days to a civil date (H. Hinnant's algorithm), in a range where nothing overflows.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        var out = ""
        out.reserveCapacity(20)
        func two(_ n: Int64) { if n < 10 { out += "0" }; out += String(n) }
        let y = String(year)
        out += String(repeating: "0", count: max(0, 4 - y.count)) + y
        out += "-"; two(month); out += "-"; two(day)
        out += "T"; two(second / 3_600); out += ":"; two(second / 60 % 60); out += ":"; two(second % 60)
        out += "Z"
        return out
    }
}
