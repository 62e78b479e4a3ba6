//! Plans and runs in the database.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{LatLng, PositionResult, Role, Run, RunStop};

use crate::auth::Caller;
use crate::db::schema::{
    containers, institutions, manifests, organisations, positions, run_stops, runs, vehicles,
};
use crate::db::{DbConnection, new_id, write_tx};
use crate::error::ApiError;
use crate::institutions::store::InstitutionRow;

// Named here too so that planning's import of it stays as it was.
pub use crate::config::Solving;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = runs)]
pub struct RunRow {
    pub id: String,
    pub plan_id: String,
    pub org_id: String,
    pub vehicle_id: String,
    pub driver_id: Option<String>,
    pub day: String,
    pub status: String,
    pub start_time: NaiveDateTime,
    pub end_time: NaiveDateTime,
    pub distance_m: f64,
    pub duration_s: f64,
    pub load_g: i32,
    pub created_at: NaiveDateTime,
    /// When the run's driver first fetched it (`GET /me/runs`, `GET /runs/{id}`).
    pub fetched_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = run_stops)]
pub struct StopRow {
    pub id: String,
    pub run_id: String,
    pub seq: i32,
    pub institution_id: String,
    pub eta: NaiveDateTime,
    pub deadline: Option<NaiveDateTime>,
    pub expected_g: i32,
    pub expected_containers: i32,
    pub reasons: String,
    pub status: String,
    pub skip_reason: Option<String>,
    pub completed_at: Option<NaiveDateTime>,
    pub completed_by: Option<String>,
}

pub(crate) fn company_site(
    conn: &mut DbConnection,
    org: &str,
) -> Result<(String, f64, f64), ApiError> {
    let (name, lat, lng): (String, Option<f64>, Option<f64>) = organisations::table
        .find(org)
        .select((organisations::name, organisations::lat, organisations::lng))
        .first(conn)?;
    match (lat, lng) {
        (Some(lat), Some(lng)) => Ok((name, lat, lng)),
        _ => Err(ApiError::Conflict(
            "the company has no plant position: set it with `yifei org create --lat --lng`".into(),
        )),
    }
}

/// The full run: stops with addresses, coordinates, ETAs and the containers waiting there.
pub fn detail_of(conn: &mut DbConnection, id: &str) -> Result<Run, ApiError> {
    let run: RunRow = runs::table
        .find(id)
        .select(RunRow::as_select())
        .first(conn)?;
    let plate: String = vehicles::table
        .find(&run.vehicle_id)
        .select(vehicles::plate)
        .first(conn)?;
    let (_, lat, lng) = company_site(conn, &run.org_id)?;
    let stops: Vec<(StopRow, InstitutionRow)> = run_stops::table
        .inner_join(institutions::table)
        .filter(run_stops::run_id.eq(id))
        .order(run_stops::seq.asc())
        .select((StopRow::as_select(), InstitutionRow::as_select()))
        .load(conn)?;
    let stop_ids: Vec<String> = stops
        .iter()
        .map(|(s, _)| s.institution_id.clone())
        .collect();
    // Containers waiting at each stop, where they physically are: its own and, at a hub,
    // the boxes its villages brought in (`at_hub`), never those still in the villages.
    let waiting: Vec<(String, String, String, Option<String>, String)> = containers::table
        .inner_join(institutions::table)
        .filter(containers::state.eq_any(["sealed", "at_hub"]))
        .filter(containers::parent_id.is_null())
        .filter(
            institutions::id
                .eq_any(&stop_ids)
                .or(institutions::hub_id.eq_any(&stop_ids)),
        )
        .select((
            containers::code,
            containers::state,
            institutions::id,
            institutions::hub_id,
            institutions::service_mode,
        ))
        .load(conn)?;
    let mut codes: HashMap<&str, Vec<String>> = HashMap::new();
    for (code, state, inst, hub, mode) in &waiting {
        let at = match hub {
            Some(h) if state == "at_hub" && mode == "via_hub" => h,
            _ => inst,
        };
        if stop_ids.contains(at) {
            codes.entry(at.as_str()).or_default().push(code.clone());
        }
    }
    let date = NaiveDate::parse_from_str(&run.day, "%Y-%m-%d")
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Run {
        id: run.id.clone(),
        plan_id: run.plan_id.clone(),
        date,
        vehicle_id: run.vehicle_id.clone(),
        plate,
        driver_id: run.driver_id.clone(),
        status: run.status.clone(),
        start_time: run.start_time.and_utc(),
        end_time: run.end_time.and_utc(),
        distance_km: (run.distance_m / 100.0).round() / 10.0,
        duration_min: (run.duration_s / 6.0).round() / 10.0,
        load_kg: f64::from(run.load_g) / 1000.0,
        depot: LatLng { lat, lng },
        stops: stops
            .iter()
            .map(|(s, i)| {
                let mut c = codes
                    .get(s.institution_id.as_str())
                    .cloned()
                    .unwrap_or_default();
                c.sort();
                RunStop {
                    seq: s.seq,
                    institution_id: s.institution_id.clone(),
                    name: i.name.clone(),
                    address: i.address.clone(),
                    location: LatLng {
                        lat: i.lat,
                        lng: i.lng,
                    },
                    phone: i.contact_phone.clone(),
                    eta: s.eta.and_utc(),
                    deadline: s.deadline.map(|d| d.and_utc()),
                    expected_kg: f64::from(s.expected_g) / 1000.0,
                    expected_containers: s.expected_containers,
                    reasons: serde_json::from_str(&s.reasons).unwrap_or_default(),
                    status: s.status.clone(),
                    skip_reason: s.skip_reason.clone(),
                    completed_at: s.completed_at.map(|d| d.and_utc()),
                    completed_by: s.completed_by.clone(),
                    containers: c,
                }
            })
            .collect(),
    })
}

