//! Tracking in the database: who may read a run's track and the fleet's positions, and the
//! facts the GPS rules evaluate.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel::prelude::*;
use yifei_contract::{
    LatLng, Role, RunTrack, TrackFeature, TrackGeometry, TrackProperties, VehiclePosition,
};

use super::{Finding, Fix, PlannedStop, Rules, RunFacts, findings};
use crate::auth::Caller;
use crate::db::DbConnection;
use crate::db::schema::{institutions, positions, run_stops, runs, vehicles};
use crate::error::ApiError;
use crate::oversight::alerts::{Condition, Viewer, viewer};
use crate::runs::store::{RunRow, company_site, visible};

/// Rules of the GPS alerts (their `rule` in `GET /alerts`).
pub const RULES: [&str; 4] = [
    "stop_visited_unscanned",
    "unplanned_stop",
    "off_route",
    "over_shift",
];

/// Vehicles that have not reported for this long are not in the fleet's last positions.
pub const POSITIONS_DAYS: i64 = 7;

/// The townships a bureau account oversees (`None`: the whole county); `Err` for others.
fn bureau_scope(conn: &mut DbConnection, caller: &Caller) -> Result<Option<Vec<String>>, ApiError> {
    match viewer(conn, caller)? {
        Viewer::Bureau { townships, .. } => Ok(townships),
        _ => Err(ApiError::Forbidden("not bureau staff".into())),
    }
}

/// Runs (of `ids`) with a stop in one of `townships`.
fn runs_in(
    conn: &mut DbConnection,
    ids: &[String],
    townships: &[String],
) -> Result<HashSet<String>, ApiError> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(500) {
        out.extend(
            run_stops::table
                .inner_join(institutions::table)
                .filter(run_stops::run_id.eq_any(chunk))
                .filter(institutions::township.eq_any(townships))
                .select(run_stops::run_id)
                .distinct()
                .load::<String>(conn)?,
        );
    }
    Ok(out)
}

