import Dispatch
import Foundation
import RepriseSync

/// A dedicated thread that runs submitted jobs one at a time, in order.
final class ConnectionThread: Sendable {
    private struct Queue {
        var jobs: [@Sendable () -> Void] = []
        var stopping = false
    }

    private let queue = Locked(Queue())
    private let available = DispatchSemaphore(value: 0)

    /// Starts the thread under a name.
    init(name: String) {
        start(name: name)
    }

    private func start(name: String) {
        let thread = Thread { [self] in  // the thread keeps its queue alive until it exits
            while true {
                available.wait()
                let job: (@Sendable () -> Void)? = queue.withLock { q in
                    q.jobs.isEmpty ? nil : q.jobs.removeFirst()
                }
                guard let job else { return }  // a signal without a job is the stop request
                job()
            }
        }
        thread.name = name
        thread.start()
    }

    /// Queues a job; returns false once the thread is stopping.
    @discardableResult
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        let accepted = queue.withLock { q in
            if q.stopping { return false }
            q.jobs.append(job)
            return true
        }
        if accepted { available.signal() }
        return accepted
    }

    /// Queues a last job, after which the thread exits.
    func stop(after job: @escaping @Sendable () -> Void) {
        let first = queue.withLock { q in
            if q.stopping { return false }
            q.jobs.append(job)
            q.stopping = true
            return true
        }
        if first {
            available.signal()  // runs the last job
            available.signal()  // finds the queue empty and exits
        }
    }
}
