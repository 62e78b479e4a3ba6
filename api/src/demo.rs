//! The demo county from `seed/`, loaded into an empty database so that a newcomer can try
//! every role at once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use yifei_contract::Role;

use crate::accounts::{self, NewOrg};
use crate::auth::password;
use crate::db::DbConnection;
use crate::db::schema::{institutions, organisations, users};
use crate::error::ApiError;
use crate::institutions::store::{InstitutionRow, NewUser};
use crate::institutions::{H3_RESOLUTION, cell_of};

/// Loads the demo when the database holds no organisation and no institution yet; returns
/// the lines to print (logins and what to try), or `None` when the database was not empty.
pub fn load_if_empty(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> Result<Option<Vec<String>>, ApiError> {
    let county =
        yifei_seed::demo_county().map_err(|e| ApiError::Config(format!("demo county: {e}")))?;
    // One hash for the shared demo password: hashing 20 accounts would take seconds.
    let demo_hash = password::hash(yifei_seed::DEMO_PASSWORD)?;
    // The county joined long before today: registrations are back-dated past any report
    // period a newcomer might ask for, so the history below counts in it.
    let joined = now - chrono::Duration::days(JOINED_DAYS_AGO);
    crate::db::write_tx(conn, |conn| {
        let orgs: i64 = organisations::table.count().get_result(conn)?;
        let insts: i64 = institutions::table.count().get_result(conn)?;
        if orgs + insts > 0 {
            return Ok(None);
        }
        let company = county
            .organisation_of_kind("disposal_company")
            .map(|o| o.id.clone());
        for o in &county.organisations {
            let (lat, lng) = if Some(&o.id) == company.as_ref() {
                (Some(county.plant.lat), Some(county.plant.lng))
            } else {
                (o.lat, o.lng)
            };
            accounts::create_org_with_id(
                conn,
                o.id.clone(),
                NewOrg {
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                    lat,
                    lng,
                    townships: o.townships.clone(),
                },
                joined,
            )?;
        }
        // Hubs first: a via-hub institution references its hub.
        let mut seeds: Vec<&yifei_seed::InstitutionSeed> = county.institutions.iter().collect();
        seeds.sort_by_key(|i| i.hub_id.is_some());
        for i in seeds {
            let mut errors = Vec::new();
            let cell = cell_of(
                &yifei_contract::LatLng {
                    lat: i.lat,
                    lng: i.lng,
                },
                "location",
                &mut errors,
            )
            .ok_or_else(|| {
                ApiError::Config(format!("demo institution {} has a bad position", i.id))
            })?;
            debug_assert_eq!(cell.resolution(), H3_RESOLUTION);
            let row = InstitutionRow {
                id: i.id.clone(),
                name: i.name.clone(),
                kind: i.kind.clone(),
                licence_no: i.licence_no.clone(),
                township: i.township.clone(),
                village: i.village.clone(),
                address: i.address.clone(),
                lat: i.lat,
                lng: i.lng,
                h3_cell: i64::try_from(u64::from(cell)).unwrap_or_default(),
                beds: i.beds,
                contact_name: i.contact.name.clone(),
                contact_phone: i.contact.phone.clone(),
                contact_email: i.contact.email.clone(),
                status: i.status.clone(),
                status_reason: None,
                service_mode: i.service_mode.clone(),
                hub_id: i.hub_id.clone(),
                collection_interval_h: i.collection_interval_h,
                opening_hours: serde_json::to_string(&i.opening_hours)
                    .map_err(|e| ApiError::Config(format!("opening hours: {e}")))?,
                created_at: joined.naive_utc(),
                updated_at: joined.naive_utc(),
            };
            diesel::insert_into(institutions::table)
                .values(&row)
                .execute(conn)?;
        }
        let roster = demo_roster(conn, &county, joined)?;
        let mut lines = vec![
            format!(
                "Loaded the demo county {} ({}): {} institutions ({} pending approval), {} organisations, {} vehicles.",
                county.name,
                county.name_en,
                county.institutions.len(),
                county
                    .institutions
                    .iter()
                    .filter(|i| i.status == "pending")
                    .count(),
                county.organisations.len(),
                county.vehicles.len()
            ),
            format!(
                "Demo logins (password for all: {}):",
                yifei_seed::DEMO_PASSWORD
            ),
        ];
        for u in &county.users {
            let role = Role::parse(&u.role).ok_or_else(|| {
                ApiError::Config(format!("demo user {} has unknown role {}", u.login, u.role))
            })?;
            let at_institution = matches!(role, Role::ClinicStaff | Role::HubKeeper);
            diesel::insert_into(users::table)
                .values(NewUser {
                    id: u.id.clone(),
                    login: u.login.to_lowercase(),
                    password_hash: demo_hash.clone(),
                    role: role.as_str().to_owned(),
                    org_id: if at_institution {
                        None
                    } else {
                        u.org_id.clone()
                    },
                    institution_id: if at_institution {
                        u.org_id.clone()
                    } else {
                        None
                    },
                    display_name: Some(u.display_name.clone()),
                    email: Some(u.email.clone()),
                    active: true,
                    created_at: joined.naive_utc(),
                })
                .execute(conn)?;
            lines.push(format!(
                "  {:<10} {:<15} {}",
                u.login,
                role.as_str(),
                u.note
            ));
        }
        for v in &county.vehicles {
            let driver = county.user(&v.driver_login).map(|u| u.id.clone());
            diesel::insert_into(crate::db::schema::vehicles::table)
                .values(crate::runs::fleet::VehicleRow {
                    id: v.id.clone(),
                    org_id: company
                        .clone()
                        .ok_or_else(|| ApiError::Config("demo county has no company".into()))?,
                    plate: v.plate.clone(),
                    capacity_kg: v.capacity_kg,
                    capacity_units: v.capacity_units,
                    refrigerated: v.refrigerated,
                    shift_start: v.shift_start.clone(),
                    shift_end: v.shift_end.clone(),
                    driver_id: driver,
                    active: true,
                    created_at: joined.naive_utc(),
                    updated_at: joined.naive_utc(),
                })
                .execute(conn)?;
        }
        let history = collection_history(conn, &county, now)?;
        let (containers, institutions) = seal_waste(conn, &county, now)?;
        lines.insert(
            1,
            format!(
                "History: {} containers sealed, collected, received and disposed over the last {HISTORY_DAYS} days ({} collected late, {} institutions never collected), for the reports.",
                history.containers, history.late, history.never_collected
            ),
        );
        lines.insert(
            2,
            format!(
                "Sealed {containers} containers at {institutions} institutions over the last two days, so tomorrow has due pickups."
            ),
        );
        lines.insert(
            3,
            format!(
                "Roster: {} licensed institutions; {} never signed up and {} dispose of their own waste (条例 Art.21), so the 纳入率 reads below 100 %.",
                roster.0, roster.1, roster.2
            ),
        );
        Ok(Some(lines))
    })
}

/// Institutions on the demo bureau's roster that never signed up (and one self-disposal).
const ROSTER_EXTRA: &str = include_str!("../../seed/data/roster_extra.csv");

/// The bureau's roster: every demo institution by its licence, plus `ROSTER_EXTRA`. Returns
/// (entries, not signed up, self-disposal).
fn demo_roster(
    conn: &mut DbConnection,
    county: &yifei_seed::County,
    joined: DateTime<Utc>,
) -> Result<(usize, usize, usize), ApiError> {
    let mut rows = crate::roster::from_csv(ROSTER_EXTRA)?;
    let extra = rows.len();
    let self_disposal = rows
        .iter()
        .filter(|r| {
            r.fields
                .get("self_disposal_basis")
                .is_some_and(|b| !b.is_empty())
        })
        .count();
    for (n, i) in county.institutions.iter().enumerate() {
        let mut fields = std::collections::HashMap::new();
        for (k, v) in [
            ("licence_no", i.licence_no.clone()),
            ("name", i.name.clone()),
            ("kind", i.kind.clone()),
            ("township", i.township.clone()),
            ("village", i.village.clone()),
            ("address", i.address.clone()),
            ("lat", i.lat.to_string()),
            ("lng", i.lng.to_string()),
            ("beds", i.beds.to_string()),
        ] {
            fields.insert(k, v);
        }
        rows.push(crate::roster::Raw {
            row: (extra + n) as u64 + 2,
            fields,
        });
    }
    let r = crate::roster::store::import_in_tx(conn, rows, joined)?;
    if let Some(e) = r.errors.first() {
        return Err(ApiError::Config(format!(
            "demo roster row {}: {}: {}",
            e.row, e.field, e.message
        )));
    }
    Ok((r.added.len(), extra - self_disposal, self_disposal))
}

/// How long ago the demo county's organisations, institutions and accounts joined.
const JOINED_DAYS_AGO: i64 = 180;
/// Days of completed collections before the open waste of the last two days.
const HISTORY_DAYS: i64 = 35;

/// What the history holds, for the banner.
struct History {
    containers: usize,
    late: usize,
    never_collected: usize,
}

/// One event of the demo, chained onto its container.
#[allow(clippy::too_many_arguments)]
fn demo_event(
    row: &mut crate::custody::store::ContainerRow,
    action: &str,
    role: &str,
    at: chrono::NaiveDateTime,
    kg: Option<f64>,
    at_place: Option<(f64, f64)>,
    now: chrono::NaiveDateTime,
) -> crate::custody::store::EventRow {
    crate::custody::store::chain_next(
        row,
        crate::custody::store::EventRow {
            id: uuid::Uuid::now_v7().to_string(),
            container_id: String::new(),
            seq: 0,
            action: action.into(),
            occurred_at: at,
            received_at: now,
            actor_id: "demo-loader".into(),
            actor_role: role.into(),
            weight_g: kg.map(crate::custody::grams),
            lat: at_place.map(|p| p.0),
            lng: at_place.map(|p| p.1),
            run_id: None,
            reason: None,
            method: (action == "dispose").then(|| "incineration".to_owned()),
            device_id: Some("demo".into()),
            via_parent: None,
            parent_code: None,
            prev_hash: String::new(),
            hash: String::new(),
            weight_source: None,
            batch: None,
            disposed_at: None,
            corrects: None,
            new_value: None,
        },
    )
}

/// Five weeks of finished custody before the open waste: each active institution sealed
/// waste every collection interval, the company collected it (a few times late), the plant
/// received and disposed of it, so that a report over the last 30 days has figures to show
/// and to question. A few institutions were never collected: the rates must not read 100 %.
fn collection_history(
    conn: &mut DbConnection,
    county: &yifei_seed::County,
    now: DateTime<Utc>,
) -> Result<History, ApiError> {
    use crate::custody::store::{ContainerRow, insert_events, places, refold};
    use crate::custody::{codes, micros};
    let admin: String = users::table
        .filter(users::role.eq("admin"))
        .select(users::id)
        .first(conn)?;
    let now_n = micros(now);
    let tz = chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC"));
    let (today_midnight, _) =
        crate::pickups::store::day_bounds(now.with_timezone(&tz).date_naive(), tz);
    let mut h = History {
        containers: 0,
        late: 0,
        never_collected: 0,
    };
    for i in county.institutions.iter().filter(|i| i.status == "active") {
        if pick(&format!("{}:never", i.id), 100) < 4 {
            h.never_collected += 1;
            continue;
        }
        let inst: InstitutionRow = institutions::table
            .find(&i.id)
            .select(InstitutionRow::as_select())
            .first(conn)?;
        let p = places(conn, &inst)?;
        let pickup_at = p.hub.unwrap_or(p.institution);
        let step_days = i64::from(i.collection_interval_h.max(24) / 24);
        let interval = chrono::Duration::hours(i64::from(i.collection_interval_h.max(24)));
        let struggling = pick(&format!("{}:struggling", i.id), 100) < 8;
        let mut day = HISTORY_DAYS + 2;
        while day > 2 {
            let key = format!("{}:{day}", i.id);
            let sealed = today_midnight - chrono::Duration::days(day)
                + chrono::Duration::hours(10)
                + chrono::Duration::minutes(
                    i64::try_from(pick(&format!("{key}:s"), 300)).unwrap_or(0),
                );
            // Lateness sits with a few remote institutions, as it does in a real county.
            let late = struggling && pick(&format!("{key}:late"), 100) < 20;
            let collected = if late {
                h.late += 1;
                sealed + interval + chrono::Duration::hours(5)
            } else {
                sealed + interval
                    - chrono::Duration::minutes(
                        30 + i64::try_from(pick(&format!("{key}:c"), 120)).unwrap_or(0),
                    )
            };
            let received = collected
                + chrono::Duration::minutes(
                    150 + i64::try_from(pick(&format!("{key}:r"), 90)).unwrap_or(0),
                );
            let disposed = received
                + chrono::Duration::hours(
                    8 + i64::try_from(pick(&format!("{key}:d"), 20)).unwrap_or(0),
                );
            let kg = (i.waste_kg_per_day * step_days as f64).max(0.2)
                * (0.8 + pick(&format!("{key}:w"), 40) as f64 / 100.0);
            let mut row = ContainerRow::labelled(
                codes::generate()?,
                i.id.clone(),
                "infectious".into(),
                "bag".into(),
                None,
                admin.clone(),
                sealed - chrono::Duration::minutes(20),
                now_n,
            );
            diesel::insert_into(crate::db::schema::containers::table)
                .values(&row)
                .execute(conn)?;
            let mut events = vec![demo_event(
                &mut row,
                "seal",
                "clinic_staff",
                sealed,
                Some(kg),
                None,
                now_n,
            )];
            if p.hub.is_some() {
                let hub_in = sealed + chrono::Duration::hours(3);
                events.push(demo_event(
                    &mut row,
                    "hub_in",
                    "hub_keeper",
                    hub_in,
                    None,
                    None,
                    now_n,
                ));
            }
            events.push(demo_event(
                &mut row,
                "collect",
                "driver",
                collected,
                Some(kg * 1.01),
                Some(pickup_at),
                now_n,
            ));
            events.push(demo_event(
                &mut row,
                "receive",
                "plant_operator",
                received,
                Some(kg * 0.99),
                None,
                now_n,
            ));
            events.push(demo_event(
                &mut row,
                "dispose",
                "plant_operator",
                disposed,
                None,
                None,
                now_n,
            ));
            insert_events(conn, &events)?;
            refold(conn, &mut row, p, now_n)?;
            h.containers += 1;
            day -= step_days;
        }
    }
    Ok(h)
}

/// A deterministic number in `0..n` from a text (the demo must look the same every time).
fn pick(text: &str, n: u64) -> u64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(text.as_bytes());
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) % n.max(1)
}

