//! Where scan batches are stored: on SQLite through one group-committing writer thread, on
//! PostgreSQL (or with `YIFEI_GROUP_COMMIT=off`) straight on a pooled connection.
//!
//! Kept apart from the ingest rules (`ingest`), which say what a batch stores; this says
//! which thread and which connection store it, and when the answer may be sent.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::Connection;
use yifei_contract::{ScanEvent, ScanResult};

use super::ingest::{self, Draft, Lock, TimeLimits, check_batch, is_retryable};
use crate::auth::Caller;
use crate::db::{Backend, Db, DbConnection};
use crate::error::ApiError;

/// The server's way of storing scan batches, chosen once at start.
pub enum ScanWriter {
    /// SQLite: concurrent uploads share one commit (see [`GroupCommitter`]).
    Grouped(Arc<GroupCommitter>),
    /// Each upload in its own transaction on a pooled connection.
    Direct(Db),
}

impl ScanWriter {
    /// Group commit on SQLite when `group_commit` is on; otherwise direct.
    pub fn start(db: Db, group_commit: bool) -> ScanWriter {
        if group_commit && db.backend == Backend::Sqlite {
            ScanWriter::Grouped(Arc::new(GroupCommitter::start(db)))
        } else {
            ScanWriter::Direct(db)
        }
    }

    /// Ingests a batch off the async executor; answers once its accepted events are durable.
    pub async fn ingest(
        &self,
        caller: Caller,
        events: Vec<ScanEvent>,
        now: DateTime<Utc>,
        limits: TimeLimits,
        tz: chrono::FixedOffset,
    ) -> Result<Vec<ScanResult>, ApiError> {
        match self {
            ScanWriter::Grouped(w) => {
                let w = w.clone();
                actix_web::web::block(move || w.ingest(caller, events, now, limits, tz))
                    .await
                    .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
            }
            ScanWriter::Direct(db) => {
                db.run(move |conn| ingest::ingest(conn, &caller, &events, now, limits, tz))
                    .await
            }
        }
    }
}

