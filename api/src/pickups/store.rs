//! The facts behind the due list, read from the registry, containers, requests and runs;
//! and pickup requests.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{DueList, DueStop, LatLng, NewPickupRequest, PickupRequest, Role};
use yifei_routing::LatLng as RLatLng;

use super::{Due, Facts, Reach, Rules, Schedule};
use crate::auth::Caller;
use crate::db::schema::{
    containers, institutions, organisations, pickup_requests, run_stops, runs, vehicles,
};
use crate::db::{DbConnection, new_id};
use crate::error::ApiError;
use crate::institutions::store::InstitutionRow;

/// Local midnight of `day` and of the next day, as UTC.
pub fn day_bounds(day: NaiveDate, tz: FixedOffset) -> (NaiveDateTime, NaiveDateTime) {
    let start = day
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .checked_sub_signed(chrono::Duration::seconds(i64::from(tz.local_minus_utc())))
        .unwrap_or_default();
    (start, start + chrono::Duration::days(1))
}

/// The plant the company's runs start from: the company's, or for a caller of no company
/// (admin) the first disposal company's that has a position.
fn plant_of(conn: &mut DbConnection, org: Option<&str>) -> Result<Option<RLatLng>, ApiError> {
    let mut q = organisations::table
        .filter(organisations::kind.eq("disposal_company"))
        .filter(organisations::lat.is_not_null())
        .filter(organisations::lng.is_not_null())
        .select((organisations::lat, organisations::lng))
        .order(organisations::id.asc())
        .into_boxed();
    if let Some(o) = org {
        q = q.filter(organisations::id.eq(o.to_owned()));
    }
    let site: Option<(Option<f64>, Option<f64>)> = q.first(conn).optional()?;
    Ok(site.and_then(|(lat, lng)| RLatLng::new(lat?, lng?).ok()))
}

/// The rules of the day for `org`'s fleet (every active vehicle when `org` is `None`).
pub fn rules_for(
    conn: &mut DbConnection,
    org: Option<&str>,
    schedule: &Schedule,
) -> Result<Rules, ApiError> {
    let mut q = vehicles::table
        .filter(vehicles::active.eq(true))
        .select((vehicles::shift_start, vehicles::shift_end))
        .into_boxed();
    if let Some(o) = org {
        q = q.filter(vehicles::org_id.eq(o.to_owned()));
    }
    let shifts = q
        .load::<(String, String)>(conn)?
        .iter()
        .filter_map(|(a, b)| Some((crate::runs::seconds(a)?, crate::runs::seconds(b)?)))
        .collect();
    let epidemic = crate::oversight::epidemic(conn)?;
    Ok(Rules::new(schedule.clone(), shifts, epidemic))
}

/// Due stops of `day` for `org`'s fleet and plant, with the institutions' rows.
pub fn due_stops(
    conn: &mut DbConnection,
    org: Option<&str>,
    day: NaiveDate,
    schedule: &Schedule,
) -> Result<(Vec<Due>, HashMap<String, InstitutionRow>), ApiError> {
    let (facts, rules, insts) = due_facts(conn, org, day, schedule, false)?;
    let due = super::due(&facts, &rules, day);
    Ok((due, insts))
}

/// The institutions' facts, the fleet's rules and the institutions' rows.
pub type DueFacts = (Vec<Facts>, Rules, HashMap<String, InstitutionRow>);