/// Seals waste at most active institutions, 2 to 40 hours ago, in amounts following each
/// institution's daily production: the storage clocks run and tomorrow has due pickups.
fn seal_waste(
    conn: &mut DbConnection,
    county: &yifei_seed::County,
    now: DateTime<Utc>,
) -> Result<(usize, usize), ApiError> {
    use crate::custody::store::{ContainerRow, insert_events, places, refold};
    use crate::custody::{codes, micros};
    let admin: String = users::table
        .filter(users::role.eq("admin"))
        .select(users::id)
        .first(conn)?;
    let now_n = micros(now);
    let tz = chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC"));
    let (today_midnight, _) =
        crate::pickups::store::day_bounds(now.with_timezone(&tz).date_naive(), tz);
    let (mut made, mut at) = (0, 0);
    for i in county.institutions.iter().filter(|i| i.status == "active") {
        if pick(&format!("{}:skip", i.id), 10) < 3 {
            continue; // nothing waiting here
        }
        let n = 1 + pick(
            &format!("{}:n", i.id),
            if i.waste_kg_per_day > 2.0 { 4 } else { 2 },
        );
        let inst: InstitutionRow = institutions::table
            .find(&i.id)
            .select(InstitutionRow::as_select())
            .first(conn)?;
        let p = places(conn, &inst)?;
        for k in 0..n {
            // Half sealed yesterday between 11:00 and 17:00 local (due tomorrow, within
            // opening hours), half today since 08:00 (due the day after).
            let minute = i64::try_from(pick(&format!("{}:{k}:age", i.id), 360)).unwrap_or(0);
            let sealed = if pick(&format!("{}:{k}:day", i.id), 2) == 0 {
                today_midnight - chrono::Duration::hours(13) + chrono::Duration::minutes(minute)
            } else {
                (today_midnight + chrono::Duration::hours(8) + chrono::Duration::minutes(minute))
                    .min(now_n - chrono::Duration::hours(1))
            };
            let kg = (i.waste_kg_per_day / n as f64).max(0.1)
                * (0.7 + pick(&format!("{}:{k}:w", i.id), 60) as f64 / 100.0);
            let sharps = k == 1 && i.kind != "village_health_room";
            let mut row = ContainerRow::labelled(
                codes::generate()?,
                i.id.clone(),
                if sharps { "sharps" } else { "infectious" }.into(),
                if sharps { "sharps_box" } else { "bag" }.into(),
                None,
                admin.clone(),
                sealed - chrono::Duration::minutes(30),
                now_n,
            );
            diesel::insert_into(crate::db::schema::containers::table)
                .values(&row)
                .execute(conn)?;
            let seal = demo_event(
                &mut row,
                "seal",
                "clinic_staff",
                sealed,
                Some(kg),
                None,
                now_n,
            );
            insert_events(conn, &[seal])?;
            refold(conn, &mut row, p, now_n)?;
            made += 1;
        }
        at += 1;
    }
    // A few histories for the bureau to find: waste stored past its limit, a pickup heavier
    // than the seal, a pickup that never reached the plant.
    let stories: [&[(&str, i64, Option<f64>)]; 3] = [
        &[("seal", 55, Some(1.4))],
        &[
            ("seal", 30, Some(1.2)),
            ("collect", 20, Some(2.0)),
            ("receive", 18, Some(2.0)),
            ("dispose", 10, None),
        ],
        &[("seal", 40, Some(0.8)), ("collect", 30, Some(0.8))],
    ];
    let mut picked = county
        .institutions
        .iter()
        .filter(|i| i.status == "active" && i.service_mode == "direct");
    for story in stories {
        let Some(i) = picked.next() else { break };
        let inst: InstitutionRow = institutions::table
            .find(&i.id)
            .select(InstitutionRow::as_select())
            .first(conn)?;
        let p = places(conn, &inst)?;
        let first = now_n - chrono::Duration::hours(story[0].1);
        let mut row = ContainerRow::labelled(
            codes::generate()?,
            i.id.clone(),
            "infectious".into(),
            "bag".into(),
            None,
            admin.clone(),
            first - chrono::Duration::minutes(30),
            now_n,
        );
        diesel::insert_into(crate::db::schema::containers::table)
            .values(&row)
            .execute(conn)?;
        let mut events = Vec::new();
        for (action, hours_ago, kg) in story {
            let role = match *action {
                "seal" => "clinic_staff",
                "collect" => "driver",
                _ => "plant_operator",
            };
            events.push(demo_event(
                &mut row,
                action,
                role,
                now_n - chrono::Duration::hours(*hours_ago),
                *kg,
                (*action == "collect").then_some((inst.lat, inst.lng)),
                now_n,
            ));
        }
        insert_events(conn, &events)?;
        refold(conn, &mut row, p, now_n)?;
        made += 1;
    }
    Ok((made, at))
}
