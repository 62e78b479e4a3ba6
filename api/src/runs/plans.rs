//! Stored plans: the first day's runs, the provisional later days of a horizon, and which
//! later plan superseded them.

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use yifei_contract::{Plan, PlanDay, PlanRoute, PlanStop, Role, UnassignedStop};

use super::horizon::ProvRoute;
use super::store::detail_of;
use crate::auth::Caller;
use crate::db::schema::{
    institutions, plans, provisional_routes, provisional_stops, runs, vehicles,
};
use crate::db::{DbConnection, new_id};
use crate::error::ApiError;

fn km(m: f64) -> f64 {
    (m / 100.0).round() / 10.0
}

/// Stores a horizon's later days under `plan_id`.
pub fn write_provisional(
    conn: &mut DbConnection,
    plan_id: &str,
    later: &[(NaiveDate, Vec<ProvRoute>)],
) -> Result<(), ApiError> {
    for (day, routes) in later {
        for r in routes {
            let route_id = new_id();
            diesel::insert_into(provisional_routes::table)
                .values((
                    provisional_routes::id.eq(&route_id),
                    provisional_routes::plan_id.eq(plan_id),
                    provisional_routes::day.eq(day.to_string()),
                    provisional_routes::vehicle_id.eq(&r.vehicle_id),
                    provisional_routes::distance_m.eq(r.distance_m),
                    provisional_routes::duration_s.eq(r.duration_s),
                    provisional_routes::load_g.eq(i32::try_from(r.load_g).unwrap_or(i32::MAX)),
                ))
                .execute(conn)?;
            for (k, s) in r.stops.iter().enumerate() {
                diesel::insert_into(provisional_stops::table)
                    .values((
                        provisional_stops::id.eq(new_id()),
                        provisional_stops::route_id.eq(&route_id),
                        provisional_stops::seq.eq(i32::try_from(k + 1).unwrap_or(i32::MAX)),
                        provisional_stops::institution_id.eq(&s.institution_id),
                        provisional_stops::eta.eq(s.eta),
                        provisional_stops::deadline.eq(s.deadline),
                        provisional_stops::expected_g
                            .eq(i32::try_from(s.expected_g).unwrap_or(i32::MAX)),
                        provisional_stops::reasons
                            .eq(serde_json::to_string(&s.reasons).unwrap_or_else(|_| "[]".into())),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// Marks the company's earlier horizon plans whose provisional days reach `day` or later as
/// superseded by `plan_id` (re-planned with the scans since).
pub fn supersede(
    conn: &mut DbConnection,
    org: &str,
    plan_id: &str,
    day: NaiveDate,
) -> Result<(), ApiError> {
    let open: Vec<(String, String, i32)> = plans::table
        .filter(plans::org_id.eq(org))
        .filter(plans::superseded_by.is_null())
        .filter(plans::horizon_days.gt(1))
        .filter(plans::id.ne(plan_id))
        .filter(plans::day.ge((day - Duration::days(7)).to_string()))
        .select((plans::id, plans::day, plans::horizon_days))
        .load(conn)?;
    for (id, d, n) in open {
        let Ok(d) = NaiveDate::parse_from_str(&d, "%Y-%m-%d") else {
            continue;
        };
        if d + Duration::days(i64::from(n) - 1) >= day {
            diesel::update(plans::table.find(&id))
                .set(plans::superseded_by.eq(plan_id))
                .execute(conn)?;
        }
    }
    Ok(())
}

type PlanRow = (String, String, String, String, i32, Option<String>);

/// A stored plan as `POST /plans` answered it, with its runs as they are now.
pub fn view(conn: &mut DbConnection, plan_id: &str) -> Result<Plan, ApiError> {
    let (id, day, unassigned, notes, horizon_days, superseded_by): PlanRow = plans::table
        .find(plan_id)
        .select((
            plans::id,
            plans::day,
            plans::unassigned,
            plans::notes,
            plans::horizon_days,
            plans::superseded_by,
        ))
        .first(conn)?;
    let date = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let run_ids: Vec<String> = runs::table
        .filter(runs::plan_id.eq(plan_id))
        .order(runs::id.asc())
        .select(runs::id)
        .load(conn)?;
    let mut out_runs = Vec::new();
    for r in &run_ids {
        out_runs.push(detail_of(conn, r)?);
    }
    let live: Vec<_> = out_runs
        .iter()
        .filter(|r| r.status != "cancelled")
        .collect();
    let mut days = vec![PlanDay {
        date,
        provisional: false,
        vehicles: i32::try_from(live.len()).unwrap_or(i32::MAX),
        // `+ 0.0`: an empty sum is -0.0.
        distance_km: (live.iter().map(|r| r.distance_km).sum::<f64>() * 10.0).round() / 10.0 + 0.0,
        routes: live
            .iter()
            .map(|r| PlanRoute {
                run_id: Some(r.id.clone()),
                vehicle_id: r.vehicle_id.clone(),
                plate: r.plate.clone(),
                distance_km: r.distance_km,
                stops: r
                    .stops
                    .iter()
                    .map(|s| PlanStop {
                        seq: s.seq,
                        institution_id: s.institution_id.clone(),
                        name: s.name.clone(),
                        eta: s.eta,
                        deadline: s.deadline,
                        expected_kg: s.expected_kg,
                        reasons: s.reasons.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }];
    let routes: Vec<(String, String, String, String, f64)> = provisional_routes::table
        .inner_join(vehicles::table)
        .filter(provisional_routes::plan_id.eq(plan_id))
        .order((provisional_routes::day.asc(), provisional_routes::id.asc()))
        .select((
            provisional_routes::id,
            provisional_routes::day,
            provisional_routes::vehicle_id,
            vehicles::plate,
            provisional_routes::distance_m,
        ))
        .load(conn)?;
    for k in 1..i64::from(horizon_days) {
        let d = date + Duration::days(k);
        let ds = d.to_string();
        let mut day_routes = Vec::new();
        for (rid, _, vehicle_id, plate, dist) in routes.iter().filter(|r| r.1 == ds) {
            let stops: Vec<PlanStop> = provisional_stops::table
                .inner_join(institutions::table)
                .filter(provisional_stops::route_id.eq(rid))
                .order(provisional_stops::seq.asc())
                .select((
                    provisional_stops::seq,
                    provisional_stops::institution_id,
                    institutions::name,
                    provisional_stops::eta,
                    provisional_stops::deadline,
                    provisional_stops::expected_g,
                    provisional_stops::reasons,
                ))
                .load::<(
                    i32,
                    String,
                    String,
                    chrono::NaiveDateTime,
                    Option<chrono::NaiveDateTime>,
                    i32,
                    String,
                )>(conn)?
                .into_iter()
                .map(
                    |(seq, institution_id, name, eta, deadline, g, reasons)| PlanStop {
                        seq,
                        institution_id,
                        name,
                        eta: eta.and_utc(),
                        deadline: deadline.map(|t| t.and_utc()),
                        expected_kg: f64::from(g) / 1000.0,
                        reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                    },
                )
                .collect();
            day_routes.push(PlanRoute {
                run_id: None,
                vehicle_id: vehicle_id.clone(),
                plate: plate.clone(),
                distance_km: km(*dist),
                stops,
            });
        }
        days.push(PlanDay {
            date: d,
            provisional: true,
            vehicles: i32::try_from(day_routes.len()).unwrap_or(i32::MAX),
            distance_km: (day_routes.iter().map(|r| r.distance_km).sum::<f64>() * 10.0).round()
                / 10.0
                + 0.0,
            routes: day_routes,
        });
    }
    Ok(Plan {
        id,
        date,
        runs: out_runs,
        unassigned: serde_json::from_str::<Vec<UnassignedStop>>(&unassigned).unwrap_or_default(),
        notes: serde_json::from_str(&notes).unwrap_or_default(),
        horizon_days,
        days,
        superseded_by,
    })
}

/// `GET /plans/{id}`: the company's dispatchers only; another company's plan is 404.
pub fn get(conn: &mut DbConnection, caller: &Caller, plan_id: &str) -> Result<Plan, ApiError> {
    caller.require(&[Role::Dispatcher])?;
    let org: Option<String> = plans::table
        .find(plan_id)
        .select(plans::org_id)
        .first(conn)
        .optional()?;
    match org {
        Some(o) if Some(o.as_str()) == caller.tenant.as_deref() => view(conn, plan_id),
        _ => Err(ApiError::NotFound("no such plan".into())),
    }
}
