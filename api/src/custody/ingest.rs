//! Scan ingest: a batch of offline scans, each accepted, recognised as a duplicate, or
//! rejected with a reason, in one transaction committed before the answer is sent.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use yifei_contract::{ContainerState, Role, ScanAction, ScanEvent, ScanResult, ScanStatus};

use super::fold::{FoldEvent, Places};
use super::store::{self, ContainerRow, EventRow, NEST_NAMESPACE};
use super::{MAX_WEIGHT_KG, codes, grams, micros, role_may};
use crate::auth::Caller;
use crate::db::DbConnection;
use crate::db::batch::{JsonBatch, PgArrays};
use crate::db::schema::{containers, institutions, runs, scan_events};
use crate::error::ApiError;
use crate::wire::{enum_str, parse_enum};

/// Device clocks may run this far ahead of the server's before a scan is refused.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::minutes(5);

/// Scans older than this (by the server's clock) are refused: a phone offline for a month
/// has lost its uploads' meaning, and a clock reset to 1970 must not raise alerts.
pub const DEFAULT_MAX_AGE: Duration = Duration::days(30);

/// The window a device's time must fall in: not more than `skew` ahead of the server's clock
/// (nor more than `skew` before its container was labelled), not more than `max_age` behind.
#[derive(Debug, Clone, Copy)]
pub struct TimeLimits {
    pub skew: Duration,
    pub max_age: Duration,
}

impl TimeLimits {
    pub const DEFAULT: TimeLimits = TimeLimits {
        skew: DEFAULT_CLOCK_SKEW,
        max_age: DEFAULT_MAX_AGE,
    };
}

/// Longest free-text field of a scan.
const MAX_TEXT: usize = 200;

/// Actions a big box passes on to the small boxes inside it.
fn propagates(a: ScanAction) -> bool {
    matches!(
        a,
        ScanAction::HubIn
            | ScanAction::Collect
            | ScanAction::Receive
            | ScanAction::Reject
            | ScanAction::Dispose
    )
}

fn reject(event_id: &str, reason: &'static str) -> ScanResult {
    refuse(event_id, (reason, None))
}

/// Why an event is refused, and the field at fault where one is named.
type Refusal = (&'static str, Option<&'static str>);

fn refuse(event_id: &str, (reason, field): Refusal) -> ScanResult {
    ScanResult {
        event_id: event_id.to_owned(),
        status: ScanStatus::Rejected,
        state: None,
        reason: Some(reason.to_owned()),
        field: field.map(str::to_owned),
    }
}

/// The first text field of an event holding what a database cannot store (a NUL, which is
/// also what the body's parser turns half a surrogate pair into: `http::hygiene`).
fn bad_text(e: &ScanEvent) -> Option<&'static str> {
    let bad = |s: &Option<String>| s.as_deref().is_some_and(|s| s.contains('\0'));
    if e.code.contains('\0') {
        return Some("code");
    }
    [
        ("run_id", &e.run_id),
        ("reason", &e.reason),
        ("method", &e.method),
        ("device_id", &e.device_id),
    ]
    .into_iter()
    .find(|(_, v)| bad(v))
    .map(|(f, _)| f)
}

/// Checks what can be checked without the database; `Err` is the rejection reason.
fn precheck(
    caller: &Caller,
    e: &ScanEvent,
    now: DateTime<Utc>,
    limits: TimeLimits,
) -> Result<String, Refusal> {
    if let Some(field) = bad_text(e) {
        return Err(("invalid_text", Some(field)));
    }
    precheck_clean(caller, e, now, limits).map_err(|reason| (reason, None))
}

fn precheck_clean(
    caller: &Caller,
    e: &ScanEvent,
    now: DateTime<Utc>,
    TimeLimits { skew, max_age }: TimeLimits,
) -> Result<String, &'static str> {
    let code = codes::parse(&e.code).map_err(|err| match err {
        codes::CodeError::Mistyped => "mistyped_code",
        codes::CodeError::Malformed => "unknown_code",
    })?;
    if !role_may(caller.role, e.action) {
        return Err("action_not_allowed");
    }
    if e.occurred_at > now + skew {
        return Err("future_timestamp");
    }
    if e.occurred_at < now - max_age {
        return Err("stale_timestamp");
    }
    let needs_weight = matches!(
        e.action,
        ScanAction::Seal | ScanAction::Collect | ScanAction::Receive
    );
    match e.weight_kg {
        None if needs_weight => return Err("weight_required"),
        Some(w) if !w.is_finite() || w <= 0.0 || w > MAX_WEIGHT_KG => {
            return Err("weight_out_of_range");
        }
        _ => {}
    }
    let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
    if e.action == ScanAction::Reject && blank(&e.reason) {
        return Err("reason_required");
    }
    if e.action == ScanAction::Dispose && blank(&e.method) {
        return Err("method_required");
    }
    if e.action == ScanAction::Dispose
        && !super::disposal::is_valid(e.method.as_deref().unwrap_or(""))
    {
        return Err("unknown_method");
    }
    if let Some(l) = &e.location
        && (!(-90.0..=90.0).contains(&l.lat)
            || !(-180.0..=180.0).contains(&l.lng)
            || !l.lat.is_finite()
            || !l.lng.is_finite())
    {
        return Err("invalid_location");
    }
    let too_long = |s: &Option<String>| s.as_ref().is_some_and(|s| s.chars().count() > MAX_TEXT);
    if too_long(&e.reason) || too_long(&e.method) || too_long(&e.device_id) || too_long(&e.run_id) {
        return Err("text_too_long");
    }
    Ok(code)
}