/// A run the caller may see: the company's dispatchers and plant, the run's driver.
pub fn visible(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<RunRow, ApiError> {
    let run: Option<RunRow> = runs::table
        .find(id)
        .select(RunRow::as_select())
        .first(conn)
        .optional()?;
    let ok = |r: &RunRow| match caller.role {
        Role::Dispatcher | Role::PlantOperator => {
            caller.tenant.as_deref() == Some(r.org_id.as_str())
        }
        Role::Driver => r.driver_id.as_deref() == Some(caller.user_id.as_str()),
        Role::Admin => true,
        _ => false,
    };
    match run {
        Some(r) if ok(&r) => Ok(r),
        _ => Err(ApiError::NotFound(format!("no run {id}"))),
    }
}

/// Runs of a day: all the company's for dispatchers and the plant, the driver's own for
/// drivers, every company's for admin.
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    day: NaiveDate,
    mine: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Run>, ApiError> {
    let mut q = runs::table
        .filter(runs::day.eq(day.to_string()))
        .filter(runs::status.ne("cancelled"))
        .select(runs::id)
        .into_boxed();
    if mine {
        caller.require(&[Role::Driver])?;
        q = q.filter(runs::driver_id.eq(caller.user_id.clone()));
    } else {
        caller.require(&[Role::Dispatcher, Role::PlantOperator, Role::Admin])?;
        if caller.role != Role::Admin {
            q = q.filter(runs::org_id.eq(caller.tenant_id()?.to_owned()));
        }
    }
    let ids: Vec<String> = q.order(runs::id.asc()).load(conn)?;
    if mine {
        mark_fetched(conn, &ids, now)?;
    }
    ids.iter().map(|id| detail_of(conn, id)).collect()
}

/// Remembers that the driver has these runs on the phone, so that re-planning tells them
/// when one is replaced. One short write, and only for runs never fetched before.
pub fn mark_fetched(
    conn: &mut DbConnection,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let fresh: i64 = runs::table
        .filter(runs::id.eq_any(ids))
        .filter(runs::fetched_at.is_null())
        .count()
        .get_result(conn)?;
    if fresh > 0 {
        write_tx(conn, |conn| {
            diesel::update(
                runs::table
                    .filter(runs::id.eq_any(ids))
                    .filter(runs::fetched_at.is_null()),
            )
            .set(runs::fetched_at.eq(now.naive_utc()))
            .execute(conn)?;
            Ok(())
        })?;
    }
    Ok(())
}

pub(crate) fn refresh_status(conn: &mut DbConnection, run_id: &str) -> Result<(), ApiError> {
    let statuses: Vec<String> = run_stops::table
        .filter(run_stops::run_id.eq(run_id))
        .select(run_stops::status)
        .load(conn)?;
    let status = if statuses.iter().all(|s| s != "pending") {
        "done"
    } else if statuses.iter().any(|s| s == "completed" || s == "skipped") {
        "in_progress"
    } else {
        "planned"
    };
    diesel::update(
        runs::table
            .find(run_id)
            .filter(runs::status.ne("cancelled")),
    )
    .set(runs::status.eq(status))
    .execute(conn)?;
    Ok(())
}

/// The driver (or dispatcher) cannot serve a stop: it goes back to the due list.
pub fn skip(
    conn: &mut DbConnection,
    caller: &Caller,
    run_id: &str,
    seq: i32,
    reason: &str,
) -> Result<Run, ApiError> {
    caller.require(&[Role::Driver, Role::Dispatcher])?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid(
            "reason",
            "give a reason of at most 500 characters",
        ));
    }
    write_tx(conn, |conn| {
        let run = visible(conn, caller, run_id)?;
        if run.status == "cancelled" {
            return Err(ApiError::Conflict("the run was cancelled".into()));
        }
        let stop: StopRow = run_stops::table
            .filter(run_stops::run_id.eq(run_id))
            .filter(run_stops::seq.eq(seq))
            .select(StopRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::NotFound(format!("no stop {seq} on run {run_id}")))?;
        match stop.status.as_str() {
            "pending" => {}
            "skipped" => return detail_of(conn, run_id),
            other => return Err(ApiError::Conflict(format!("the stop is already {other}"))),
        }
        diesel::update(run_stops::table.find(&stop.id))
            .set((
                run_stops::status.eq("skipped"),
                run_stops::skip_reason.eq(reason),
            ))
            .execute(conn)?;
        refresh_status(conn, run_id)?;
        detail_of(conn, run_id)
    })
}

