//! What a manifest line records beyond its weights (issue 17): how each weight was taken,
//! the driver's refusal at the door, the plant's disposal record. Read from the custody log
//! like the rest of the manifest, so the paper always agrees with the scans.

use std::collections::HashMap;

use diesel::prelude::*;
use yifei_contract::{LineDisposal, LineRefusal, WeightSources};

use crate::custody::store::{ContainerRow, EventRow};
use crate::custody::{refusal, weighing};
use crate::db::DbConnection;
use crate::db::schema::{containers, scan_events};
use crate::error::ApiError;

/// Per container id: how its weights were taken, its disposal if disposed of, and the fields
/// an approved correction changed.
pub type Extras = HashMap<String, (WeightSources, Option<LineDisposal>, Vec<String>)>;

/// Reads the extras of the manifest's containers in one query.
pub fn extras(conn: &mut DbConnection, ids: &[String]) -> Result<Extras, ApiError> {
    let events: Vec<EventRow> = scan_events::table
        .filter(scan_events::container_id.eq_any(ids))
        .filter(scan_events::action.eq_any(["seal", "collect", "receive", "dispose", "correct"]))
        .select(EventRow::as_select())
        .load(conn)?;
    let mut by: HashMap<String, Vec<EventRow>> = HashMap::new();
    for e in events {
        by.entry(e.container_id.clone()).or_default().push(e);
    }
    Ok(by
        .into_iter()
        .map(|(id, evs)| {
            let facts: Vec<_> = evs
                .iter()
                .map(|e| {
                    (
                        e.action.as_str(),
                        e.occurred_at,
                        e.seq,
                        e.weight_g.is_some(),
                        e.weight_source.as_deref(),
                    )
                })
                .collect();
            let disposal = evs
                .iter()
                .filter(|e| e.action == "dispose")
                .min_by_key(|e| (e.occurred_at, e.seq))
                .map(disposal_of);
            let mut corrected: Vec<String> = evs
                .iter()
                .filter(|e| e.action == "correct")
                .filter_map(|e| match (&e.corrects, &e.new_value) {
                    (Some(target), _) => evs
                        .iter()
                        .find(|t| &t.id == target)
                        .and_then(|t| crate::custody::corrections::weight_field(&t.action))
                        .map(str::to_owned),
                    (None, Some(_)) => Some("category".to_owned()),
                    (None, None) => None,
                })
                .collect();
            corrected.sort();
            corrected.dedup();
            (id, (weighing::sources_of(&facts), disposal, corrected))
        })
        .collect())
}

/// The disposal record of a dispose event.
pub fn disposal_of(e: &EventRow) -> LineDisposal {
    let method = e.method.clone().unwrap_or_default();
    LineDisposal {
        method_zh: crate::manifests::paper::method_zh(&method),
        method,
        batch: e.batch.clone(),
        at: e.disposed_at.unwrap_or(e.occurred_at).and_utc(),
    }
}

/// The refusals at the door on `run_id` of `institution_id`'s containers, the latest per
/// container, with the containers.
pub fn refused(
    conn: &mut DbConnection,
    run_id: &str,
    institution_id: &str,
) -> Result<Vec<(LineRefusal, ContainerRow)>, ApiError> {
    let rows: Vec<(EventRow, ContainerRow)> = scan_events::table
        .inner_join(containers::table)
        .filter(scan_events::run_id.eq(run_id))
        .filter(scan_events::action.eq("refuse"))
        .filter(containers::institution_id.eq(institution_id))
        .order((scan_events::occurred_at.desc(), scan_events::seq.desc()))
        .select((EventRow::as_select(), ContainerRow::as_select()))
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|(_, c)| seen.insert(c.id.clone()))
        .map(|(e, c)| {
            let reason = e.reason.clone().unwrap_or_default();
            (
                LineRefusal {
                    reason_zh: refusal::words(&reason),
                    reason,
                    at: e.occurred_at.and_utc(),
                    by: e.actor_id.clone(),
                },
                c,
            )
        })
        .collect())
}
