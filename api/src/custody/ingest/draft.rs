//! Working a batch out without writing anything: validation, tenancy, duplicates, chains and
//! folds, into a [`Draft`] that `write` stores.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{ContainerState, ScanEvent, ScanResult, ScanStatus};

use super::TimeLimits;
use super::checks::{outcome, precheck, propagates, refuse, reject, tenant_may};
use super::read::{
    Child, Keys, Site, by_keys, read, read_batch, refusal_stops, run_named, runs_of, stored_ids,
    with_sites,
};
use crate::auth::Caller;
use crate::custody::fold::FoldEvent;
use crate::custody::store::{self, ContainerRow, EventRow, NEST_NAMESPACE};
use crate::custody::{grams, micros};
use crate::db::DbConnection;
use crate::db::schema::{containers, scan_events};
use crate::error::ApiError;
use crate::wire::{enum_str, parse_enum};

/// What a batch stores, worked out from what was read (a draft, so that "plan" keeps its one
/// meaning, a day's routes): the answers, the chained events, the
/// containers' new derived state (each still carrying the version it was read at), and what
/// else the work depended on.
pub(crate) struct Draft {
    pub(super) results: Vec<ScanResult>,
    pub(super) events: Vec<EventRow>,
    pub(super) derived: store::DerivedBatch,
    /// Boxes weighed inside a big box without being rewritten, with the versions weighed.
    pub(super) weighed: Vec<(String, i32)>,
    /// Pickups on a run: (run, institution, its hub, when), one per run and institution.
    pub(super) collects: Vec<(String, String, Option<String>, chrono::NaiveDateTime)>,
    /// Refusals at the door on a run: (run, institution, when), which open its manifest.
    pub(super) refusals: Vec<(String, String, chrono::NaiveDateTime)>,
    pub(super) received: chrono::NaiveDateTime,
    pub(super) tz: chrono::FixedOffset,
    /// Who scanned: completes the stops of `collects` (checked by `runs::may_complete`).
    pub(super) actor: String,
}

/// Whether the reads of a draft take the containers' locks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// PostgreSQL row locks (SQLite's writer holds the database's lock already): the draft
    /// cannot go stale before it is written.
    Rows,
    /// Plain reads, outside the writer: `write` finds out if the draft went stale.
    None,
}

/// Works a batch out without writing anything: validation, tenancy, duplicates, chains and
/// folds. Kept apart from `write` so that on SQLite this runs on a reader, in parallel with
/// the single writer, which then only stores the result.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draft(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    now: DateTime<Utc>,
    limits: TimeLimits,
    tz: chrono::FixedOffset,
    lock: Lock,
) -> Result<Draft, ApiError> {
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
    let stops = refusal_stops(conn, events)?;
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
        let Some((c, site)) = by_code
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
                if e.action == yifei_contract::ScanAction::Refuse
                    && !run_named(e).is_some_and(|run| {
                        std::iter::once(&site.id)
                            .chain(site.hub_id.as_ref())
                            .any(|at| stops.contains(&(run.to_owned(), at.clone())))
                    })
                {
                    results[i] = Some(reject(id, "not_on_run"));
                    continue;
                }
                // A part a manifest signature covers is sealed (issue #17): a later scan
                // that would change it is refused; an approved correction changes it.
                let action = crate::wire::enum_str(&e.action);
                if crate::manifests::signatures::sealable(&action)
                    && crate::manifests::signatures::seal_for(
                        conn,
                        &c.id,
                        &c.institution_id,
                        run_named(e),
                        &action,
                    )?
                    .is_some()
                {
                    results[i] = Some(reject(id, "sealed_by_signature"));
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
    let mut p = Draft {
        results: Vec::new(),
        events: Vec::new(),
        derived: store::DerivedBatch::new(conn, Vec::new()),
        weighed: Vec::new(),
        collects: Vec::new(),
        refusals: Vec::new(),
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

/// Chains the accepted events (and what big boxes pass on to their children) onto their
/// containers and refolds each touched container, into the draft.
#[allow(clippy::too_many_arguments)]
pub(super) fn append_all(
    conn: &mut DbConnection,
    caller: &Caller,
    events: &[ScanEvent],
    ids: &[String],
    todo: &BTreeMap<String, Vec<usize>>,
    mut rows: HashMap<String, (ContainerRow, Site)>,
    lock: Lock,
    states: &mut HashMap<String, String>,
    p: &mut Draft,
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

    let mut seen_refusals = std::collections::HashSet::new();
    for e in new_events.iter().filter(|e| e.action == "refuse") {
        let (Some(run), Some((_, inst))) = (&e.run_id, rows.get(&e.container_id)) else {
            continue;
        };
        if seen_refusals.insert((run.clone(), inst.id.clone())) {
            p.refusals
                .push((run.clone(), inst.id.clone(), e.occurred_at));
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

pub(super) fn event_row(
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
        weight_source: e
            .weight_kg
            .and(crate::custody::weighing::stored(e.weight_source)),
        batch: clean(&e.batch),
        disposed_at: e.disposed_at.map(micros),
        corrects: None,
        new_value: None,
    }
}