/// Why a GPS fix's device time is refused, if it is: older than `max_age` or more than
/// `skew` ahead of the server's clock (a phone whose clock was reset must not draw a track in
/// 1970 or 2099).
pub fn fix_time_refused(
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    max_age: chrono::Duration,
    skew: chrono::Duration,
) -> Option<&'static str> {
    if at < now - max_age {
        Some("stale_timestamp")
    } else if at > now + skew {
        Some("future_timestamp")
    } else {
        None
    }
}

/// Stores GPS fixes; a fix already stored (same run and time) is ignored, late ones are fine
/// within `max_age`; fixes outside the time window are refused one by one.
pub fn positions(
    conn: &mut DbConnection,
    caller: &Caller,
    run_id: &str,
    fixes: &[yifei_contract::Position],
    now: DateTime<Utc>,
    (max_age, skew): (chrono::Duration, chrono::Duration),
) -> Result<PositionResult, ApiError> {
    caller.require(&[Role::Driver])?;
    if fixes.is_empty() || fixes.len() > 5000 {
        return Err(ApiError::invalid("positions", "give 1 to 5000 positions"));
    }
    for (i, p) in fixes.iter().enumerate() {
        if !(-90.0..=90.0).contains(&p.lat) || !(-180.0..=180.0).contains(&p.lng) {
            return Err(ApiError::invalid(
                format!("positions[{i}]"),
                "lat -90..=90, lng -180..=180",
            ));
        }
    }
    let mut rejected = Vec::new();
    let mut kept = Vec::with_capacity(fixes.len());
    for (i, p) in fixes.iter().enumerate() {
        match fix_time_refused(p.at, now, max_age, skew) {
            Some(reason) => rejected.push(yifei_contract::RejectedPosition {
                index: i32::try_from(i).unwrap_or(i32::MAX),
                reason: reason.into(),
            }),
            None => kept.push(p),
        }
    }
    write_tx(conn, |conn| {
        visible(conn, caller, run_id)?;
        let mut rows: Vec<(String, NaiveDateTime, f64, f64, NaiveDateTime)> = kept
            .iter()
            .map(|p| {
                (
                    run_id.to_owned(),
                    crate::custody::micros(p.at),
                    p.lat,
                    p.lng,
                    now.naive_utc(),
                )
            })
            .collect();
        rows.sort_by_key(|r| r.1);
        rows.dedup_by_key(|r| r.1);
        let mut accepted = 0;
        for chunk in rows.chunks(1000) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(r, at, lat, lng, rec)| {
                    (
                        positions::run_id.eq(r),
                        positions::at.eq(at),
                        positions::lat.eq(lat),
                        positions::lng.eq(lng),
                        positions::received_at.eq(rec),
                    )
                })
                .collect();
            let q = diesel::insert_into(positions::table)
                .values(values)
                .on_conflict_do_nothing();
            accepted += match conn {
                DbConnection::Sqlite(c) => q.execute(c)?,
                DbConnection::Postgresql(c) => q.execute(c)?,
            };
        }
        let accepted = i32::try_from(accepted).unwrap_or(i32::MAX);
        Ok(PositionResult {
            accepted,
            duplicates: i32::try_from(kept.len()).unwrap_or(i32::MAX) - accepted,
            rejected: rejected.clone(),
        })
    })
}

