//! Storage clocks of the waiting waste: when each sealed container's warning opens and when its
//! storage limit passes (条例 Art.17), with the thresholds the alert rules use, so the clinic's
//! page and the alerts never disagree about a deadline.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{Role, StorageClock, StorageClocks};

use crate::auth::Caller;
use crate::custody::kg;
use crate::db::DbConnection;
use crate::db::schema::{containers, institutions};
use crate::error::ApiError;
use crate::institutions::store::{scope_of, visible_ids};
use crate::oversight::alerts::Thresholds;
use crate::wire::parse_enum;

/// Most containers one answer lists (a clinic holds a handful; a hub a few dozen).
pub const MAX_CLOCKS: i64 = 1000;

/// The warning time, the deadline and the status at `now` of waste sealed at `sealed_at`:
/// `overdue` from the deadline on, `warn` from the warning on, else `ok`.
pub fn clock(
    sealed_at: NaiveDateTime,
    t: &Thresholds,
    now: NaiveDateTime,
) -> (NaiveDateTime, NaiveDateTime, &'static str) {
    let warn_at = sealed_at + Duration::hours(t.storage_warn_h);
    let deadline = sealed_at + Duration::hours(t.storage_breach_h);
    let status = if now >= deadline {
        "overdue"
    } else if now >= warn_at {
        "warn"
    } else {
        "ok"
    };
    (warn_at, deadline, status)
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i32>,
    Option<NaiveDateTime>,
);

/// The sealed containers waiting at the caller's institution (and, for a hub keeper, the
/// village boxes delivering to the hub), oldest seal first (clinic staff, hub keepers).
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    now: DateTime<Utc>,
    overrides: &crate::oversight::alerts::Overrides,
) -> Result<StorageClocks, ApiError> {
    caller.require(&[Role::ClinicStaff, Role::HubKeeper])?;
    let epidemic = crate::oversight::epidemic(conn)?;
    let t = Thresholds::new(epidemic, overrides);
    let scope = scope_of(conn, caller)?;
    let mut q = containers::table
        .inner_join(institutions::table)
        .filter(containers::state.eq_any(["sealed", "at_hub"]))
        .filter(containers::sealed_at.is_not_null())
        .select((
            containers::code,
            containers::institution_id,
            institutions::name,
            containers::category,
            containers::packaging,
            containers::state,
            containers::seal_weight_g,
            containers::sealed_at,
        ))
        .into_boxed();
    if let Some(ids) = visible_ids(conn, &scope)? {
        q = q.filter(containers::institution_id.eq_any(ids));
    }
    let rows: Vec<Row> = q
        .order((containers::sealed_at.asc(), containers::id.asc()))
        .limit(MAX_CLOCKS)
        .load(conn)?;
    let items = rows
        .into_iter()
        .filter_map(|(code, inst, name, cat, pack, state, g, sealed)| {
            sealed.map(|s| (code, inst, name, cat, pack, state, g, s))
        })
        .map(
            |(code, institution_id, institution_name, cat, pack, state, g, sealed)| {
                let (warn_at, deadline, status) = clock(sealed, &t, now.naive_utc());
                Ok(StorageClock {
                    code,
                    institution_id,
                    institution_name,
                    category: parse_enum(&cat)?,
                    packaging: parse_enum(&pack)?,
                    state: parse_enum(&state)?,
                    seal_kg: g.map(kg),
                    sealed_at: sealed.and_utc(),
                    warn_at: warn_at.and_utc(),
                    deadline: deadline.and_utc(),
                    status: status.to_owned(),
                })
            },
        )
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(StorageClocks {
        as_of: now,
        epidemic,
        warn_h: t.storage_warn_h,
        limit_h: t.storage_breach_h,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(d: u32, h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, d)
            .and_then(|x| x.and_hms_opt(h, m, 0))
            .expect("valid")
    }

    #[test]
    fn the_clock_turns_at_the_warning_and_at_the_limit() {
        let t = Thresholds {
            storage_warn_h: 36,
            storage_breach_h: 48,
            ..Thresholds::new(false, &Default::default())
        };
        // Sealed Friday 22:30 (UTC): the limit ends Sunday 22:30, across midnight and the
        // weekend (the clock does not stop).
        let sealed = at(6, 22, 30);
        let (warn, deadline, s) = clock(sealed, &t, at(7, 9, 0));
        assert_eq!((warn, deadline, s), (at(8, 10, 30), at(8, 22, 30), "ok"));
        assert_eq!(clock(sealed, &t, at(8, 10, 29)).2, "ok");
        assert_eq!(clock(sealed, &t, at(8, 10, 30)).2, "warn");
        assert_eq!(clock(sealed, &t, at(8, 22, 29)).2, "warn");
        assert_eq!(clock(sealed, &t, at(8, 22, 30)).2, "overdue");
    }

    #[test]
    fn epidemic_mode_shortens_the_limit() {
        let t = Thresholds {
            storage_warn_h: 18,
            storage_breach_h: 24,
            ..Thresholds::new(true, &Default::default())
        };
        let (_, deadline, s) = clock(at(2, 8, 0), &t, at(3, 8, 0));
        assert_eq!((deadline, s), (at(3, 8, 0), "overdue"));
    }
}