/// Group commit for SQLite: one writer thread takes the batches that arrived while it was
/// busy and stores them in one transaction, each in its own savepoint (a failing batch does
/// not undo the others), so that concurrent uploads share one fsync instead of queueing for
/// one each. Every client is answered only after the commit: an acknowledged scan is durable.
///
/// The writer is the one thing SQLite cannot run in parallel, so each batch is worked out
/// first on a reader in the request's own thread (`draft`), and the writer only stores it
/// (`write`), or works it out again under the lock if it went stale meanwhile.
pub struct GroupCommitter {
    db: Db,
    queue: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

struct Job {
    caller: Caller,
    events: Vec<ScanEvent>,
    now: DateTime<Utc>,
    limits: TimeLimits,
    tz: chrono::FixedOffset,
    /// Worked out before the writer's turn; `None` to work it out in the writer.
    draft: Option<Draft>,
    reply: std::sync::mpsc::SyncSender<Result<Vec<ScanResult>, ApiError>>,
}

/// Most batches committed together.
const GROUP_MAX: usize = 16;

impl GroupCommitter {
    /// Starts the writer thread (and, for a database file, the thread that makes its
    /// commits durable).
    pub fn start(db: Db) -> GroupCommitter {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let reader = db.clone();
        std::thread::Builder::new()
            .name("scan-writer".into())
            .spawn(move || {
                let mut writer = Writer::open(&db);
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < GROUP_MAX {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                    writer.commit_group(&db, jobs);
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the scan writer"));
        GroupCommitter {
            db: reader,
            queue: std::sync::Mutex::new(tx),
        }
    }

    /// Ingests a batch with the others waiting; blocks until it is committed.
    pub fn ingest(
        &self,
        caller: Caller,
        events: Vec<ScanEvent>,
        now: DateTime<Utc>,
        limits: TimeLimits,
        tz: chrono::FixedOffset,
    ) -> Result<Vec<ScanResult>, ApiError> {
        check_batch(&events)?;
        // A draft that cannot be made here (no free connection, say) is made by the writer.
        let draft = self
            .db
            .conn()
            .and_then(|mut c| ingest::draft(&mut c, &caller, &events, now, limits, tz, Lock::None))
            .map_err(|e| tracing::debug!(error = %e, "scan batch drafted by the writer"))
            .ok();
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let job = Job {
            caller,
            events,
            now,
            limits,
            tz,
            draft,
            reply,
        };
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| ApiError::Unavailable("the scan writer stopped".into()))?;
        answer
            .recv()
            .map_err(|_| ApiError::Unavailable("the scan writer stopped".into()))?
    }
}

type Reply = (
    std::sync::mpsc::SyncSender<Result<Vec<ScanResult>, ApiError>>,
    Result<Vec<ScanResult>, ApiError>,
);

/// The scan writer's connection and how its commits are made durable.
///
/// With `synchronous = FULL` every commit waits for the log's `fsync` before the writer can
/// start the next group. Instead, the writer's own connection commits with
/// `synchronous = NORMAL` (the log is written, not yet synced) and hands the answers to a
/// syncer thread, which syncs the log file and only then answers: an acknowledged scan is on
/// disk all the same, and the writer stores the next group meanwhile. (In WAL mode SQLite
/// syncs the log before every checkpoint, so a commit the syncer has not reached yet is never
/// copied into the database unsynced; a power cut loses only unacknowledged commits, which
/// the phones send again.)
struct Writer {
    /// `None`: a pooled connection per group, with `synchronous = FULL` (an in-memory
    /// database, or the dedicated connection could not be opened).
    conn: Option<DbConnection>,
    syncer: Option<std::sync::mpsc::Sender<Vec<Reply>>>,
}

impl Writer {
    fn open(db: &Db) -> Writer {
        use diesel::connection::SimpleConnection;
        let Some(wal) = db.wal_path() else {
            return Writer {
                conn: None,
                syncer: None,
            };
        };
        let conn = db.dedicated().and_then(|mut c| {
            c.batch_execute("PRAGMA synchronous = NORMAL;")?;
            Ok(c)
        });
        let (tx, rx) = std::sync::mpsc::channel::<Vec<Reply>>();
        let started = std::thread::Builder::new()
            .name("scan-syncer".into())
            .spawn(move || sync_loop(&wal, &rx));
        match (conn, started) {
            (Ok(conn), Ok(_)) => Writer {
                conn: Some(conn),
                syncer: Some(tx),
            },
            (conn, started) => {
                tracing::warn!(
                    connection = conn.is_ok(),
                    syncer = started.is_ok(),
                    "scan writer commits with synchronous = FULL"
                );
                Writer {
                    conn: None,
                    syncer: None,
                }
            }
        }
    }

    fn commit_group(&mut self, db: &Db, mut jobs: Vec<Job>) {
        let mut pooled = None;
        let conn = match &mut self.conn {
            Some(c) => Ok(c),
            None => db.conn().map(|c| &mut ***pooled.insert(c)),
        };
        let stored = conn.and_then(|conn| {
            crate::db::write_tx(conn, |conn| {
                Ok(jobs
                    .iter_mut()
                    .map(|j| {
                        let drafted = j.draft.take().map(|p| conn.transaction(|c| ingest::write(c, p)));
                        match drafted {
                            Some(Err(e)) if is_retryable(&e) => {
                                tracing::debug!(error = %e, "scan batch went stale; redone under lock");
                            }
                            Some(done) => return done,
                            None => {}
                        }
                        conn.transaction(|c| {
                            ingest::ingest_once(c, &j.caller, &j.events, j.now, j.limits, j.tz)
                        })
                    })
                    .collect::<Vec<_>>())
            })
        });
        let replies: Vec<Reply> = match stored {
            Ok(results) => jobs.into_iter().map(|j| j.reply).zip(results).collect(),
            Err(e) => {
                tracing::error!(error = %e, batches = jobs.len(), "group commit failed");
                // Nothing was committed: no need to wait for a sync.
                for job in jobs {
                    let _ = job.reply.send(Err(ApiError::Unavailable(
                        "the scans could not be stored; nothing was kept, send them again".into(),
                    )));
                }
                return;
            }
        };
        match &self.syncer {
            Some(s) => {
                if let Err(unsent) = s.send(replies) {
                    answer_unsynced(unsent.0);
                }
            }
            None => {
                for (reply, r) in replies {
                    let _ = reply.send(r);
                }
            }
        }
    }
}

/// Syncs the write-ahead log for every group committed since the last sync, then answers.
fn sync_loop(wal: &std::path::Path, rx: &std::sync::mpsc::Receiver<Vec<Reply>>) {
    while let Ok(mut replies) = rx.recv() {
        while let Ok(more) = rx.try_recv() {
            replies.extend(more);
        }
        // Opened anew each time: the file is the log SQLite writes now, whatever happened.
        match std::fs::File::open(wal).and_then(|f| f.sync_data()) {
            Ok(()) => {
                for (reply, r) in replies {
                    let _ = reply.send(r);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, wal = %wal.display(), "cannot sync the scan log");
                answer_unsynced(replies);
            }
        }
    }
}

/// Committed but not known to be on disk: the phones send again (replays change nothing).
fn answer_unsynced(replies: Vec<Reply>) {
    for (reply, _) in replies {
        let _ = reply.send(Err(ApiError::Unavailable(
            "the scans could not be made durable; send them again".into(),
        )));
    }
}
