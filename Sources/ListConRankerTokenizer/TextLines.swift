/// Splits the bytes of a text file into lines, checking that each is valid UTF-8, for tools that
/// read one text per line.
public enum TextLines {
    /// The `\n`-separated lines of `bytes` (a trailing `\n` does not start another line; `\r` is
    /// kept, as the tokenizer treats it as whitespace anyway).
    ///
    /// - Parameter source: the file's name for error messages (e.g. `"<stdin>"`).
    /// - Throws: ``TokenizerError/invalidUTF8(path:line:)`` with the first bad line's number (from 1).
    public static func split(_ bytes: [UInt8], source: String) throws -> [String] {
        var lines: [String] = []
        var lineStart = 0
        while lineStart < bytes.count {
            let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            guard let line = String(validating: bytes[lineStart..<lineEnd], as: UTF8.self) else {
                throw TokenizerError.invalidUTF8(path: source, line: lines.count + 1)
            }
            lines.append(line)
            lineStart = lineEnd + 1
        }
        return lines
    }
}
