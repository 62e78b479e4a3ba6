//! The plant gate's day: the receipts and refusals recorded by the company's plant staff on a
//! local calendar day, read from the custody log (so the count agrees with the scans).

use std::collections::HashSet;

use chrono::{FixedOffset, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use yifei_contract::{Intake, IntakeLine, Role};

use super::kg;
use crate::auth::Caller;
use crate::db::DbConnection;
use crate::db::schema::{containers, institutions, scan_events, users};
use crate::error::ApiError;
use crate::institutions::store::{scope_of, visible_ids};
use crate::pickups::store::day_bounds;
use crate::wire::parse_enum;

/// Most lines one day's answer lists.
pub const MAX_LINES: i64 = 2000;

type Row = (
    String,
    String,
    NaiveDateTime,
    Option<i32>,
    Option<String>,
    String,
    String,
    String,
    String,
);

/// The totals of a day's lines: containers received (each once), their kilograms (the latest
/// weighing of each), and containers refused (each once).
pub fn totals(lines: &[IntakeLine]) -> (i32, f64, i32) {
    let mut received = std::collections::HashMap::new();
    let mut rejected = HashSet::new();
    for l in lines {
        match l.action.as_str() {
            "receive" => {
                received.insert(l.code.as_str(), l.weight_kg.unwrap_or(0.0));
            }
            "reject" => {
                rejected.insert(l.code.as_str());
            }
            _ => {}
        }
    }
    // Folded from +0.0: an empty f64 sum is -0.0, which would print as "-0 kg".
    let kg_sum = received.values().fold(0.0_f64, |a, b| a + b);
    (
        i32::try_from(received.len()).unwrap_or(i32::MAX),
        (kg_sum * 1000.0).round() / 1000.0,
        i32::try_from(rejected.len()).unwrap_or(i32::MAX),
    )
}

/// Receipts and refusals of `day` by the caller's company (plant operators, dispatchers; an
/// admin sees every company's).
pub fn of_day(
    conn: &mut DbConnection,
    caller: &Caller,
    day: NaiveDate,
    tz: FixedOffset,
) -> Result<Intake, ApiError> {
    caller.require(&[Role::PlantOperator, Role::Dispatcher, Role::Admin])?;
    let (from, to) = day_bounds(day, tz);
    let scope = scope_of(conn, caller)?;
    let mut q = scan_events::table
        .inner_join(containers::table.inner_join(institutions::table))
        .filter(scan_events::action.eq_any(["receive", "reject"]))
        .filter(scan_events::occurred_at.ge(from))
        .filter(scan_events::occurred_at.lt(to))
        .select((
            containers::code,
            scan_events::action,
            scan_events::occurred_at,
            scan_events::weight_g,
            scan_events::reason,
            containers::institution_id,
            institutions::name,
            containers::category,
            containers::state,
        ))
        .into_boxed();
    if caller.role != Role::Admin {
        let staff = users::table
            .filter(users::org_id.eq(caller.tenant_id()?.to_owned()))
            .select(users::id);
        q = q.filter(scan_events::actor_id.eq_any(staff));
    }
    if let Some(ids) = visible_ids(conn, &scope)? {
        q = q.filter(containers::institution_id.eq_any(ids));
    }
    let rows: Vec<Row> = q
        .order((scan_events::occurred_at.asc(), scan_events::id.asc()))
        .limit(MAX_LINES)
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(
            |(code, action, at, g, reason, institution_id, institution_name, cat, state)| {
                Ok(IntakeLine {
                    code,
                    action,
                    occurred_at: at.and_utc(),
                    weight_kg: g.map(kg),
                    reason,
                    institution_id,
                    institution_name,
                    category: parse_enum(&cat)?,
                    state: parse_enum(&state)?,
                })
            },
        )
        .collect::<Result<Vec<_>, ApiError>>()?;
    let (received, received_kg, rejected) = totals(&items);
    Ok(Intake {
        date: day,
        received,
        received_kg,
        rejected,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use yifei_contract::{Category, ContainerState};

    fn line(code: &str, action: &str, w: Option<f64>) -> IntakeLine {
        IntakeLine {
            code: code.into(),
            action: action.into(),
            occurred_at: chrono::DateTime::from_timestamp(0, 0).expect("t"),
            weight_kg: w,
            reason: None,
            institution_id: "i".into(),
            institution_name: "n".into(),
            category: Category::Infectious,
            state: ContainerState::Received,
        }
    }

    #[test]
    fn a_container_weighed_twice_counts_once_with_its_last_weight() {
        let lines = [
            line("A", "receive", Some(2.0)),
            line("A", "receive", Some(2.5)),
            line("B", "receive", Some(1.25)),
            line("C", "reject", None),
            line("C", "reject", None),
        ];
        assert_eq!(totals(&lines), (2, 3.75, 1));
        assert_eq!(totals(&[]), (0, 0.0, 0));
        assert!(totals(&[]).1.is_sign_positive(), "no -0 kg on an empty day");
    }
}
