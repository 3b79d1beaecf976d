#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// HTTP-date formatting and parsing (RFC 9110 §5.6.7), in UTC epoch milliseconds, second precision.
public enum HTTPDate {
    private static let dayNames = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    private static let longDayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Formats epoch milliseconds as IMF-fixdate, dropping the sub-second part.
    ///
    ///     HTTPDate.format(epochMs: 784_111_777_000)  // "Sun, 06 Nov 1994 08:49:37 GMT"
    public static func format(epochMs: Int64) -> String {
        let seconds = floorDiv(epochMs, 1000)
        let days = floorDiv(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        // 1970-01-01 was a Thursday (index 3 with Monday = 0).
        let weekday = Int(((days % 7) + 7 + 3) % 7)
        return "\(dayNames[weekday]), \(pad2(day)) \(monthNames[month - 1]) \(pad4(year)) "
            + "\(pad2(Int(secondOfDay / 3600))):\(pad2(Int(secondOfDay / 60 % 60))):\(pad2(Int(secondOfDay % 60))) GMT"
    }

    /// Parses IMF-fixdate, RFC 850 or asctime into epoch milliseconds; nil when invalid.
    ///
    /// RFC 850's two-digit year is resolved as RFC 9110 asks: a year more than 50 years after
    /// `nowMs` means the previous century.
    public static func parse(_ text: String, nowMs: Int64? = nil) -> Int64? {
        let value = trimOWS(Substring(text))
        let tokens = value.split(whereSeparator: { $0 == " " }).map(String.init)
        if tokens.count == 6, tokens[0].hasSuffix(","), dayNames.contains(String(tokens[0].dropLast())), tokens[5] == "GMT" {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            guard tokens[1].count == 2, let day = Int(digits: tokens[1]),
                  let month = monthNames.firstIndex(of: tokens[2]),
                  tokens[3].count == 4, let year = Int(digits: tokens[3]) else { return nil }
            return make(year: year, month: month + 1, day: day, time: tokens[4])
        }
        if tokens.count == 4, tokens[0].hasSuffix(","), longDayNames.contains(String(tokens[0].dropLast())), tokens[3] == "GMT" {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let parts = tokens[1].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, parts[0].count == 2, let day = Int(digits: parts[0]),
                  let month = monthNames.firstIndex(of: parts[1]),
                  parts[2].count == 2, let yy = Int(digits: parts[2]) else { return nil }
            let currentYear = civil(fromDays: floorDiv(floorDiv(nowMs ?? currentEpochMs(), 1000), 86_400)).year
            var year = currentYear - currentYear % 100 + yy
            if year > currentYear + 50 { year -= 100 }
            return make(year: year, month: month + 1, day: day, time: tokens[2])
        }
        if tokens.count == 5, dayNames.contains(tokens[0]) {
            // asctime: Sun Nov  6 08:49:37 1994 (day padded with a space, hence the split above)
            guard let month = monthNames.firstIndex(of: tokens[1]),
                  (1...2).contains(tokens[2].count), let day = Int(digits: tokens[2]),
                  tokens[4].count == 4, let year = Int(digits: tokens[4]) else { return nil }
            return make(year: year, month: month + 1, day: day, time: tokens[3])
        }
        return nil
    }

    private static func make(year: Int, month: Int, day: Int, time: String) -> Int64? {
        let hms = time.split(separator: ":", omittingEmptySubsequences: false)
        guard hms.count == 3, hms.allSatisfy({ $0.count == 2 }),
              let h = Int(digits: String(hms[0])), let m = Int(digits: String(hms[1])), let s = Int(digits: String(hms[2])),
              h < 24, m < 60, s < 61 else { return nil }
        guard day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return (days * 86_400 + Int64(h * 3600 + m * 60 + s)) * 1000
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days.
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    private static func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    private static func pad4(_ n: Int) -> String { String(repeating: "0", count: max(0, 4 - String(n).count)) + String(n) }
}

/// Returns the current time in UTC epoch milliseconds (only used for RFC 850 year resolution by default).
func currentEpochMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

extension Int {
    /// Parses ASCII digits only (no sign, no spaces).
    init?(digits: String) {
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = Int(digits) else { return nil }
        self = v
    }
}