/// What ingest needs of a container's institution: who may scan its containers and where
/// they may be collected. Read once per institution, not once per container: a batch holds
/// up to 500 containers of a few institutions.
#[derive(Debug, Clone)]
struct Site {
    id: String,
    hub_id: Option<String>,
    places: Places,
}

/// An institution and where it and its hub are, read in one query.
#[derive(Queryable, QueryableByName)]
struct SiteRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(embed)]
    site: SiteOf,
}

/// Pairs containers with their institutions' sites: one query for the distinct institutions
/// and their hubs, whatever the number of institutions in the batch.
fn with_sites(
    conn: &mut DbConnection,
    rows: Vec<ContainerRow>,
) -> Result<Vec<(ContainerRow, Site)>, ApiError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<&str> = rows.iter().map(|c| c.institution_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let found: Vec<SiteRow> = by_keys(
        conn,
        "SELECT i.id, i.hub_id AS site_hub_id, i.lat AS site_lat, i.lng AS site_lng, \
         h.lat AS hub_lat, h.lng AS hub_lng FROM institutions i LEFT JOIN institutions h ON h.id = i.hub_id \
         WHERE i.id IN (SELECT value FROM json_each(?))",
        &ids,
        |pg| {
            let hubs = diesel::alias!(institutions as hubs);
            institutions::table
                .left_join(
                    hubs.on(institutions::hub_id.eq(hubs.field(institutions::id).nullable())),
                )
                .filter(institutions::id.eq_any(&ids))
                .select((
                    institutions::id,
                    (
                        institutions::hub_id,
                        institutions::lat,
                        institutions::lng,
                        hubs.field(institutions::lat).nullable(),
                        hubs.field(institutions::lng).nullable(),
                    ),
                ))
                .load(pg)
        },
    )?;
    let sites: HashMap<String, Site> = found
        .into_iter()
        .map(|SiteRow { id, site }| (id.clone(), site.into_site(id)))
        .collect();
    rows.into_iter()
        .map(|c| {
            let site = sites.get(&c.institution_id).cloned().ok_or_else(|| {
                ApiError::Internal(format!("container {} has no institution", c.id))
            })?;
            Ok((c, site))
        })
        .collect()
}

/// Where an institution and its hub are: columns named apart from a container's own, for
/// the reads that join them to containers.
#[derive(Queryable, QueryableByName)]
struct SiteOf {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    site_hub_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Double)]
    site_lat: f64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    site_lng: f64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
    hub_lat: Option<f64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
    hub_lng: Option<f64>,
}

impl SiteOf {
    fn into_site(self, id: String) -> Site {
        Site {
            id,
            hub_id: self.site_hub_id,
            places: Places {
                institution: (self.site_lat, self.site_lng),
                hub: self.hub_lat.zip(self.hub_lng),
            },
        }
    }
}

/// The containers a batch names, with their sites, and its event ids already stored (with the
/// container each is stored under).
type BatchRead = (Vec<(ContainerRow, Site)>, HashMap<String, String>);

/// One event of a batch with its container, where the container's institution and hub are,
/// and which container the event id is already stored under, if any.
#[derive(QueryableByName)]
struct BatchRow {
    #[diesel(embed)]
    container: ContainerRow,
    #[diesel(embed)]
    site: SiteOf,
    #[diesel(sql_type = diesel::sql_types::Text)]
    batch_event: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    stored_under: Option<String>,
}

/// What a batch is worked out from, read in one statement: its containers with their sites,
/// and the event ids already stored (for duplicates), where the locked path takes three. One
/// row per event that names a container (an event whose code matches none is rejected
/// whatever its id). Unordered and unlocked: the write checks the containers' versions.
fn read_batch(
    conn: &mut DbConnection,
    codes_of: &[Option<String>],
    ids: &[String],
) -> Result<BatchRead, ApiError> {
    let pairs: Vec<(&str, &str)> = codes_of
        .iter()
        .zip(ids)
        .filter_map(|(c, id)| c.as_deref().map(|c| (c, id.as_str())))
        .collect();
    if pairs.is_empty() {
        return Ok((Vec::new(), HashMap::new()));
    }
    // The columns of a `BatchRow` but its last two, for both statements.
    macro_rules! sited {
        () => {
            "SELECT c.*, i.hub_id AS site_hub_id, i.lat AS site_lat, i.lng AS site_lng, \
             h.lat AS hub_lat, h.lng AS hub_lng, "
        };
    }
    let rows: Vec<BatchRow> = match conn {
        DbConnection::Sqlite(lite) => JsonBatch::new(
            concat!(
                sited!(),
                "b.value ->> 1 AS batch_event, e.container_id AS stored_under \
                 FROM json_each(?) b JOIN containers c ON c.code = b.value ->> 0 \
                 JOIN institutions i ON i.id = c.institution_id \
                 LEFT JOIN institutions h ON h.id = i.hub_id \
                 LEFT JOIN scan_events e ON e.id = b.value ->> 1"
            ),
            serde_json::to_string(&pairs).unwrap_or_default(),
        )
        .load(lite)?,
        DbConnection::Postgresql(pg) => {
            let (codes, evs): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
            PgArrays::new(
                concat!(
                    sited!(),
                    "b.event_id AS batch_event, e.container_id AS stored_under \
                     FROM unnest(?, ?) AS b (code, event_id) \
                     JOIN containers c ON c.code = b.code \
                     JOIN institutions i ON i.id = c.institution_id \
                     LEFT JOIN institutions h ON h.id = i.hub_id \
                     LEFT JOIN scan_events e ON e.id = b.event_id"
                ),
                codes,
                evs,
            )
            .load(pg)?
        }
    };
    let mut stored = HashMap::new();
    let mut found: Vec<(ContainerRow, Site)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for BatchRow {
        container,
        site,
        batch_event,
        stored_under,
    } in rows
    {
        if let Some(under) = stored_under {
            stored.insert(batch_event, under);
        }
        if seen.insert(container.id.clone()) {
            let site = site.into_site(container.institution_id.clone());
            found.push((container, site));
        }
    }
    Ok((found, stored))
}

