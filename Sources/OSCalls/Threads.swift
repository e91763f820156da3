// Threads of svcunit's own, outside Swift's cooperative pool: pthread_create.
import Glibc

/// Starting a thread of its own for work that must block (poll(2) in an sd-bus or sd-journal
/// owner's loop, a wait in flock(2)). Not obvious: the cooperative pool has as many threads as
/// the machine has cores, so a blocking call there can stall every task of the process.
public enum Threads {
    /// Starts a detached thread running `run`; 0, or the errno of pthread_create (nothing runs then).
    public static func startDetached(_ run: @escaping @Sendable () -> Void) -> Int32 {
        let body = Unmanaged.passRetained(ThreadBody(run))
        var thread = pthread_t()
        let r = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, body.toOpaque())
        if r == 0 { pthread_detach(thread) } else { body.release() }
        return r
    }
}

/// What a new thread runs. Not generic: a C function pointer (pthread_create's start routine)
/// cannot capture a generic context.
private final class ThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
