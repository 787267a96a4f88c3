/// Row counts of the packed matrices, rounded up.
///
/// The dense layers compile one oneDNN kernel per row count. Packed token matrices have a
/// different row count for almost every batch, so compiling (and caching) a kernel each time
/// would dominate short requests and grow the caches without bound in a long-running
/// service. Padding rows up to a multiple of 32 costs at most 31 rows of work; padding rows
/// belong to no sequence, so no real row attends to them and they are dropped at the end.
enum RowPadding {
    static let multiple = 32

    /// `rows` rounded up to a multiple of ``multiple``.
    static func rows(_ rows: Int) -> Int {
        (rows + multiple - 1) / multiple * multiple
    }
}
