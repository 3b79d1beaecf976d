/// The Ampache parameter parsers, exposed for the fuzz targets (`make fuzz`).
public enum AmpacheParserEntryPoints {
    /// A form-encoded body or query string, then the checks numeric parameters get.
    public static func form(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for (k, v) in Params.form(text) { values[k] = v }
        let p = Params(values: values)
        _ = p.flag("stream")
        for key in ["limit", "offset", "timestamp", "oid", "filter"] { _ = p[key].flatMap { Int64($0) } }
        return values
    }

    /// The parameters of a `/play/index.php` URL, path and query forms.
    public static func playURL(_ url: String) -> [String: String] {
        AmpacheAPI.playParams(url)
    }
}