/// What the due rule reads for `day` (the institutions' clocks and waste, the fleet's
/// rules), so that a horizon can ask it about later days too. `replanning`: only stops of
/// started runs count as planned, since planning the day again replaces the others (without
/// it a second plan of the day found nothing due and cancelled the first plan's runs).
pub fn due_facts(
    conn: &mut DbConnection,
    org: Option<&str>,
    day: NaiveDate,
    schedule: &Schedule,
    replanning: bool,
) -> Result<DueFacts, ApiError> {
    let rules = rules_for(conn, org, schedule)?;
    let plant = plant_of(conn, org)?;
    let day_s = day.to_string();
    let insts: Vec<InstitutionRow> = institutions::table
        .select(InstitutionRow::as_select())
        .load(conn)?;
    let last: HashMap<String, Option<NaiveDateTime>> = containers::table
        .group_by(containers::institution_id)
        .select((
            containers::institution_id,
            diesel::dsl::max(containers::collected_at),
        ))
        .load::<(String, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .collect();
    let waiting: Vec<(String, String, Option<NaiveDateTime>, Option<i32>)> = containers::table
        .filter(containers::state.eq_any(["sealed", "at_hub"]))
        .filter(containers::parent_id.is_null())
        .select((
            containers::institution_id,
            containers::state,
            containers::sealed_at,
            containers::seal_weight_g,
        ))
        .load(conn)?;
    let requests: Vec<(String, i32, Option<i32>)> = pickup_requests::table
        .filter(pickup_requests::status.eq("open"))
        .select((
            pickup_requests::institution_id,
            pickup_requests::est_weight_g,
            pickup_requests::containers,
        ))
        .load(conn)?;
    let mut today = run_stops::table
        .inner_join(runs::table)
        .filter(runs::day.eq(&day_s))
        .filter(runs::status.ne("cancelled"))
        .select((run_stops::institution_id, run_stops::status))
        .into_boxed();
    if replanning {
        today = today.filter(runs::status.ne("planned"));
    }
    let stops_today: Vec<(String, String)> = today.load(conn)?;
    let planned: HashSet<&str> = stops_today
        .iter()
        .filter(|(_, s)| s == "pending")
        .map(|(i, _)| i.as_str())
        .collect();
    let skipped: HashSet<&str> = stops_today
        .iter()
        .filter(|(_, s)| s == "skipped")
        .map(|(i, _)| i.as_str())
        .collect();
    let mut facts: HashMap<String, Facts> = insts
        .iter()
        .map(|i| {
            let f = Facts {
                id: i.id.clone(),
                active: i.status == "active",
                hub_id: (i.service_mode == "via_hub")
                    .then(|| i.hub_id.clone())
                    .flatten(),
                interval_h: i.collection_interval_h,
                last_collected: last.get(&i.id).copied().flatten().unwrap_or(i.created_at),
                oldest_seal: None,
                waiting_g: 0,
                waiting_containers: 0,
                delivered_g: 0,
                delivered_containers: 0,
                requested_g: 0,
                requested_containers: 0,
                has_request: false,
                planned: planned.contains(i.id.as_str()),
                skipped: skipped.contains(i.id.as_str()),
                reach: Reach {
                    // No plant position: the vehicle is assumed there already.
                    travel_s: plant
                        .zip(RLatLng::new(i.lat, i.lng).ok())
                        .and_then(|(p, at)| crate::runs::travel_seconds(&schedule.travel, p, at))
                        .unwrap_or(0.0),
                    windows: crate::runs::windows(&i.hours()),
                    service_s: 0.0,
                },
            };
            (i.id.clone(), f)
        })
        .collect();
    for (inst, state, sealed_at, g) in waiting {
        if let Some(f) = facts.get_mut(&inst) {
            f.oldest_seal = match (f.oldest_seal, sealed_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let g = i64::from(g.unwrap_or(0));
            if f.hub_id.is_some() && state == "at_hub" {
                f.delivered_g += g;
                f.delivered_containers += 1;
            } else {
                f.waiting_g += g;
                f.waiting_containers += 1;
            }
        }
    }
    for (inst, g, n) in requests {
        if let Some(f) = facts.get_mut(&inst) {
            f.has_request = true;
            f.requested_g += i64::from(g);
            f.requested_containers += n.unwrap_or(1);
        }
    }
    let facts: Vec<Facts> = facts
        .into_values()
        .map(|mut f| {
            f.reach.service_s = crate::runs::service_seconds(f.waiting_containers);
            f
        })
        .collect();
    Ok((
        facts,
        rules,
        insts.into_iter().map(|i| (i.id.clone(), i)).collect(),
    ))
}

/// Days of sealing history behind [`seal_rates`].
pub const RATE_DAYS: i64 = 14;

/// Grams and containers each institution sealed per day over the [`RATE_DAYS`] before `now`:
/// the horizon's prediction of the waste a later visit collects.
pub fn seal_rates(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<HashMap<String, (f64, f64)>, ApiError> {
    let since = now - chrono::Duration::days(RATE_DAYS);
    let rows: Vec<(String, Option<i32>)> = containers::table
        .filter(containers::sealed_at.ge(since))
        .filter(containers::sealed_at.le(now))
        .filter(containers::parent_id.is_null())
        .select((containers::institution_id, containers::seal_weight_g))
        .load(conn)?;
    let mut out: HashMap<String, (f64, f64)> = HashMap::new();
    for (inst, g) in rows {
        let e = out.entry(inst).or_default();
        e.0 += f64::from(g.unwrap_or(0)) / RATE_DAYS as f64;
        e.1 += 1.0 / RATE_DAYS as f64;
    }
    Ok(out)
}

/// The due list as the dispatcher sees it.
pub fn due_list(
    conn: &mut DbConnection,
    caller: &Caller,
    day: NaiveDate,
    schedule: &Schedule,
) -> Result<DueList, ApiError> {
    caller.require(&[Role::Dispatcher, Role::Admin])?;
    let (due, insts) = due_stops(conn, caller.tenant.as_deref(), day, schedule)?;
    let stops = due
        .into_iter()
        .filter_map(|d| {
            let i = insts.get(&d.stop)?;
            Some(DueStop {
                institution_id: i.id.clone(),
                name: i.name.clone(),
                township: i.township.clone(),
                address: i.address.clone(),
                location: LatLng {
                    lat: i.lat,
                    lng: i.lng,
                },
                deadline: d.deadline.map(|t| t.and_utc()),
                reasons: d.reasons,
                expected_kg: d.expected_g as f64 / 1000.0,
                expected_containers: d.expected_containers,
                serves: d.serves,
                earliest_visit: d.earliest.map(|t| t.and_utc()),
                next_chance: d.next_chance.map(|t| t.and_utc()),
                late_by_min: d.late_by_min,
                explanation: d.explanation,
            })
        })
        .collect();
    Ok(DueList { date: day, stops })
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pickup_requests)]
struct RequestRow {
    id: String,
    institution_id: String,
    requested_by: String,
    earliest: Option<NaiveDateTime>,
    latest: Option<NaiveDateTime>,
    est_weight_g: i32,
    containers: Option<i32>,
    note: Option<String>,
    status: String,
    created_at: NaiveDateTime,
}

impl RequestRow {
    fn to_wire(&self) -> PickupRequest {
        PickupRequest {
            id: self.id.clone(),
            institution_id: self.institution_id.clone(),
            earliest: self.earliest.map(|t| t.and_utc()),
            latest: self.latest.map(|t| t.and_utc()),
            est_weight_kg: f64::from(self.est_weight_g) / 1000.0,
            containers: self.containers,
            note: self.note.clone(),
            status: self.status.clone(),
            created_at: self.created_at.and_utc(),
        }
    }
}

/// A clinic asks for a pickup (its institution must be active).
pub fn request(
    conn: &mut DbConnection,
    caller: &Caller,
    r: NewPickupRequest,
    now: DateTime<Utc>,
) -> Result<PickupRequest, ApiError> {
    caller.require(&[Role::ClinicStaff, Role::HubKeeper])?;
    let mut errors = Vec::new();
    if !r.est_weight_kg.is_finite() || r.est_weight_kg <= 0.0 || r.est_weight_kg > 5000.0 {
        errors.push(yifei_contract::FieldError {
            field: "est_weight_kg".into(),
            message: "must be more than 0 and at most 5000".into(),
        });
    }
    if r.containers.is_some_and(|n| !(1..=1000).contains(&n)) {
        errors.push(yifei_contract::FieldError {
            field: "containers".into(),
            message: "must be 1 to 1000".into(),
        });
    }
    if let (Some(a), Some(b)) = (r.earliest, r.latest)
        && a >= b
    {
        errors.push(yifei_contract::FieldError {
            field: "latest".into(),
            message: "must be after earliest".into(),
        });
    }
    if r.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        errors.push(yifei_contract::FieldError {
            field: "note".into(),
            message: "must be at most 500 characters".into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let inst = caller.tenant_id()?.to_owned();
    crate::db::write_tx(conn, |conn| {
        let status: String = institutions::table
            .find(&inst)
            .select(institutions::status)
            .first(conn)?;
        if status != "active" {
            return Err(ApiError::Forbidden(format!(
                "the institution is {status}: only active institutions request pickups"
            )));
        }
        let row = RequestRow {
            id: new_id(),
            institution_id: inst.clone(),
            requested_by: caller.user_id.clone(),
            earliest: r.earliest.map(|t| t.naive_utc()),
            latest: r.latest.map(|t| t.naive_utc()),
            est_weight_g: (r.est_weight_kg * 1000.0).round() as i32,
            containers: r.containers,
            note: r
                .note
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
            status: "open".into(),
            created_at: now.naive_utc(),
        };
        diesel::insert_into(pickup_requests::table)
            .values(&row)
            .execute(conn)?;
        Ok(row.to_wire())
    })
}

/// Open and recent requests: a clinic's own, or all for the company.
pub fn list_requests(
    conn: &mut DbConnection,
    caller: &Caller,
) -> Result<Vec<PickupRequest>, ApiError> {
    let mut q = pickup_requests::table
        .select(RequestRow::as_select())
        .into_boxed();
    match caller.role {
        Role::ClinicStaff | Role::HubKeeper => {
            q = q.filter(pickup_requests::institution_id.eq(caller.tenant_id()?.to_owned()))
        }
        Role::Dispatcher | Role::Admin => q = q.filter(pickup_requests::status.eq("open")),
        _ => {
            return Err(ApiError::Forbidden(
                "only clinics and dispatchers see pickup requests".into(),
            ));
        }
    }
    Ok(q.order(pickup_requests::id.desc())
        .limit(200)
        .load::<RequestRow>(conn)?
        .iter()
        .map(RequestRow::to_wire)
        .collect())
}

/// A collect scan at an institution fulfils its open requests.
pub fn fulfil(conn: &mut DbConnection, institution_id: &str) -> Result<(), ApiError> {
    diesel::update(
        pickup_requests::table
            .filter(pickup_requests::institution_id.eq(institution_id))
            .filter(pickup_requests::status.eq("open")),
    )
    .set(pickup_requests::status.eq("done"))
    .execute(conn)?;
    Ok(())
}
