import Foundation
import RepriseConfig
import RepriseCore

/// The key that seals client passwords: `secret.key` (`REPRISE_SECRET_KEY`), else the file
/// `secret.key` beside the database, 32 random bytes created at first start, mode 0600.
enum SecretKeyFile {
    static func box(_ settings: RepriseSettings) throws -> SecretBox {
        if let text = settings.secretKey { return try SecretBox(text: text) }
        let path = settings.dataDirectory + "/secret.key"
        try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
        for _ in 0..<2 {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 {
                var rng = SystemRandomNumberGenerator()
                let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
                let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, 32) }
                close(fd)
                guard written == 32 else { throw RepriseError(.config, "cannot write the secret key \(path)") }
                return try SecretBox(key: bytes)
            }
            guard errno == EEXIST else { throw RepriseError(.config, "cannot create the secret key \(path): \(String(cString: strerror(errno)))") }
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            // Readable by its owner only, whoever created it.
            _ = chmod(path, 0o600)
            if data.count == 32 { return try SecretBox(key: [UInt8](data)) }
            guard let text = String(data: data, encoding: .utf8) else { break }
            return try SecretBox(text: text)
        }
        throw RepriseError(.config, "the secret key \(path) is unreadable or not 32 bytes; restore it (client passwords sealed with it are lost otherwise) or remove it to make a new one")
    }
}