/// The run if the caller may read its track: its company's dispatchers and plant, its
/// driver, admin; bureau staff if it stops in their jurisdiction. Others' runs are 404,
/// clinics 403.
fn readable(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<RunRow, ApiError> {
    match caller.role {
        Role::ClinicStaff | Role::HubKeeper => Err(ApiError::Forbidden(
            "institutions do not read vehicle tracks".into(),
        )),
        Role::BureauStaff => {
            let scope = bureau_scope(conn, caller)?;
            let run: Option<RunRow> = runs::table
                .find(id)
                .select(RunRow::as_select())
                .first(conn)
                .optional()?;
            match (run, scope) {
                (Some(r), None) => Ok(r),
                (Some(r), Some(t))
                    if !runs_in(conn, std::slice::from_ref(&r.id), &t)?.is_empty() =>
                {
                    Ok(r)
                }
                _ => Err(ApiError::NotFound(format!("no run {id}"))),
            }
        }
        _ => visible(conn, caller, id),
    }
}

fn point(kind: &str, run_id: &str, lat: f64, lng: f64) -> TrackFeature {
    TrackFeature {
        kind: "Feature".into(),
        geometry: TrackGeometry::Point {
            coordinates: [lng, lat],
        },
        properties: TrackProperties {
            kind: kind.into(),
            run_id: run_id.into(),
            times: None,
            seq: None,
            institution_id: None,
            name: None,
            status: None,
            eta: None,
        },
    }
}

/// A run's track as GeoJSON: the fixes in time order, the plant and the planned stops.
pub fn track(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<RunTrack, ApiError> {
    let run = readable(conn, caller, id)?;
    let fixes: Vec<(NaiveDateTime, f64, f64)> = positions::table
        .filter(positions::run_id.eq(&run.id))
        .order(positions::at.asc())
        .select((positions::at, positions::lat, positions::lng))
        .load(conn)?;
    let mut features = Vec::new();
    if !fixes.is_empty() {
        features.push(TrackFeature {
            kind: "Feature".into(),
            geometry: TrackGeometry::LineString {
                coordinates: fixes.iter().map(|(_, lat, lng)| [*lng, *lat]).collect(),
            },
            properties: TrackProperties {
                times: Some(fixes.iter().map(|(at, _, _)| at.and_utc()).collect()),
                ..point("track", &run.id, 0.0, 0.0).properties
            },
        });
    }
    if let Ok((name, lat, lng)) = company_site(conn, &run.org_id) {
        let mut plant = point("plant", &run.id, lat, lng);
        plant.properties.name = Some(name);
        features.push(plant);
    }
    let stops: Vec<(i32, String, String, NaiveDateTime, String, f64, f64)> = run_stops::table
        .inner_join(institutions::table)
        .filter(run_stops::run_id.eq(&run.id))
        .order(run_stops::seq.asc())
        .select((
            run_stops::seq,
            run_stops::institution_id,
            run_stops::status,
            run_stops::eta,
            institutions::name,
            institutions::lat,
            institutions::lng,
        ))
        .load(conn)?;
    for (seq, inst, status, eta, name, lat, lng) in stops {
        let mut f = point("stop", &run.id, lat, lng);
        f.properties.seq = Some(seq);
        f.properties.institution_id = Some(inst);
        f.properties.name = Some(name);
        f.properties.status = Some(status);
        f.properties.eta = Some(eta.and_utc());
        features.push(f);
    }
    Ok(RunTrack {
        kind: "FeatureCollection".into(),
        features,
    })
}

/// Each vehicle's latest fix within [`POSITIONS_DAYS`] local days of `today`, of the runs
/// the caller may see: a dispatcher their company's, a driver their own runs', bureau staff
/// those stopping in their jurisdiction, admin all. Others are refused.
pub fn last_positions(
    conn: &mut DbConnection,
    caller: &Caller,
    today: NaiveDate,
) -> Result<Vec<VehiclePosition>, ApiError> {
    caller.require(&[
        Role::Dispatcher,
        Role::Driver,
        Role::BureauStaff,
        Role::Admin,
    ])?;
    let since = (today - Duration::days(POSITIONS_DAYS)).to_string();
    let mut q = runs::table
        .filter(runs::day.ge(since))
        .filter(runs::status.ne("cancelled"))
        .select(RunRow::as_select())
        .into_boxed();
    let mut scope = None;
    match caller.role {
        Role::Dispatcher => q = q.filter(runs::org_id.eq(caller.tenant_id()?.to_owned())),
        Role::Driver => q = q.filter(runs::driver_id.eq(caller.user_id.clone())),
        Role::BureauStaff => scope = bureau_scope(conn, caller)?,
        _ => {}
    }
    let mut candidates: Vec<RunRow> = q.load(conn)?;
    if let Some(t) = scope {
        let ids: Vec<String> = candidates.iter().map(|r| r.id.clone()).collect();
        let inside = runs_in(conn, &ids, &t)?;
        candidates.retain(|r| inside.contains(&r.id));
    }
    let ids: Vec<String> = candidates.iter().map(|r| r.id.clone()).collect();
    let mut latest: HashMap<String, NaiveDateTime> = HashMap::new();
    for chunk in ids.chunks(500) {
        latest.extend(
            positions::table
                .filter(positions::run_id.eq_any(chunk))
                .group_by(positions::run_id)
                .select((positions::run_id, diesel::dsl::max(positions::at)))
                .load::<(String, Option<NaiveDateTime>)>(conn)?
                .into_iter()
                .filter_map(|(r, at)| at.map(|at| (r, at))),
        );
    }
    // Per vehicle, the run whose latest fix is the latest.
    let mut best: HashMap<&str, (&RunRow, NaiveDateTime)> = HashMap::new();
    for r in &candidates {
        if let Some(at) = latest.get(&r.id) {
            let e = best.entry(r.vehicle_id.as_str()).or_insert((r, *at));
            if *at > e.1 {
                *e = (r, *at);
            }
        }
    }
    let vehicle_ids: Vec<&str> = best.keys().copied().collect();
    let plates: HashMap<String, String> = vehicles::table
        .filter(vehicles::id.eq_any(&vehicle_ids))
        .select((vehicles::id, vehicles::plate))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(best.len());
    for (vehicle, (run, at)) in best {
        let (lat, lng): (f64, f64) = positions::table
            .find((&run.id, at))
            .select((positions::lat, positions::lng))
            .first(conn)?;
        out.push(VehiclePosition {
            vehicle_id: vehicle.to_owned(),
            plate: plates.get(vehicle).cloned().unwrap_or_default(),
            org_id: run.org_id.clone(),
            run_id: run.id.clone(),
            day: run.day.clone(),
            driver_id: run.driver_id.clone(),
            location: LatLng { lat, lng },
            at: at.and_utc(),
        });
    }
    out.sort_by(|a, b| a.plate.cmp(&b.plate).then(a.vehicle_id.cmp(&b.vehicle_id)));
    Ok(out)
}

/// The GPS conditions that hold at `now` over the runs of the last `rules.lookback_days`
/// local days with fixes, and the ids of the runs evaluated (alerts of other runs stand as
/// they are: their facts can no longer change).
pub fn conditions(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    rules: &Rules,
) -> Result<(Vec<Condition>, HashSet<String>), ApiError> {
    let today = now.with_timezone(&rules.tz).date_naive();
    let since = (today - Duration::days(rules.lookback_days)).to_string();
    let candidates: Vec<(RunRow, String, String, String)> = runs::table
        .inner_join(vehicles::table)
        .filter(runs::day.ge(since))
        .filter(runs::status.ne("cancelled"))
        .select((
            RunRow::as_select(),
            vehicles::plate,
            vehicles::shift_start,
            vehicles::shift_end,
        ))
        .load(conn)?;
    let mut out = Vec::new();
    let mut evaluated = HashSet::new();
    let mut sites: HashMap<String, Option<(f64, f64)>> = HashMap::new();
    for (run, plate, shift_start, shift_end) in candidates {
        let fixes: Vec<Fix> = positions::table
            .filter(positions::run_id.eq(&run.id))
            .order(positions::at.asc())
            .select((positions::at, positions::lat, positions::lng))
            .load::<(NaiveDateTime, f64, f64)>(conn)?
            .into_iter()
            .map(|(at, lat, lng)| Fix { at, lat, lng })
            .collect();
        if fixes.is_empty() {
            continue;
        }
        let plant = match sites.get(&run.org_id) {
            Some(p) => *p,
            None => {
                let p = company_site(conn, &run.org_id)
                    .ok()
                    .map(|(_, lat, lng)| (lat, lng));
                sites.insert(run.org_id.clone(), p);
                p
            }
        };
        let hm = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").ok();
        let (Some(plant), Some(start), Some(end), Ok(day)) = (
            plant,
            hm(&shift_start),
            hm(&shift_end),
            NaiveDate::parse_from_str(&run.day, "%Y-%m-%d"),
        ) else {
            continue;
        };
        let stops: Vec<PlannedStop> = run_stops::table
            .inner_join(institutions::table)
            .filter(run_stops::run_id.eq(&run.id))
            .order(run_stops::seq.asc())
            .select((
                run_stops::seq,
                run_stops::institution_id,
                institutions::name,
                institutions::lat,
                institutions::lng,
                run_stops::status,
            ))
            .load::<(i32, String, String, f64, f64, String)>(conn)?
            .into_iter()
            .map(
                |(seq, institution_id, name, lat, lng, status)| PlannedStop {
                    seq,
                    institution_id,
                    name,
                    lat,
                    lng,
                    status,
                },
            )
            .collect();
        let facts = RunFacts {
            id: run.id.clone(),
            plate,
            day,
            shift: (start, end),
            status: run.status.clone(),
            plant,
            stops,
        };
        out.extend(
            findings(&facts, &fixes, rules, now)
                .into_iter()
                .map(|f| condition(&facts, f, rules)),
        );
        evaluated.insert(run.id);
    }
    Ok((out, evaluated))
}

fn local(t: NaiveDateTime, rules: &Rules) -> String {
    t.and_utc()
        .with_timezone(&rules.tz)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// The alert condition of a finding, naming the run, the vehicle and the institution.
fn condition(run: &RunFacts, f: Finding, rules: &Rules) -> Condition {
    let base = |key: String, rule: &'static str, institution_id: Option<String>, detail: String| {
        Condition {
            key,
            rule,
            severity: "warning",
            subject_type: "run",
            subject_id: run.id.clone(),
            institution_id,
            detail,
        }
    };
    match f {
        Finding::VisitedUnscanned {
            seq,
            institution_id,
            name,
            dwell,
        } => base(
            format!("stop_visited_unscanned:{}:{seq}", run.id),
            "stop_visited_unscanned",
            Some(institution_id),
            format!(
                "vehicle {} on run {} stood {} min at {name} (stop {seq}) from {} and no collect scan completed the stop",
                run.plate,
                run.id,
                (dwell.end - dwell.start).num_minutes(),
                local(dwell.start, rules),
            ),
        ),
        Finding::UnplannedStop(d) => base(
            format!(
                "unplanned_stop:{}:{}",
                run.id,
                d.start.format("%Y%m%dT%H%M%S")
            ),
            "unplanned_stop",
            None,
            format!(
                "vehicle {} on run {} stood {} min at {:.5}, {:.5} from {}, away from every planned stop and the plant",
                run.plate,
                run.id,
                (d.end - d.start).num_minutes(),
                d.lat,
                d.lng,
                local(d.start, rules),
            ),
        ),
        Finding::OffRoute { fix, metres } => base(
            format!("off_route:{}", run.id),
            "off_route",
            None,
            format!(
                "vehicle {} on run {} was {:.1} km from its planned path at {} ({:.5}, {:.5}); the limit is {:.1} km",
                run.plate,
                run.id,
                metres / 1000.0,
                local(fix.at, rules),
                fix.lat,
                fix.lng,
                rules.off_route_m as f64 / 1000.0,
            ),
        ),
        Finding::OverShift { end, last } => base(
            format!("over_shift:{}", run.id),
            "over_shift",
            None,
            match last {
                Some(l) => format!(
                    "vehicle {} on run {} reported at {}, after its shift ended at {}",
                    run.plate,
                    run.id,
                    local(l, rules),
                    local(end.naive_utc(), rules),
                ),
                None => format!(
                    "run {} of vehicle {} is not finished and its shift ended at {}",
                    run.id,
                    run.plate,
                    local(end.naive_utc(), rules),
                ),
            },
        ),
    }
}
