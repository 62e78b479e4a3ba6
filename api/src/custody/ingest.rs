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
use crate::institutions::store::InstitutionRow;
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

/// Whether the caller's tenant may scan this institution's container for this action.
/// Another tenant's container answers like an unknown code (existence is not leaked).
fn tenant_may(caller: &Caller, action: ScanAction, inst: &InstitutionRow) -> bool {
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

/// Ingests a batch. Retries the whole transaction when concurrent writers collide (a
/// deadlock on PostgreSQL, a busy database on SQLite); replays make retries harmless.
pub fn ingest(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<Vec<ScanResult>, ApiError> {
    if events.is_empty() || events.len() > super::MAX_BATCH {
        return Err(ApiError::invalid("events", "give 1 to 500 events"));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match crate::db::write_tx(conn, |conn| ingest_once(conn, caller, events, now, skew)) {
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
    let found: Vec<(ContainerRow, InstitutionRow)> = if wanted.is_empty() {
        Vec::new()
    } else {
        containers::table
            .inner_join(institutions::table)
            .filter(containers::code.eq_any(&wanted))
            .select((ContainerRow::as_select(), InstitutionRow::as_select()))
            .load(conn)?
    };
    let by_code: HashMap<String, (ContainerRow, InstitutionRow)> = found
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
        let Some((c, inst)) = by_code
            .get(code)
            .filter(|(_, inst)| tenant_may(caller, e.action, inst))
        else {
            results[i] = Some(reject(id, "unknown_code"));
            continue;
        };
        let _ = inst;
        container_of[i] = Some(c.id.clone());
        let earlier = stored.get(id).or_else(|| seen_in_batch.get(id));
        match earlier {
            Some(cid) if *cid == c.id => {
                results[i] = Some(ScanResult {
                    event_id: id.clone(),
                    status: ScanStatus::Duplicate,
                    state: None,
                    reason: None,
                })
            }
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
    let mut places_cache: HashMap<String, Places> = HashMap::new();
    let inst_of: HashMap<String, InstitutionRow> = by_code
        .values()
        .map(|(c, i)| (c.id.clone(), i.clone()))
        .collect();
    for (cid, idxs) in &todo {
        let mut row = store::lock(conn, cid, received)?;
        let inst = inst_of
            .get(cid)
            .ok_or_else(|| ApiError::Internal("container without institution".into()))?;
        let places = match places_cache.get(&inst.id) {
            Some(p) => *p,
            None => {
                let p = store::places(conn, inst)?;
                places_cache.insert(inst.id.clone(), p);
                p
            }
        };
        let children: Vec<(String, String)> = containers::table
            .filter(containers::parent_id.eq(cid))
            .order(containers::id.asc())
            .select((containers::id, containers::institution_id))
            .load(conn)?;
        let mut inherited: Vec<EventRow> = Vec::new();
        for &i in idxs {
            let e = &events[i];
            let ev = event_row(caller, e, &ids[i], received, None);
            if store::append(conn, &mut row, ev.clone())? {
                results[i] = Some(ScanResult {
                    event_id: ids[i].clone(),
                    status: ScanStatus::Accepted,
                    state: None,
                    reason: None,
                });
                if propagates(e.action) && !children.is_empty() {
                    inherited.push(EventRow {
                        via_parent: Some(row.code.clone()),
                        ..ev
                    });
                }
            } else {
                results[i] = Some(ScanResult {
                    event_id: ids[i].clone(),
                    status: ScanStatus::Duplicate,
                    state: None,
                    reason: None,
                });
            }
        }
        for (child_id, child_inst_id) in &children {
            if inherited.is_empty() {
                break;
            }
            let mut child = store::lock(conn, child_id, received)?;
            for ev in &inherited {
                let derived_id =
                    uuid::Uuid::new_v5(&NEST_NAMESPACE, format!("{}:{child_id}", ev.id).as_bytes())
                        .to_string();
                store::append(
                    conn,
                    &mut child,
                    EventRow {
                        id: derived_id,
                        ..ev.clone()
                    },
                )?;
            }
            let child_inst: InstitutionRow = institutions::table
                .find(child_inst_id)
                .select(InstitutionRow::as_select())
                .first(conn)?;
            let p = store::places(conn, &child_inst)?;
            store::refold(conn, &mut child, p, received)?;
        }
        let d = store::refold(conn, &mut row, places, received)?;
        states.insert(cid.clone(), enum_str(&d.state));
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
