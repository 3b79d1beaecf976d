/// Parses durations written as integer seconds or with a unit: `90`, `90s`, `5m`, `1h`, `30d`, `500ms`.
public enum DurationText {
    /// The duration in milliseconds, or nil when the text is not a duration.
    ///
    /// ```swift
    /// DurationText.milliseconds("5m") // 300_000
    /// ```
    public static func milliseconds(_ text: String) -> Int64? {
        let t = text.trimmingCharactersInSet(" \t")
        guard !t.isEmpty else { return nil }
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        var digits = Substring(t)
        var factor: Int64 = 1000
        for (suffix, f) in units where t.hasSuffix(suffix) {
            digits = t.dropLast(suffix.count)
            factor = f
            break
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int64(digits) else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: factor)
        return overflow ? nil : v
    }

    /// Formats milliseconds in the largest whole unit: `300000` -> `5m`.
    public static func format(ms: Int64) -> String {
        for (suffix, f) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where ms >= f && ms % f == 0 {
            return "\(ms / f)\(suffix)"
        }
        return "\(ms)ms"
    }
}

extension String {
    func trimmingCharactersInSet(_ chars: String) -> String {
        var s = Substring(self)
        while let c = s.first, chars.contains(c) { s = s.dropFirst() }
        while let c = s.last, chars.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
