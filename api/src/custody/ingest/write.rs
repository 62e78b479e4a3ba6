//! Storing a draft: the containers only if still at the versions read, then the events and
//! what collect scans complete on runs.

use std::collections::HashMap;

use diesel::prelude::*;
use yifei_contract::ScanResult;

use super::draft::Draft;
use crate::custody::store;
use crate::db::DbConnection;
use crate::db::schema::containers;
use crate::error::ApiError;

/// Stores a draft made without locks. On PostgreSQL a batch that only appends events, the
/// common case, is one statement (`DerivedBatch::save_with_events_pg`); pickups completing
/// run stops, boxes weighed inside a big box, and SQLite without the scan writer take
/// `write`'s transaction; a batch of replays and refusals writes nothing.
pub(super) fn write_unlocked(
    conn: &mut DbConnection,
    p: Draft,
) -> Result<Vec<ScanResult>, ApiError> {
    let appends_only = p.weighed.is_empty() && p.collects.is_empty() && p.refusals.is_empty();
    match conn {
        _ if appends_only && p.events.is_empty() && p.derived.is_empty() => Ok(p.results),
        DbConnection::Postgresql(pg) if appends_only => {
            p.derived.save_with_events_pg(pg, &p.events)?;
            Ok(p.results)
        }
        _ => crate::db::write_tx(conn, |conn| write(conn, p)),
    }
}

/// Stores a draft. The containers are written first, each only if it is still at the version
/// the draft read (which also takes their row locks on PostgreSQL); an unlocked draft that went
/// stale fails with `store::stale()` before anything else is written.
pub(crate) fn write(conn: &mut DbConnection, p: Draft) -> Result<Vec<ScanResult>, ApiError> {
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
    // Refusals at the door put the container on the run's manifest of its institution.
    for (run, inst, at) in &p.refusals {
        crate::runs::store::open_manifest(conn, run, inst, *at, p.received, p.tz)?;
    }
    Ok(p.results)
}
