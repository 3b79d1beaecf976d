import Foundation
import Testing
import TestSupport
@testable import RepriseServer

@Suite struct EventLoopTests {
    @Test func cpuListsAreCounted() {
        #expect(cpuCount(list: "0") == 1)
        #expect(cpuCount(list: "0-1") == 2)
        #expect(cpuCount(list: " 0-3,6,8-9\t") == 7)
        for bad in ["", "x", "3-1", "0-", "1,,2-", "0-1-2"] { #expect(cpuCount(list: bad) == nil, "\(bad)") }
    }

    /// The count matches the affinity mask as Python's `os.sched_getaffinity` reads it (a child
    /// inherits the mask), e.g. one when the tests run under `taskset -c 0`.
    @Test func usableCPUsFollowTheAffinityMask() async throws {
        let r = try await Child.run("/usr/bin/python3", ["-c", "import os; print(len(os.sched_getaffinity(0)))"], timeout: 30)
        #expect(usableCPUs() == Int(r.output.trimmingCharacters(in: .whitespacesAndNewlines)))
    }
}