/// A collect scan with a run id, by `by` (whom ingest checked with `runs::may_complete`):
/// completes the stop serving the container's institution (recording who did), opens the
/// institution's manifest for the run, fulfils its pickup requests.
#[allow(clippy::too_many_arguments)]
pub fn on_collect(
    conn: &mut DbConnection,
    run_id: &str,
    by: &str,
    institution_id: &str,
    hub_id: Option<&str>,
    occurred_at: NaiveDateTime,
    now: NaiveDateTime,
    tz: FixedOffset,
) -> Result<(), ApiError> {
    let run: Option<RunRow> = runs::table
        .find(run_id)
        .select(RunRow::as_select())
        .first(conn)
        .optional()?;
    let Some(run) = run.filter(|r| r.status != "cancelled") else {
        return Ok(()); // a run id the server does not know: the scan stands on its own
    };
    let at: Vec<&str> = std::iter::once(institution_id).chain(hub_id).collect();
    let stop: Option<StopRow> = run_stops::table
        .filter(run_stops::run_id.eq(run_id))
        .filter(run_stops::institution_id.eq_any(&at))
        .order(run_stops::seq.asc())
        .select(StopRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(s) = stop {
        if s.status != "completed" || s.completed_at.is_some_and(|c| c > occurred_at) {
            diesel::update(run_stops::table.find(&s.id))
                .set((
                    run_stops::status.eq("completed"),
                    run_stops::completed_at.eq(occurred_at),
                    run_stops::completed_by.eq(by),
                ))
                .execute(conn)?;
        }
        refresh_status(conn, &run.id)?;
    }
    open_manifest(conn, run_id, institution_id, occurred_at, now, tz)?;
    crate::pickups::store::fulfil(conn, institution_id)?;
    Ok(())
}

/// Opens the manifest of a run and an institution if it has none yet (the first pickup or
/// refusal at the door there), numbered by the local day of `occurred_at`.
pub fn open_manifest(
    conn: &mut DbConnection,
    run_id: &str,
    institution_id: &str,
    occurred_at: NaiveDateTime,
    now: NaiveDateTime,
    tz: FixedOffset,
) -> Result<(), ApiError> {
    let exists = manifests::table
        .filter(manifests::run_id.eq(run_id))
        .filter(manifests::institution_id.eq(institution_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        let local = occurred_at.and_utc().with_timezone(&tz);
        let number = format!(
            "YF{}-{}",
            local.format("%Y%m%d"),
            uuid::Uuid::now_v7().simple().to_string()[20..].to_uppercase()
        );
        diesel::insert_into(manifests::table)
            .values((
                manifests::id.eq(new_id()),
                manifests::number.eq(number),
                manifests::run_id.eq(run_id),
                manifests::institution_id.eq(institution_id),
                manifests::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
