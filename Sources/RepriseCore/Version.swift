/// The version Reprise reports in `--version`, `/healthz` and API handshakes.
public enum Reprise {
    public static let version = "0.1.0"
}
