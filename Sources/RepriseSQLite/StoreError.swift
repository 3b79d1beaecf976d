import RepriseCore
import RepriseStorage

extension RepriseError {
    static func noUser(_ name: String) -> RepriseError { RepriseError(.notFound, "no user named '\(name)'") }
}
