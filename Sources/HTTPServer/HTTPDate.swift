#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `Date` header value (RFC 9110 §5.6.7, IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// Formatting costs a `gmtime_r` and a string build, so the text is cached for the current
/// second; the cache is shared by every connection and guarded by a mutex.
enum HTTPDate {
    private static let cache = Locked<(second: Int, text: String)>((second: -1, text: ""))
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The current time as an IMF-fixdate.
    static func now() -> String {
        let second = Int(time(nil))
        if let cached = cache.withLock({ $0.second == second ? $0.text : nil }) {
            return cached
        }
        let text = format(secondsSinceEpoch: second)
        cache.withLock { $0 = (second, text) }
        return text
    }

    /// `secondsSinceEpoch` (UTC) as an IMF-fixdate.
    static func format(secondsSinceEpoch: Int) -> String {
        var seconds = time_t(secondsSinceEpoch)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekdays[Int(parts.tm_wday)]), \(twoDigits(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
            + "\(parts.tm_year + 1900) \(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) GMT"
    }
}
