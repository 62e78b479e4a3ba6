//! Scan ingest: a batch of offline scans, each accepted, recognised as a duplicate, or
//! rejected with a reason, in one transaction committed before the answer is sent.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use yifei_contract::{ContainerState, Role, ScanAction, ScanEvent, ScanResult, ScanStatus};

use super::fold::Places;
use super::store::{self, ContainerRow, EventRow, NEST_NAMESPACE};
use super::{MAX_WEIGHT_KG, codes, grams, micros, role_may};
use crate::auth::Caller;
use crate::db::DbConnection;
use crate::db::schema::{containers, institutions, scan_events};
use crate::error::ApiError;
use crate::wire::{enum_str, parse_enum};

/// Device clocks may run this far ahead of the server's before a scan is refused.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::minutes(5);

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

fn reject(event_id: &str, reason: &str) -> ScanResult {
    ScanResult {
        event_id: event_id.to_owned(),
        status: ScanStatus::Rejected,
        state: None,
        reason: Some(reason.to_owned()),
    }
}

/// Checks what can be checked without the database; `Err` is the rejection reason.
fn precheck(
    caller: &Caller,
    e: &ScanEvent,
    now: DateTime<Utc>,
    skew: Duration,
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

#[derive(Queryable, Selectable)]
#[diesel(table_name = institutions)]
struct SiteRow {
    id: String,
    hub_id: Option<String>,
    lat: f64,
    lng: f64,
}

/// Pairs containers with their institutions' sites: one query for the distinct institutions
/// and one for their hubs, whatever the number of institutions in the batch.
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
    let found: Vec<SiteRow> = institutions::table
        .filter(institutions::id.eq_any(&ids))
        .select(SiteRow::as_select())
        .load(conn)?;
    let mut at: HashMap<String, (f64, f64)> = found
        .iter()
        .map(|s| (s.id.clone(), (s.lat, s.lng)))
        .collect();
    let mut hubs: Vec<&str> = found
        .iter()
        .filter_map(|s| s.hub_id.as_deref())
        .filter(|h| !at.contains_key(*h))
        .collect();
    hubs.sort_unstable();
    hubs.dedup();
    if !hubs.is_empty() {
        for (id, lat, lng) in institutions::table
            .filter(institutions::id.eq_any(&hubs))
            .select((institutions::id, institutions::lat, institutions::lng))
            .load::<(String, f64, f64)>(conn)?
        {
            at.insert(id, (lat, lng));
        }
    }
    let sites: HashMap<String, Site> = found
        .into_iter()
        .map(|s| {
            let places = Places {
                institution: (s.lat, s.lng),
                hub: s.hub_id.as_ref().and_then(|h| at.get(h).copied()),
            };
            let site = Site {
                id: s.id.clone(),
                hub_id: s.hub_id,
                places,
            };
            (s.id, site)
        })
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
pub struct GroupCommitter {
    queue: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

struct Job {
    caller: Caller,
    events: Vec<ScanEvent>,
    now: DateTime<Utc>,
    skew: Duration,
    tz: chrono::FixedOffset,
    reply: std::sync::mpsc::SyncSender<Result<Vec<ScanResult>, ApiError>>,
}

/// Most batches committed together.
const GROUP_MAX: usize = 16;

impl GroupCommitter {
    /// Starts the writer thread.
    pub fn start(db: crate::db::Db) -> GroupCommitter {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("scan-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < GROUP_MAX {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                    commit_group(&db, jobs);
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the scan writer"));
        GroupCommitter {
            queue: std::sync::Mutex::new(tx),
        }
    }

    /// Ingests a batch with the others waiting; blocks until it is committed.
    pub fn ingest(
        &self,
        caller: Caller,
        events: Vec<ScanEvent>,
        now: DateTime<Utc>,
        skew: Duration,
        tz: chrono::FixedOffset,
    ) -> Result<Vec<ScanResult>, ApiError> {
        check_batch(&events)?;
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let job = Job {
            caller,
            events,
            now,
            skew,
            tz,
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

fn commit_group(db: &crate::db::Db, jobs: Vec<Job>) {
    let stored = db.conn().and_then(|mut conn| {
        crate::db::write_tx(&mut conn, |conn| {
            Ok(jobs
                .iter()
                .map(|j| {
                    conn.transaction(|c| ingest_once(c, &j.caller, &j.events, j.now, j.skew, j.tz))
                })
                .collect::<Vec<_>>())
        })
    });
    match stored {
        Ok(results) => {
            for (job, r) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, batches = jobs.len(), "group commit failed");
            for job in jobs {
                let _ = job.reply.send(Err(ApiError::Unavailable(
                    "the scans could not be stored; nothing was kept, send them again".into(),
                )));
            }
        }
    }
}

/// Ingests a batch. Retries the whole transaction when concurrent writers collide (a
/// deadlock on PostgreSQL, a busy database on SQLite); replays make retries harmless.
pub fn ingest(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    now: DateTime<Utc>,
    skew: Duration,
    tz: chrono::FixedOffset,
) -> Result<Vec<ScanResult>, ApiError> {
    check_batch(events)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match crate::db::write_tx(conn, |conn| {
            ingest_once(conn, caller, events, now, skew, tz)
        }) {
            Err(e) if attempt < 6 && is_retryable(&e) => {
                tracing::debug!(attempt, error = %e, "scan batch collided; retrying");
                std::thread::sleep(std::time::Duration::from_millis(5 * attempt));
            }
            other => return other,
        }
    }
}

fn ingest_once(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    now: DateTime<Utc>,
    skew: Duration,
    tz: chrono::FixedOffset,
) -> Result<Vec<ScanResult>, ApiError> {
    let received = micros(now);
    let mut results: Vec<Option<ScanResult>> = vec![None; events.len()];
    let mut codes_of: Vec<Option<String>> = vec![None; events.len()];
    for (i, e) in events.iter().enumerate() {
        match precheck(caller, e, now, skew) {
            Ok(code) => codes_of[i] = Some(code),
            Err(reason) => results[i] = Some(reject(&e.event_id.to_string(), reason)),
        }
    }
    let wanted: Vec<String> = codes_of.iter().flatten().cloned().collect();
    // Read the containers under their locks, so that concurrent batches append to one chain
    // one after the other.
    let found: Vec<(ContainerRow, Site)> = if wanted.is_empty() {
        Vec::new()
    } else {
        let rows = locked(conn, Keys::Codes(&wanted))?;
        with_sites(conn, rows)?
    };
    let by_code: HashMap<String, (ContainerRow, Site)> = found
        .into_iter()
        .map(|(c, i)| (c.code.clone(), (c, i)))
        .collect();
    let ids: Vec<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    let stored: HashMap<String, String> = scan_events::table
        .filter(scan_events::id.eq_any(&ids))
        .select((scan_events::id, scan_events::container_id))
        .load::<(String, String)>(conn)?
        .into_iter()
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
                seen_in_batch.insert(id.clone(), c.id.clone());
                todo.entry(c.id.clone()).or_default().push(i);
            }
        }
    }

    let mut states: HashMap<String, String> = by_code
        .values()
        .map(|(c, _)| (c.id.clone(), c.state.clone()))
        .collect();
    if !todo.is_empty() {
        let rows: HashMap<String, (ContainerRow, Site)> = by_code
            .into_values()
            .filter(|(c, _)| todo.contains_key(&c.id))
            .map(|(c, i)| (c.id.clone(), (c, i)))
            .collect();
        apply(
            conn,
            caller,
            events,
            &ids,
            &todo,
            rows,
            received,
            tz,
            &mut states,
        )?;
        for idxs in todo.values() {
            for &i in idxs {
                results[i] = Some(outcome(&ids[i], ScanStatus::Accepted));
            }
        }
    }

    results
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
        .collect()
}

fn outcome(event_id: &str, status: ScanStatus) -> ScanResult {
    ScanResult {
        event_id: event_id.to_owned(),
        status,
        state: None,
        reason: None,
    }
}

/// Which containers to read under lock.
enum Keys<'a> {
    Codes(&'a [String]),
    Ids(&'a [String]),
}

/// Reads containers under their locks: on PostgreSQL the same statement takes their row locks
/// in id order (so that concurrent batches cannot deadlock on them); SQLite's writer holds
/// the database's write lock already.
fn locked(conn: &mut DbConnection, keys: Keys<'_>) -> Result<Vec<ContainerRow>, ApiError> {
    macro_rules! read {
        ($filter:expr) => {{
            let q = containers::table
                .filter($filter)
                .order(containers::id.asc());
            match conn {
                DbConnection::Postgresql(pg) => {
                    q.select(ContainerRow::as_select()).for_update().load(pg)?
                }
                DbConnection::Sqlite(lite) => q.select(ContainerRow::as_select()).load(lite)?,
            }
        }};
    }
    Ok(match keys {
        Keys::Codes(c) => read!(containers::code.eq_any(c)),
        Keys::Ids(i) => read!(containers::id.eq_any(i)),
    })
}

/// Appends the accepted events (and what big boxes pass on to their children) to the chains
/// with one insert, then refolds each touched container.
#[allow(clippy::too_many_arguments)]
fn apply(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    ids: &[String],
    todo: &BTreeMap<String, Vec<usize>>,
    mut rows: HashMap<String, (ContainerRow, Site)>,
    received: chrono::NaiveDateTime,
    tz: chrono::FixedOffset,
    states: &mut HashMap<String, String>,
) -> Result<(), ApiError> {
    let parents: Vec<String> = todo.keys().cloned().collect();
    // Children of big boxes among the touched containers.
    let children: Vec<(Option<String>, String, Option<i32>)> = containers::table
        .filter(containers::parent_id.eq_any(&parents))
        .select((
            containers::parent_id,
            containers::id,
            containers::seal_weight_g,
        ))
        .load(conn)?;
    let mut children_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // What the boxes hold by their stored seal weights, to check a big box's own weight.
    let mut child_weights: HashMap<String, i64> = HashMap::new();
    for (parent, id, seal_g) in children {
        if let Some(p) = parent {
            *child_weights.entry(p.clone()).or_insert(0) += i64::from(seal_g.unwrap_or(0));
            children_of.entry(p).or_default().push(id);
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
        let loaded = locked(conn, Keys::Ids(&child_ids))?;
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
    store::insert_events(conn, &new_events)?;
    // Pickups on a run complete its stops and open the institutions' manifests.
    let mut seen = std::collections::HashSet::new();
    for e in new_events.iter().filter(|e| e.action == "collect") {
        let (Some(run), Some((_, inst))) = (&e.run_id, rows.get(&e.container_id)) else {
            continue;
        };
        if seen.insert((run.clone(), inst.id.clone())) {
            crate::runs::store::on_collect(
                conn,
                run,
                &inst.id,
                inst.hub_id.as_deref(),
                e.occurred_at,
                received,
                tz,
            )?;
        }
    }

    // Refold every touched container from its whole history: what was stored before this
    // batch (read back only for containers that had events) and what this batch added.
    let mut history: HashMap<String, Vec<EventRow>> = HashMap::new();
    let had_events: Vec<&String> = touched
        .iter()
        .filter(|c| prior.get(*c).is_some_and(|n| *n > 0))
        .collect();
    if !had_events.is_empty() {
        for e in scan_events::table
            .filter(scan_events::container_id.eq_any(&had_events))
            .select(EventRow::as_select())
            .load::<EventRow>(conn)?
        {
            history.entry(e.container_id.clone()).or_default().push(e);
        }
    }
    for e in &new_events {
        if prior.get(&e.container_id).is_some_and(|n| *n == 0) {
            history
                .entry(e.container_id.clone())
                .or_default()
                .push(e.clone());
        }
    }
    // Children first, so that a parent's check sees their weights as stored.
    touched.reverse();
    let mut derived: Vec<String> = Vec::new();
    for cid in touched {
        let (row, inst) = rows
            .get_mut(&cid)
            .ok_or_else(|| ApiError::Internal("container vanished".into()))?;
        let places = inst.places;
        let evs = history.remove(&cid).unwrap_or_default();
        let d = store::derive(
            row,
            &evs,
            places,
            child_weights.get(&cid).copied(),
            received,
        )?;
        states.insert(cid.clone(), enum_str(&d.state));
        derived.push(cid);
    }
    let changed: Vec<ContainerRow> = derived
        .iter()
        .filter_map(|id| rows.get(id).map(|(c, _)| c.clone()))
        .collect();
    store::save_derived(conn, &changed)?;
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
