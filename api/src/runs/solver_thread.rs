//! The solver's own thread. A plan keeps a core busy for its whole time budget; on a small
//! server that core is one the request workers and the database need for scans. The solver
//! therefore runs on a thread of its own at a lower OS scheduling priority (Linux: nice
//! +10, i.e. about a tenth of the CPU share of a request worker when both want the same
//! core), so a scan batch is never queued behind it; when nothing else wants the CPU the
//! solver still gets all of it. The caller's thread (actix's blocking pool, or the CLI's
//! main thread) only waits, so its own priority is left as it was.

/// How much lower the solver thread runs: `ThreadPriority::Crossplatform(22)` is nice +10
/// on Linux (the crate maps 0..=99 onto nice 19..=-20).
const SOLVER_PRIORITY: u8 = 22;

/// Runs `f` on a thread named `solver` at the lowered priority and returns its result. If
/// no thread can be started, `f` runs on the caller's thread (at the caller's priority);
/// if the priority cannot be lowered, the thread runs at the normal one. Both are logged,
/// neither fails the plan. A panic in `f` is resumed on the caller's thread.
pub fn run<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let mut f = Some(f);
    let spawned = std::thread::scope(|s| {
        let f = &mut f;
        let started = std::thread::Builder::new()
            .name("solver".into())
            .spawn_scoped(s, move || {
                lower_priority();
                f.take().map(|f| f())
            });
        match started {
            Ok(h) => Some(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            Err(e) => {
                tracing::warn!(error = %e, "no solver thread: solving on the caller's thread");
                None
            }
        }
    });
    match (spawned.flatten(), f.take()) {
        (Some(out), _) => out,
        (None, Some(f)) => f(),
        // The thread took `f` and yet returned nothing: not possible, `f` returns `T`.
        (None, None) => unreachable!("the solver thread took its work and returned nothing"),
    }
}

fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
    let Ok(value) = ThreadPriorityValue::try_from(SOLVER_PRIORITY) else {
        return;
    };
    if let Err(e) = set_current_thread_priority(ThreadPriority::Crossplatform(value)) {
        tracing::warn!(error = ?e, "the solver thread keeps the normal priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of the calling thread, from `/proc/thread-self/stat` (field 19).
    #[cfg(target_os = "linux")]
    fn nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
        // The command name (field 2) is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        rest.split(' ')
            .nth(16)
            .expect("nice")
            .parse()
            .expect("number")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_solver_runs_on_its_own_thread_at_nice_plus_ten_and_the_caller_keeps_its_own() {
        let before = nice();
        let (name, theirs) = run(|| (std::thread::current().name().map(String::from), nice()));
        assert_eq!(name.as_deref(), Some("solver"));
        assert!(theirs >= 10, "nice {theirs}: at least +10");
        assert_eq!(nice(), before, "the caller's thread is not lowered");
    }

    #[test]
    fn the_result_and_borrowed_facts_come_back() {
        let facts = [1, 2, 3];
        let sum = run(|| facts.iter().sum::<i32>());
        assert_eq!(sum, 6);
        assert_eq!(facts.len(), 3);
    }

    #[test]
    #[should_panic(expected = "solver broke")]
    fn a_panic_in_the_solver_reaches_the_caller() {
        run(|| panic!("solver broke"));
    }
}
