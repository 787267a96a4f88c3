import Foundation
/// libFuzzer's driver, linked in by `-sanitize=fuzzer`.
///
/// SwiftPM links every executable target with its own `main` renamed (`<module>_main`, so that
/// tests can link the module) and points `main` at it, which shadows libFuzzer's `main`. Each
/// harness therefore has an ordinary `@main` that hands the process to the driver, as
/// libFuzzer's own `main` would.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The signature of `LLVMFuzzerTestOneInput`.
public typealias FuzzTarget = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Runs libFuzzer over `target` with the process's arguments and exits with its status.
public func runLibFuzzer(_ target: FuzzTarget) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, target))
}