/// The batch's event ids already stored, and their containers.
fn stored_ids(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<HashMap<String, String>, ApiError> {
    Ok(by_keys(
        conn,
        "SELECT id, container_id FROM scan_events WHERE id IN (SELECT value FROM json_each(?))",
        ids,
        |pg| {
            scan_events::table
                .filter(scan_events::id.eq_any(ids))
                .select(StoredId::as_select())
                .load(pg)
        },
    )?
    .into_iter()
    .map(|s: StoredId| (s.id, s.container_id))
    .collect())
}

/// Whether the caller's tenant may scan this institution's container for this action.
/// Another tenant's container answers like an unknown code (existence is not leaked).
fn tenant_may(caller: &Caller, action: ScanAction, inst: &Site) -> bool {
    let tenant = caller.tenant.as_deref();
    match (caller.role, action) {
        (Role::ClinicStaff | Role::HubKeeper, ScanAction::Seal) => tenant == Some(inst.id.as_str()),
        (Role::HubKeeper, ScanAction::HubIn) => {
            tenant.is_some() && inst.hub_id.as_deref() == tenant
        }
        // One disposal company serves the county: its drivers and plant handle every container.
        (Role::Driver | Role::PlantOperator, _) => tenant.is_some(),
        _ => false,
    }
}

fn is_retryable(e: &ApiError) -> bool {
    match e {
        ApiError::Db(diesel::result::Error::RollbackTransaction) => true,
        ApiError::Db(diesel::result::Error::DatabaseError(kind, info)) => {
            let m = info.message();
            matches!(
                kind,
                diesel::result::DatabaseErrorKind::SerializationFailure
            ) || m.contains("deadlock")
                || m.contains("database is locked")
                || m.contains("busy")
        }
        _ => false,
    }
}

/// Refuses empty and oversized batches before any work.
pub fn check_batch(events: &[ScanEvent]) -> Result<(), ApiError> {
    if events.is_empty() || events.len() > super::MAX_BATCH {
        return Err(ApiError::invalid("events", "give 1 to 500 events"));
    }
    Ok(())
}

/// Group commit for SQLite: one writer thread takes the batches that arrived while it was
/// busy and stores them in one transaction, each in its own savepoint (a failing batch does
/// not undo the others), so that concurrent uploads share one fsync instead of queueing for
/// one each. Every client is answered only after the commit: an acknowledged scan is durable.
///
/// The writer is the one thing SQLite cannot run in parallel, so each batch is worked out
/// first on a reader in the request's own thread (`plan`), and the writer only stores it
/// (`write`), or works it out again under the lock if it went stale meanwhile.
pub struct GroupCommitter {
    db: crate::db::Db,
    queue: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

struct Job {
    caller: Caller,
    events: Vec<ScanEvent>,
    now: DateTime<Utc>,
    limits: TimeLimits,
    tz: chrono::FixedOffset,
    /// Worked out before the writer's turn; `None` to work it out in the writer.
    plan: Option<Plan>,
    reply: std::sync::mpsc::SyncSender<Result<Vec<ScanResult>, ApiError>>,
}

/// Most batches committed together.
const GROUP_MAX: usize = 16;

impl GroupCommitter {
    /// Starts the writer thread (and, for a database file, the thread that makes its
    /// commits durable).
    pub fn start(db: crate::db::Db) -> GroupCommitter {
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
        // A plan that cannot be made here (no free connection, say) is made by the writer.
        let plan = self
            .db
            .conn()
            .and_then(|mut c| plan(&mut c, &caller, &events, now, limits, tz, Lock::None))
            .map_err(|e| tracing::debug!(error = %e, "scan batch planned by the writer"))
            .ok();
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let job = Job {
            caller,
            events,
            now,
            limits,
            tz,
            plan,
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
    fn open(db: &crate::db::Db) -> Writer {
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

    fn commit_group(&mut self, db: &crate::db::Db, mut jobs: Vec<Job>) {
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
                        let planned = j.plan.take().map(|p| conn.transaction(|c| write(c, p)));
                        match planned {
                            Some(Err(e)) if is_retryable(&e) => {
                                tracing::debug!(error = %e, "scan batch went stale; redone under lock");
                            }
                            Some(done) => return done,
                            None => {}
                        }
                        conn.transaction(|c| {
                            ingest_once(c, &j.caller, &j.events, j.now, j.limits, j.tz)
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

/// Ingests a batch. Retries the whole transaction when concurrent writers collide (a
/// deadlock on PostgreSQL, a busy database on SQLite); replays make retries harmless.
pub fn ingest(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    now: DateTime<Utc>,
    limits: TimeLimits,
    tz: chrono::FixedOffset,
) -> Result<Vec<ScanResult>, ApiError> {
    check_batch(events)?;
    // First worked out without locks and stored only if nothing changed meanwhile: the
    // containers' locks are then held for the writes alone.
    match plan(conn, caller, events, now, limits, tz, Lock::None)
        .and_then(|p| write_unlocked(conn, p))
    {
        Err(e) if is_retryable(&e) => {
            tracing::debug!(error = %e, "scan batch went stale; redone under lock");
        }
        done => return done,
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match crate::db::write_tx(conn, |conn| {
            ingest_once(conn, caller, events, now, limits, tz)
        }) {
            Err(e) if attempt < 6 && is_retryable(&e) => {
                tracing::debug!(attempt, error = %e, "scan batch collided; retrying");
                std::thread::sleep(std::time::Duration::from_millis(5 * attempt));
            }
            other => return other,
        }
    }
}

/// Works a batch out and stores it, under the containers' locks.
fn ingest_once(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    now: DateTime<Utc>,
    limits: TimeLimits,
    tz: chrono::FixedOffset,
) -> Result<Vec<ScanResult>, ApiError> {
    let p = plan(conn, caller, events, now, limits, tz, Lock::Rows)?;
    write(conn, p)
}

/// What a batch stores, worked out from what was read: the answers, the chained events, the
/// containers' new derived state (each still carrying the version it was read at), and what
/// else the work depended on.
struct Plan {
    results: Vec<ScanResult>,
    events: Vec<EventRow>,
    derived: store::DerivedBatch,
    /// Boxes weighed inside a big box without being rewritten, with the versions weighed.
    weighed: Vec<(String, i32)>,
    /// Pickups on a run: (run, institution, its hub, when), one per run and institution.
    collects: Vec<(String, String, Option<String>, chrono::NaiveDateTime)>,
    received: chrono::NaiveDateTime,
    tz: chrono::FixedOffset,
    /// Who scanned: completes the stops of `collects` (checked by `runs::may_complete`).
    actor: String,
}

/// Whether the reads of a plan take the containers' locks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// PostgreSQL row locks (SQLite's writer holds the database's lock already): the plan
    /// cannot go stale before it is written.
    Rows,
    /// Plain reads, outside the writer: `write` finds out if the plan went stale.
    None,
}

/// Works a batch out without writing anything: validation, tenancy, duplicates, chains and
/// folds. Kept apart from `write` so that on SQLite this runs on a reader, in parallel with
/// the single writer, which then only stores the result.
#[allow(clippy::too_many_arguments)]
fn plan(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    now: DateTime<Utc>,
    limits: TimeLimits,
    tz: chrono::FixedOffset,
    lock: Lock,
) -> Result<Plan, ApiError> {
    let received = micros(now);
    let mut results: Vec<Option<ScanResult>> = vec![None; events.len()];
    let mut codes_of: Vec<Option<String>> = vec![None; events.len()];
    for (i, e) in events.iter().enumerate() {
        match precheck(caller, e, now, limits) {
            Ok(code) => codes_of[i] = Some(code),
            Err(refusal) => results[i] = Some(refuse(&e.event_id.to_string(), refusal)),
        }
    }
    let ids: Vec<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    let runs = runs_of(conn, events, &codes_of)?;
    let (found, stored) = match lock {
        // Most batches: containers, sites and already-stored event ids in one query.
        Lock::None => read_batch(conn, &codes_of, &ids)?,
        // Read the containers under their locks, so that concurrent batches append to one
        // chain one after the other.
        Lock::Rows => {
            let wanted: Vec<String> = codes_of.iter().flatten().cloned().collect();
            let found = if wanted.is_empty() {
                Vec::new()
            } else {
                let rows = read(conn, Keys::Codes(&wanted), lock)?;
                with_sites(conn, rows)?
            };
            (found, stored_ids(conn, &ids)?)
        }
    };
    let by_code: HashMap<String, (ContainerRow, Site)> = found
        .into_iter()
        .map(|(c, i)| (c.code.clone(), (c, i)))
        .collect();

    // container id -> indexes of the events to append, in batch order
    let mut todo: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut seen_in_batch: HashMap<String, String> = HashMap::new();
    let mut container_of: Vec<Option<String>> = vec![None; events.len()];
    for (i, e) in events.iter().enumerate() {
        let Some(code) = &codes_of[i] else { continue };
        let id = &ids[i];
        let Some((c, _)) = by_code
            .get(code)
            .filter(|(_, inst)| tenant_may(caller, e.action, inst))
        else {
            results[i] = Some(reject(id, "unknown_code"));
            continue;
        };
        container_of[i] = Some(c.id.clone());
        match stored.get(id).or_else(|| seen_in_batch.get(id)) {
            Some(cid) if *cid == c.id => results[i] = Some(outcome(id, ScanStatus::Duplicate)),
            Some(_) => results[i] = Some(reject(id, "event_id_reused")),
            None => {
                if micros(e.occurred_at) < c.created_at - limits.skew {
                    results[i] = Some(reject(id, "before_container_created"));
                    continue;
                }
                if let Some(run) = run_named(e)
                    && !runs
                        .get(run)
                        .is_some_and(|r| crate::runs::may_complete(caller, r))
                {
                    results[i] = Some(reject(id, "not_your_run"));
                    continue;
                }
                seen_in_batch.insert(id.clone(), c.id.clone());
                todo.entry(c.id.clone()).or_default().push(i);
            }
        }
    }

    let mut states: HashMap<String, String> = by_code
        .values()
        .map(|(c, _)| (c.id.clone(), c.state.clone()))
        .collect();
    let mut p = Plan {
        results: Vec::new(),
        events: Vec::new(),
        derived: store::DerivedBatch::new(conn, Vec::new()),
        weighed: Vec::new(),
        collects: Vec::new(),
        received,
        tz,
        actor: caller.user_id.clone(),
    };
    if !todo.is_empty() {
        let rows: HashMap<String, (ContainerRow, Site)> = by_code
            .into_values()
            .filter(|(c, _)| todo.contains_key(&c.id))
            .map(|(c, i)| (c.id.clone(), (c, i)))
            .collect();
        append_all(
            conn,
            caller,
            events,
            &ids,
            &todo,
            rows,
            lock,
            &mut states,
            &mut p,
        )?;
        for idxs in todo.values() {
            for &i in idxs {
                results[i] = Some(outcome(&ids[i], ScanStatus::Accepted));
            }
        }
    }

    p.results = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.unwrap_or_else(|| reject(&ids[i], "unknown_code"));
            if r.status != ScanStatus::Rejected
                && let Some(s) = container_of[i].as_ref().and_then(|c| states.get(c))
            {
                r.state = Some(parse_enum::<ContainerState>(s)?);
            }
            Ok(r)
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(p)
}

/// The run a collect scan names, if it names one (as stored: trimmed, blank is none).
fn run_named(e: &ScanEvent) -> Option<&str> {
    (e.action == ScanAction::Collect)
        .then_some(e.run_id.as_deref())
        .flatten()
        .map(str::trim)
        .filter(|r| !r.is_empty())
}

/// The runs the batch's collect scans name (one query for the batch, none for a batch that
/// names no run): whose they are decides whether a scan may complete their stops.
fn runs_of(
    conn: &mut DbConnection,
    events: &[ScanEvent],
    codes_of: &[Option<String>],
) -> Result<HashMap<String, crate::runs::RunOwner>, ApiError> {
    let mut ids: Vec<&str> = events
        .iter()
        .zip(codes_of)
        .filter(|(_, code)| code.is_some())
        .filter_map(|(e, _)| run_named(e))
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    ids.sort_unstable();
    ids.dedup();
    let found: Vec<crate::runs::RunOwner> = by_keys(
        conn,
        "SELECT id, org_id, driver_id FROM runs WHERE id IN (SELECT value FROM json_each(?))",
        &ids,
        |pg| {
            runs::table
                .filter(runs::id.eq_any(&ids))
                .select(crate::runs::RunOwner::as_select())
                .load(pg)
        },
    )?;
    Ok(found.into_iter().map(|r| (r.id.clone(), r)).collect())
}

/// Stores a plan made without locks. On PostgreSQL a batch that only appends events, the
/// common case, is one statement (`DerivedBatch::save_with_events_pg`); pickups completing
/// run stops, boxes weighed inside a big box, and SQLite without the scan writer take
/// `write`'s transaction; a batch of replays and refusals writes nothing.
fn write_unlocked(conn: &mut DbConnection, p: Plan) -> Result<Vec<ScanResult>, ApiError> {
    let appends_only = p.weighed.is_empty() && p.collects.is_empty();
    match conn {
        _ if appends_only && p.events.is_empty() && p.derived.is_empty() => Ok(p.results),
        DbConnection::Postgresql(pg) if appends_only => {
            p.derived.save_with_events_pg(pg, &p.events)?;
            Ok(p.results)
        }
        _ => crate::db::write_tx(conn, |conn| write(conn, p)),
    }
}

/// Stores a plan. The containers are written first, each only if it is still at the version
/// the plan read (which also takes their row locks on PostgreSQL); an unlocked plan that went
/// stale fails with `store::stale()` before anything else is written.
fn write(conn: &mut DbConnection, p: Plan) -> Result<Vec<ScanResult>, ApiError> {
    p.derived.save(conn)?;
    if !p.weighed.is_empty() {
        let ids: Vec<&String> = p.weighed.iter().map(|(id, _)| id).collect();
        let now: HashMap<String, i32> = containers::table
            .filter(containers::id.eq_any(&ids))
            .select((containers::id, containers::version))
            .load::<(String, i32)>(conn)?
            .into_iter()
            .collect();
        if p.weighed.iter().any(|(id, v)| now.get(id) != Some(v)) {
            return Err(store::stale());
        }
    }
    store::insert_events(conn, &p.events)?;
    // Pickups on a run complete its stops and open the institutions' manifests.
    for (run, inst, hub, at) in &p.collects {
        crate::runs::store::on_collect(
            conn,
            run,
            &p.actor,
            inst,
            hub.as_deref(),
            *at,
            p.received,
            p.tz,
        )?;
    }
    Ok(p.results)
}

fn outcome(event_id: &str, status: ScanStatus) -> ScanResult {
    ScanResult {
        event_id: event_id.to_owned(),
        status,
        state: None,
        reason: None,
        field: None,
    }
}

/// Rows selected by a batch's keys: on SQLite by `sqlite` (one `?`, bound to the keys as a
/// JSON array: a statement diesel keeps prepared), on PostgreSQL by `pg` (`= ANY`, an array).
fn by_keys<T, K>(
    conn: &mut DbConnection,
    sqlite: &'static str,
    keys: &[K],
    pg: impl FnOnce(&mut diesel::PgConnection) -> QueryResult<Vec<T>>,
) -> Result<Vec<T>, ApiError>
where
    T: QueryableByName<diesel::sqlite::Sqlite> + 'static,
    K: AsRef<str>,
{
    Ok(match conn {
        DbConnection::Sqlite(lite) => JsonBatch::keys(sqlite, keys).load(lite)?,
        DbConnection::Postgresql(c) => pg(c)?,
    })
}

/// An event id already stored, and its container.
#[derive(Queryable, QueryableByName, Selectable)]
#[diesel(table_name = scan_events)]
struct StoredId {
    id: String,
    container_id: String,
}

/// A box inside one of the batch's containers.
#[derive(Queryable, QueryableByName, Selectable)]
#[diesel(table_name = containers)]
struct Child {
    parent_id: Option<String>,
    id: String,
    seal_weight_g: Option<i32>,
    version: i32,
}

/// Which containers to read.
enum Keys<'a> {
    Codes(&'a [String]),
    Ids(&'a [String]),
}

/// Reads containers, under their locks if asked: on PostgreSQL the same statement takes their
/// row locks in id order (so that concurrent batches cannot deadlock on them); SQLite's writer
/// holds the database's write lock already.
fn read(
    conn: &mut DbConnection,
    keys: Keys<'_>,
    lock: Lock,
) -> Result<Vec<ContainerRow>, ApiError> {
    macro_rules! read {
        ($filter:expr) => {
            |pg: &mut diesel::PgConnection| {
                let q = containers::table
                    .filter($filter)
                    .order(containers::id.asc())
                    .select(ContainerRow::as_select());
                if lock == Lock::Rows {
                    q.for_update().load(pg)
                } else {
                    q.load(pg)
                }
            }
        };
    }
    match keys {
        Keys::Codes(c) => by_keys(
            conn,
            "SELECT * FROM containers WHERE code IN (SELECT value FROM json_each(?)) ORDER BY id",
            c,
            read!(containers::code.eq_any(c)),
        ),
        Keys::Ids(i) => by_keys(
            conn,
            "SELECT * FROM containers WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            i,
            read!(containers::id.eq_any(i)),
        ),
    }
}

/// Chains the accepted events (and what big boxes pass on to their children) onto their
/// containers and refolds each touched container, into the plan.
#[allow(clippy::too_many_arguments)]
fn append_all(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    ids: &[String],
    todo: &BTreeMap<String, Vec<usize>>,
    mut rows: HashMap<String, (ContainerRow, Site)>,
    lock: Lock,
    states: &mut HashMap<String, String>,
    p: &mut Plan,
) -> Result<(), ApiError> {
    let received = p.received;
    // Children of the big boxes among the touched containers (most batches have none: their
    // contents are not read then).
    let parents: Vec<&String> = todo
        .keys()
        .filter(|id| rows.get(*id).is_some_and(|(c, _)| c.holds > 0))
        .collect();
    let children: Vec<Child> = if parents.is_empty() {
        Vec::new()
    } else {
        by_keys(
            conn,
            "SELECT parent_id, id, seal_weight_g, version FROM containers \
             WHERE parent_id IN (SELECT value FROM json_each(?))",
            &parents,
            |pg| {
                containers::table
                    .filter(containers::parent_id.eq_any(&parents))
                    .select(Child::as_select())
                    .load(pg)
            },
        )?
    };
    let mut children_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // What the boxes hold by their stored seal weights, to check a big box's own weight.
    let mut child_weights: HashMap<String, i64> = HashMap::new();
    let mut weighed: Vec<(String, i32)> = Vec::new();
    for Child {
        parent_id,
        id,
        seal_weight_g: seal_g,
        version,
    } in children
    {
        if let Some(p) = parent_id {
            *child_weights.entry(p.clone()).or_insert(0) += i64::from(seal_g.unwrap_or(0));
            children_of.entry(p).or_default().push(id.clone());
            weighed.push((id, version));
        }
    }
    let mut inherited: BTreeMap<String, Vec<EventRow>> = BTreeMap::new();
    let mut new_events: Vec<EventRow> = Vec::new();
    let mut touched: Vec<String> = Vec::new();
    // Events each touched container had before this batch.
    let mut prior: HashMap<String, i32> = rows
        .iter()
        .map(|(id, (c, _))| (id.clone(), c.event_count))
        .collect();
    for (cid, idxs) in todo {
        let (row, _) = rows
            .get_mut(cid)
            .ok_or_else(|| ApiError::Internal("container vanished".into()))?;
        for &i in idxs {
            let ev = event_row(caller, &events[i], &ids[i], received, None);
            let ev = store::chain_next(row, ev);
            if propagates(events[i].action) {
                for child in children_of.get(cid).into_iter().flatten() {
                    let derived_id = uuid::Uuid::new_v5(
                        &NEST_NAMESPACE,
                        format!("{}:{child}", ev.id).as_bytes(),
                    )
                    .to_string();
                    inherited.entry(child.clone()).or_default().push(EventRow {
                        id: derived_id,
                        via_parent: Some(row.code.clone()),
                        ..ev.clone()
                    });
                }
            }
            new_events.push(ev);
        }
        touched.push(cid.clone());
    }
    if !inherited.is_empty() {
        let child_ids: Vec<String> = inherited.keys().cloned().collect();
        let loaded = read(conn, Keys::Ids(&child_ids), lock)?;
        for (c, i) in with_sites(conn, loaded)? {
            prior.insert(c.id.clone(), c.event_count);
            rows.insert(c.id.clone(), (c, i));
        }
        for (child, evs) in inherited {
            let (row, _) = rows
                .get_mut(&child)
                .ok_or_else(|| ApiError::Internal("child vanished".into()))?;
            for ev in evs {
                new_events.push(store::chain_next(row, ev));
            }
            touched.push(child);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for e in new_events.iter().filter(|e| e.action == "collect") {
        let (Some(run), Some((_, inst))) = (&e.run_id, rows.get(&e.container_id)) else {
            continue;
        };
        if seen.insert((run.clone(), inst.id.clone())) {
            p.collects.push((
                run.clone(),
                inst.id.clone(),
                inst.hub_id.clone(),
                e.occurred_at,
            ));
        }
    }

    // Refold every touched container from its whole history: what was stored before this
    // batch (read only for containers that had events) and what this batch adds.
    let mut history: HashMap<String, Vec<FoldEvent>> = HashMap::new();
    let had_events: Vec<&String> = touched
        .iter()
        .filter(|c| prior.get(*c).is_some_and(|n| *n > 0))
        .collect();
    if !had_events.is_empty() {
        let stored: Vec<EventRow> = by_keys(
            conn,
            "SELECT * FROM scan_events WHERE container_id IN (SELECT value FROM json_each(?))",
            &had_events,
            |pg| {
                scan_events::table
                    .filter(scan_events::container_id.eq_any(&had_events))
                    .select(EventRow::as_select())
                    .load(pg)
            },
        )?;
        for e in stored {
            let f = e.fold_event()?;
            history.entry(e.container_id).or_default().push(f);
        }
    }
    for e in &new_events {
        let f = e.fold_event()?;
        history.entry(e.container_id.clone()).or_default().push(f);
    }
    // Children first, so that a parent's check sees their weights as stored.
    touched.reverse();
    for cid in &touched {
        let (row, inst) = rows
            .get_mut(cid)
            .ok_or_else(|| ApiError::Internal("container vanished".into()))?;
        let places = inst.places;
        let evs = history.remove(cid).unwrap_or_default();
        let d = store::derive_folded(row, &evs, places, child_weights.get(cid).copied(), received);
        states.insert(cid.clone(), enum_str(&d.state));
    }
    let derived: Vec<ContainerRow> = touched
        .iter()
        .filter_map(|id| rows.remove(id).map(|(c, _)| c))
        .collect();
    p.derived = store::DerivedBatch::new(conn, derived);
    p.weighed = weighed
        .into_iter()
        .filter(|(id, _)| !touched.contains(id))
        .collect();
    p.events = new_events;
    Ok(())
}

fn event_row(
    caller: &Caller,
    e: &ScanEvent,
    id: &str,
    received: chrono::NaiveDateTime,
    via: Option<String>,
) -> EventRow {
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    EventRow {
        id: id.to_owned(),
        container_id: String::new(),
        seq: 0,
        action: enum_str(&e.action),
        occurred_at: micros(e.occurred_at),
        received_at: received,
        actor_id: caller.user_id.clone(),
        actor_role: caller.role.as_str().to_owned(),
        weight_g: e.weight_kg.map(grams),
        lat: e.location.map(|l| l.lat),
        lng: e.location.map(|l| l.lng),
        run_id: clean(&e.run_id),
        reason: clean(&e.reason),
        method: clean(&e.method),
        device_id: clean(&e.device_id),
        via_parent: via,
        parent_code: None,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::users;
    use crate::db::scratch::Scratch;
    use crate::db::{Backend, Db};
    use yifei_contract::{Category, LatLng, NewContainer, Packaging};

    fn caller(conn: &mut DbConnection, role: &str) -> Caller {
        let (user_id, org, inst): (String, Option<String>, Option<String>) = users::table
            .filter(users::role.eq(role))
            .order(users::login.asc())
            .select((users::id, users::org_id, users::institution_id))
            .first(conn)
            .expect("demo user");
        Caller {
            user_id,
            role: parse_enum(role).expect("role"),
            tenant: inst.or(org),
        }
    }

    /// A demo county in a fresh database of `backend`, loaded at `now`; `None` when
    /// PostgreSQL is unreachable and not required (see `Scratch::create`).
    fn demo_db(backend: Backend) -> Option<(Scratch, Db, DateTime<Utc>)> {
        let scratch = Scratch::create(backend)?;
        let db = Db::open(&scratch.url).expect("db");
        let now = Utc::now();
        crate::demo::load_if_empty(&mut db.conn().expect("conn"), now).expect("demo");
        Some((scratch, db, now))
    }

    /// Runs a scenario on SQLite and on PostgreSQL: they store unlocked plans differently
    /// (one transaction through `write`; one statement).
    macro_rules! both {
        ($($name:ident),+) => {
            $(mod $name {
                #[test]
                fn sqlite() {
                    super::$name(crate::db::Backend::Sqlite);
                }
                #[test]
                fn postgres() {
                    super::$name(crate::db::Backend::Postgres);
                }
            })+
        };
    }

    fn scan(code: &str, action: ScanAction, minutes_ago: i64, now: DateTime<Utc>) -> ScanEvent {
        ScanEvent {
            event_id: uuid::Uuid::now_v7(),
            code: code.to_owned(),
            action,
            occurred_at: now - Duration::minutes(minutes_ago),
            weight_kg: Some(3.0),
            location: None::<LatLng>,
            run_id: None,
            reason: None,
            method: None,
            device_id: None,
        }
    }

    /// A batch worked out without locks must not be stored over a change it did not see: here
    /// a box is nested into the big box between the plan of a pickup and its write. The write
    /// is refused as stale, and the batch worked out again passes the pickup on to the box.
    fn a_plan_gone_stale_is_refused_and_redone(backend: Backend) {
        let Some((_scratch, db, now)) = demo_db(backend) else {
            return;
        };
        let mut conn = db.conn().expect("conn");
        let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("tz");
        let (keeper, driver) = (caller(&mut conn, "hub_keeper"), caller(&mut conn, "driver"));
        let label = |conn: &mut DbConnection, packaging| {
            let spec = NewContainer {
                category: Category::Infectious,
                packaging,
                note: None,
            };
            store::create(conn, &keeper, 1, &spec, now - Duration::hours(1), tz).expect("label")[0]
                .code
                .clone()
        };
        let (big, small) = (
            label(&mut conn, Packaging::Box),
            label(&mut conn, Packaging::Bag),
        );
        let seals = [
            scan(&big, ScanAction::Seal, 30, now),
            scan(&small, ScanAction::Seal, 30, now),
        ];
        ingest(&mut conn, &keeper, &seals, now, TimeLimits::DEFAULT, tz).expect("seal");

        let pickup = [scan(&big, ScanAction::Collect, 5, now)];
        let p = plan(
            &mut conn,
            &driver,
            &pickup,
            now,
            TimeLimits::DEFAULT,
            tz,
            Lock::None,
        )
        .expect("plan");
        store::nest(
            &mut conn,
            &keeper,
            &big,
            std::slice::from_ref(&small),
            now - Duration::minutes(10),
            now,
            tz,
        )
        .expect("nest");
        let stale = write_unlocked(&mut conn, p);
        assert!(
            matches!(&stale, Err(e) if is_retryable(e)),
            "a stale plan was written: {:?}",
            stale.map(|r| r.len())
        );
        let collects = |conn: &mut DbConnection, code: &str| -> i64 {
            scan_events::table
                .inner_join(containers::table)
                .filter(containers::code.eq(code))
                .filter(scan_events::action.eq("collect"))
                .count()
                .get_result(conn)
                .expect("count")
        };
        assert_eq!(
            collects(&mut conn, &big),
            0,
            "the refused plan left its event behind"
        );

        let results =
            ingest(&mut conn, &driver, &pickup, now, TimeLimits::DEFAULT, tz).expect("pickup");
        assert_eq!(results[0].status, ScanStatus::Accepted);
        assert_eq!(
            collects(&mut conn, &small),
            1,
            "the box inside did not follow the pickup"
        );
    }

    /// The same event id sent for two containers by two phones at once: the batch worked out
    /// second finds the id taken when it stores its events. The write is refused as stale (not
    /// a server error), and worked out again the event is refused as a reused id.
    fn an_event_id_taken_meanwhile_makes_the_plan_stale(backend: Backend) {
        let Some((_scratch, db, now)) = demo_db(backend) else {
            return;
        };
        let mut conn = db.conn().expect("conn");
        let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("tz");
        let keeper = caller(&mut conn, "hub_keeper");
        let spec = NewContainer {
            category: Category::Infectious,
            packaging: Packaging::Bag,
            note: None,
        };
        let codes: Vec<String> =
            store::create(&mut conn, &keeper, 2, &spec, now - Duration::hours(1), tz)
                .expect("label")
                .into_iter()
                .map(|c| c.code)
                .collect();
        let first = scan(&codes[0], ScanAction::Seal, 5, now);
        let second = ScanEvent {
            code: codes[1].clone(),
            ..first.clone()
        };
        let p = plan(
            &mut conn,
            &keeper,
            std::slice::from_ref(&second),
            now,
            TimeLimits::DEFAULT,
            tz,
            Lock::None,
        )
        .expect("plan");
        let r = ingest(&mut conn, &keeper, &[first], now, TimeLimits::DEFAULT, tz).expect("first");
        assert_eq!(r[0].status, ScanStatus::Accepted);
        let stale = write_unlocked(&mut conn, p);
        assert!(
            matches!(&stale, Err(e) if is_retryable(e)),
            "a stale plan was not refused as stale: {:?}",
            stale.map(|r| r.len())
        );
        let untouched: String = containers::table
            .filter(containers::code.eq(&codes[1]))
            .select(containers::state)
            .first(&mut **conn)
            .expect("state");
        assert_eq!(untouched, "labelled", "the refused plan sealed the box");
        let r = ingest(&mut conn, &keeper, &[second], now, TimeLimits::DEFAULT, tz).expect("again");
        assert_eq!(r[0].reason.as_deref(), Some("event_id_reused"));
    }

    #[test]
    fn device_times_and_text_are_checked_before_the_database() {
        let now = Utc::now();
        let clinic = Caller {
            user_id: "u".into(),
            role: Role::ClinicStaff,
            tenant: Some("i".into()),
        };
        let code = codes::generate().expect("code");
        let check = |e: &ScanEvent| precheck(&clinic, e, now, TimeLimits::DEFAULT).err();
        let e = scan(&code, ScanAction::Seal, 10, now);
        assert_eq!(check(&e), None);
        let old = |minutes| scan(&code, ScanAction::Seal, minutes, now);
        assert_eq!(
            check(&old(30 * 24 * 60 + 1)),
            Some(("stale_timestamp", None))
        );
        assert_eq!(check(&old(30 * 24 * 60 - 1)), None);
        assert_eq!(check(&old(-6)), Some(("future_timestamp", None)));
        let nul = ScanEvent {
            device_id: Some("phone\0".into()),
            ..e.clone()
        };
        assert_eq!(check(&nul), Some(("invalid_text", Some("device_id"))));
        let nul = ScanEvent {
            code: format!("{code}\0"),
            ..e.clone()
        };
        assert_eq!(check(&nul), Some(("invalid_text", Some("code"))));
        let collect = ScanEvent {
            action: ScanAction::Collect,
            run_id: Some("  r1 ".into()),
            ..e.clone()
        };
        assert_eq!(run_named(&collect), Some("r1"));
        assert_eq!(
            run_named(&ScanEvent {
                run_id: Some(" ".into()),
                ..collect.clone()
            }),
            None
        );
        assert_eq!(
            run_named(&ScanEvent {
                action: ScanAction::Seal,
                ..collect
            }),
            None,
            "only collect scans complete stops"
        );
    }

    both!(
        a_plan_gone_stale_is_refused_and_redone,
        an_event_id_taken_meanwhile_makes_the_plan_stale
    );
}
