import Foundation
import RepriseFuzz

/// `reprise-fuzz TARGET FILE...` runs a target on files (a crash reproduces). Built by `make fuzz`
/// (`-DFUZZING`, `-sanitize=fuzzer,address`), `REPRISE_FUZZ_TARGET=TARGET reprise-fuzz [libFuzzer flags]`
/// hands the target to libFuzzer's driver instead.
@main struct FuzzMain {
    static func main() throws {
        #if FUZZING
        _ = chosen
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) })
        #else
        let args = CommandLine.arguments.dropFirst()
        guard let name = args.first, let t = FuzzTargets.all[name] else { usage() }
        for file in args.dropFirst() { t(Array(try Data(contentsOf: URL(fileURLWithPath: file)))) }
        #endif
    }

    static func usage() -> Never {
        FileHandle.standardError.write(Data("usage: reprise-fuzz TARGET FILE...; targets, one of: \(FuzzTargets.all.keys.sorted().joined(separator: ", "))\n".utf8))
        exit(2)
    }
}

#if FUZZING
/// The target libFuzzer's callback runs: `REPRISE_FUZZ_TARGET`'s, read once.
nonisolated(unsafe) var chosen: @Sendable ([UInt8]) -> Void = {
    guard let name = ProcessInfo.processInfo.environment["REPRISE_FUZZ_TARGET"], let t = FuzzTargets.all[name] else { FuzzMain.usage() }
    return t
}()

/// libFuzzer's callback, for when its own `main` is the one linked.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    chosen(size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data!, count: size)))
    return 0
}

/// libFuzzer's driver, for programs with their own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
#endif
