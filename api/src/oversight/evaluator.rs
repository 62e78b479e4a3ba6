//! The one place alert rules are evaluated in a running server: a background thread that
//! evaluates every `YIFEI_ALERT_INTERVAL_S` and whenever something asks for it (an upload
//! that stored events, epidemic mode switched). Reads never evaluate: evaluating reads the
//! whole county, so a request path that did it let any signed-in account slow everyone.
//!
//! Requests coalesce: however many arrive while an evaluation runs, one more follows it, and
//! never two at once.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::clock::SharedClock;
use crate::db::Db;
use crate::db::coordination::{hold_lease, with_session_lock};
use crate::error::ApiError;

#[derive(Debug, Default)]
struct Progress {
    /// Requests so far (each gets the next number as its ticket).
    requested: u64,
    /// The highest ticket that an evaluation now running or finished covers.
    started: u64,
    /// The highest ticket covered by a finished evaluation.
    completed: u64,
    /// Set when the owner is dropped: the thread ends.
    stop: bool,
}

#[derive(Debug, Default)]
struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Handle to the evaluator thread; dropping it (with the server's state) ends the thread.
#[derive(Debug)]
pub struct Evaluator {
    shared: Arc<Shared>,
}

impl Evaluator {
    /// Starts the thread. `every`: the periodic evaluation and daily digest (none: only on
    /// request, as in tests).
    pub fn start(
        db: Db,
        clock: SharedClock,
        tz: chrono::FixedOffset,
        every: Option<Duration>,
        overrides: super::alerts::Overrides,
        watch: super::watchlist::Rules,
    ) -> Evaluator {
        // Which process this is, for the lease on the periodic tick.
        let holder = crate::db::new_id();
        Evaluator::start_with(every, move |periodic| {
            let result = (|| -> Result<(), ApiError> {
                let mut conn = db.conn()?;
                // Several replicas on one database: one of them does the periodic ticks and
                // the daily digest (a lease of three intervals, so a dead process's ticks move
                // to another); an evaluation on request runs on the replica asked, but never
                // at the same time as another replica's.
                if periodic {
                    let ttl = every.unwrap_or(Duration::from_secs(60)) * 3;
                    if !hold_lease(&mut conn, "alert-tick", &holder, clock.now(), ttl)? {
                        return Ok(());
                    }
                }
                with_session_lock(&mut conn, "yifei:alert-evaluation", |conn| {
                    evaluate(conn, &clock, tz, &overrides, &watch, periodic)
                })
            })();
            if let Err(e) = result {
                tracing::warn!(error = %e, "alert evaluation failed; retrying at the next request or tick");
            }
        })
    }

    /// Starts the thread around `work` (called with `true` on a periodic tick).
    pub fn start_with(
        every: Option<Duration>,
        work: impl FnMut(bool) + Send + 'static,
    ) -> Evaluator {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let started = std::thread::Builder::new()
            .name("alert-evaluator".into())
            .spawn(move || run(&s, every, work));
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the alert evaluator thread");
        }
        Evaluator { shared }
    }

    /// Asks for an evaluation soon, without waiting; returns its ticket for [`Self::wait`].
    pub fn request(&self) -> u64 {
        let mut p = self.shared.lock();
        p.requested += 1;
        self.shared.changed.notify_all();
        p.requested
    }

    /// Waits until an evaluation that started after `ticket` was requested has finished.
    pub fn wait(&self, ticket: u64) {
        let mut p = self.shared.lock();
        while p.completed < ticket && !p.stop {
            p = self
                .shared
                .changed
                .wait(p)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Requests an evaluation and waits for it (tests, and callers that must see the result).
    pub fn evaluate_now(&self) {
        let t = self.request();
        self.wait(t);
    }

    /// How many evaluations were requested and how many of those are covered by a finished
    /// one (for tests of coalescing).
    pub fn counts(&self) -> (u64, u64) {
        let p = self.shared.lock();
        (p.requested, p.completed)
    }
}

impl Drop for Evaluator {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
    }
}

/// One evaluation: alerts, the watch list, and on a periodic tick the daily digest.
fn evaluate(
    conn: &mut crate::db::DbConnection,
    clock: &SharedClock,
    tz: chrono::FixedOffset,
    overrides: &super::alerts::Overrides,
    watch: &super::watchlist::Rules,
    periodic: bool,
) -> Result<(), ApiError> {
    let e = super::alerts::evaluate(conn, clock.now(), overrides)?;
    if e.opened + e.resolved > 0 {
        tracing::info!(opened = e.opened, resolved = e.resolved, "alerts evaluated");
    }
    let (listed, escalated) = super::watchlist::evaluate(conn, clock.now(), watch)?;
    if listed + escalated > 0 {
        tracing::info!(listed, escalated, "watch list updated");
        // The list's own alerts (an entry overdue) come from the alert rules: evaluated
        // again so that they do not wait for the next tick.
        super::alerts::evaluate(conn, clock.now(), overrides)?;
    }
    if periodic {
        super::alerts::daily_digest(conn, clock.now(), tz)?;
    }
    Ok(())
}

fn run(shared: &Shared, every: Option<Duration>, mut work: impl FnMut(bool)) {
    let mut next_tick = every.map(|e| Instant::now() + e);
    loop {
        let (ticket, periodic) = {
            let mut p = shared.lock();
            loop {
                if p.stop {
                    return;
                }
                if p.requested > p.started {
                    break (p.requested, false);
                }
                match next_tick {
                    Some(t) if Instant::now() >= t => break (p.requested, true),
                    Some(t) => {
                        let wait = t.saturating_duration_since(Instant::now());
                        p = shared
                            .changed
                            .wait_timeout(p, wait)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    None => {
                        p = shared.changed.wait(p).unwrap_or_else(|e| e.into_inner());
                    }
                }
            }
        };
        shared.lock().started = ticket;
        work(periodic);
        if periodic && let Some(e) = every {
            next_tick = Some(Instant::now() + e);
        }
        let mut p = shared.lock();
        p.completed = p.completed.max(ticket);
        shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    #[test]
    fn requests_during_an_evaluation_coalesce_into_one_more() {
        let runs = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let r = runs.clone();
        let ev = Evaluator::start_with(None, move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            started_tx.send(()).expect("started");
            release_rx.recv().expect("release");
        });
        let first = ev.request();
        started_rx.recv().expect("first evaluation started");
        // Twenty requests while the first one runs...
        let mut last = 0;
        for _ in 0..20 {
            last = ev.request();
        }
        release_tx.send(()).expect("release first");
        started_rx.recv().expect("the follow-up started");
        release_tx.send(()).expect("release follow-up");
        ev.wait(last);
        ev.wait(first);
        // ...are served by exactly one more evaluation, never two at once.
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(ev.counts(), (21, 21));
    }

    #[test]
    fn without_requests_only_the_tick_evaluates() {
        let (tx, rx) = mpsc::channel();
        let ev = Evaluator::start_with(Some(Duration::from_millis(10)), move |periodic| {
            let _ = tx.send(periodic);
        });
        assert_eq!(rx.recv().ok(), Some(true), "a periodic tick");
        drop(ev);
    }
}
