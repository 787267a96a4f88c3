import CKernels

/// Loops split over the cores, on the OpenMP team oneDNN's products already run on
/// (`lcr_parallel_for`). Between two products oneDNN's workers spin for a while; a loop run on
/// this thread alone leaves them spinning idle (a profile of stage 2 showed half its time there),
/// and a loop on threads of our own would fight them for the cores.
///
/// Every use writes disjoint elements per share and sums in the order a single thread would, so
/// results are bitwise those of the plain loop, whatever the thread count.
enum ParallelLoop {
    private final class Body: @unchecked Sendable {
        let run: (Range<Int>) -> Void
        init(_ run: @escaping (Range<Int>) -> Void) { self.run = run }
    }

    /// Calls `body` on contiguous shares of `0..<count`, concurrently, each share at least
    /// `minimumPerShare` long (small loops run on fewer threads, or on this one).
    static func shares(_ count: Int, minimumPerShare: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        withoutActuallyEscaping(body) { escaping in
            let box = Body(escaping)
            withExtendedLifetime(box) {
                lcr_parallel_for(Int64(count), Int64(max(minimumPerShare, 1)), { context, begin, end in
                    guard let context else { return }
                    Unmanaged<Body>.fromOpaque(context).takeUnretainedValue().run(Int(begin)..<Int(end))
                }, Unmanaged.passUnretained(box).toOpaque())
            }
        }
    }
}
