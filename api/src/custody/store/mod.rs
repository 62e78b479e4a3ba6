//! Containers in the database: creation, visibility, listing, refolding, nesting, audit.
//!
//! By concern: `rows` (the rows and what is derived on them in memory), `statements` (the
//! scan path's per-backend statements), this file (queries), `nest` (小箱进大箱).

pub mod corrections;
mod nest;
mod rows;
mod statements;

pub use nest::{NEST_NAMESPACE, nest};
pub use rows::{ContainerRow, EventRow, chain_next, derive, derive_folded};
pub use statements::{DerivedBatch, SqliteDerived, insert_events, save_derived, stale};

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{
    Audit, AuditEvent, Category, Container, ContainerPage, ContainerState, Packaging, Role, Weights,
};

use crate::auth::Caller;
use crate::custody::chain::{self};
use crate::custody::fold::{self, Derived, FoldEvent, Places};
use crate::custody::{codes, kg, label, rules};
use crate::db::DbConnection;
use crate::db::schema::{containers, institutions, scan_events};
use crate::error::ApiError;
use crate::institutions::Scope;
use crate::institutions::store::{InstitutionRow, scope_of};
use crate::wire::{Cursor, enum_str, page, parse_enum};

/// Appends one event to a container's chain (the caller holds the container's lock).
pub fn append(conn: &mut DbConnection, c: &mut ContainerRow, e: EventRow) -> Result<(), ApiError> {
    let e = chain_next(c, e);
    insert_events(conn, std::slice::from_ref(&e))
}

/// Takes the container's row lock (PostgreSQL) or the write lock (SQLite) and re-reads it, so
/// that concurrent batches append to its chain one after the other.
pub fn lock(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<ContainerRow, ApiError> {
    diesel::update(containers::table.find(id))
        .set((
            containers::updated_at.eq(now),
            containers::version.eq(containers::version + 1),
        ))
        .execute(conn)?;
    Ok(containers::table
        .find(id)
        .select(ContainerRow::as_select())
        .first(conn)?)
}

/// The places a container may be collected from.
pub fn places(conn: &mut DbConnection, inst: &InstitutionRow) -> Result<Places, ApiError> {
    let hub = match &inst.hub_id {
        Some(h) => institutions::table
            .find(h)
            .select((institutions::lat, institutions::lng))
            .first::<(f64, f64)>(conn)
            .optional()?,
        None => None,
    };
    Ok(Places {
        institution: (inst.lat, inst.lng),
        hub,
    })
}

/// Recomputes the derived state from all events and stores it on the row.
pub fn refold(
    conn: &mut DbConnection,
    c: &mut ContainerRow,
    places: Places,
    now: NaiveDateTime,
) -> Result<Derived, ApiError> {
    let events: Vec<EventRow> = scan_events::table
        .filter(scan_events::container_id.eq(&c.id))
        .select(EventRow::as_select())
        .load(conn)?;
    let children: Vec<Option<i32>> = containers::table
        .filter(containers::parent_id.eq(&c.id))
        .select(containers::seal_weight_g)
        .load(conn)?;
    let children_g =
        (!children.is_empty()).then(|| children.iter().flatten().map(|g| i64::from(*g)).sum());
    apply_fold(conn, c, &events, places, children_g, now)
}

/// Folds the given events (all of the container's) and stores the derived state on the row.
pub fn apply_fold(
    conn: &mut DbConnection,
    c: &mut ContainerRow,
    events: &[EventRow],
    places: Places,
    children_g: Option<i64>,
    now: NaiveDateTime,
) -> Result<Derived, ApiError> {
    let d = derive(c, events, places, children_g, now)?;
    save_derived(conn, std::slice::from_ref(c))?;
    Ok(d)
}

/// Labels `count` new containers for the caller's institution.
pub fn create(
    conn: &mut DbConnection,
    caller: &Caller,
    count: usize,
    spec: &yifei_contract::NewContainer,
    now: DateTime<Utc>,
    tz: FixedOffset,
) -> Result<Vec<Container>, ApiError> {
    caller.require(&[Role::ClinicStaff, Role::HubKeeper])?;
    let (category, packaging) = (spec.category, spec.packaging);
    let (note, special) = rules::check(category, packaging, spec.note.as_deref())?;
    let inst_id = caller.tenant_id()?.to_owned();
    crate::db::write_tx(conn, |conn| {
        let inst: InstitutionRow = institutions::table
            .find(&inst_id)
            .select(InstitutionRow::as_select())
            .first(conn)?;
        if inst.status != "active" {
            return Err(ApiError::Forbidden(format!(
                "the institution is {}: only active institutions label containers",
                inst.status
            )));
        }
        let now = super::micros(now);
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let mut code = codes::generate()?;
            while containers::table
                .filter(containers::code.eq(&code))
                .count()
                .get_result::<i64>(conn)?
                > 0
            {
                code = codes::generate()?;
            }
            let row = ContainerRow::labelled(
                code,
                inst.id.clone(),
                enum_str(&category),
                enum_str(&packaging),
                note.clone(),
                caller.user_id.clone(),
                now,
                now,
            );
            diesel::insert_into(containers::table)
                .values(&row)
                .execute(conn)?;
            out.push(to_wire(
                &row,
                &inst.name,
                tz,
                None,
                Vec::new(),
                Vec::new(),
                &HashMap::new(),
                &special,
            )?);
        }
        Ok(out)
    })
}

/// The wire form of a container.
#[allow(clippy::too_many_arguments)]
fn to_wire(
    c: &ContainerRow,
    producer: &str,
    tz: FixedOffset,
    parent_code: Option<String>,
    children: Vec<String>,
    events: Vec<EventRow>,
    anomalies: &HashMap<String, String>,
    special: &[String],
) -> Result<Container, ApiError> {
    let category: Category = parse_enum(&c.category)?;
    let packaging: Packaging = parse_enum(&c.packaging)?;
    let mut events = events;
    events.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at).then(a.seq.cmp(&b.seq)));
    Ok(Container {
        code: c.code.clone(),
        state: parse_enum(&c.state)?,
        category,
        category_code: rules::category_info(category).0.to_owned(),
        packaging,
        note: c.note.clone(),
        institution_id: c.institution_id.clone(),
        parent_code,
        children,
        weights: Weights {
            seal_kg: c.seal_weight_g.map(kg),
            collect_kg: c.collect_weight_g.map(kg),
            receive_kg: c.receive_weight_g.map(kg),
            sources: crate::custody::weighing::sources_of(
                &events
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
                    .collect::<Vec<_>>(),
            ),
        },
        flags: serde_json::from_str(&c.flags).unwrap_or_default(),
        sealed_at: c.sealed_at.map(|t| t.and_utc()),
        created_at: c.created_at.and_utc(),
        label: label::label(
            &c.code,
            producer,
            c.created_at,
            c.sealed_at,
            tz,
            category,
            packaging,
            special.to_vec(),
        ),
        events: events
            .iter()
            .map(|e| e.to_wire(anomalies.get(&e.id)))
            .collect::<Result<_, _>>()?,
    })
}

fn special_notes(c: &ContainerRow) -> Vec<String> {
    match (
        parse_enum::<Category>(&c.category),
        parse_enum::<Packaging>(&c.packaging),
    ) {
        (Ok(cat), Ok(p)) => rules::check(cat, p, c.note.as_deref())
            .map(|(_, s)| s)
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn admitted(scope: &Scope, inst: &InstitutionRow) -> Result<bool, ApiError> {
    Ok(scope.admits(
        &inst.id,
        &inst.township,
        inst.status()?,
        inst.hub_id.as_deref(),
    ))
}

/// A container the caller may see (by any written form of its code); otherwise 404.
pub fn get_visible(
    conn: &mut DbConnection,
    caller: &Caller,
    code: &str,
) -> Result<(ContainerRow, InstitutionRow), ApiError> {
    let not_found = || ApiError::NotFound(format!("no container {code}"));
    let code = codes::parse(code).map_err(|_| not_found())?;
    let found: Option<(ContainerRow, InstitutionRow)> = containers::table
        .inner_join(institutions::table)
        .filter(containers::code.eq(&code))
        .select((ContainerRow::as_select(), InstitutionRow::as_select()))
        .first(conn)
        .optional()?;
    let scope = scope_of(conn, caller)?;
    match found {
        Some((c, i)) if admitted(&scope, &i)? => Ok((c, i)),
        _ => Err(not_found()),
    }
}

/// The full view of a container: derived state, children, events in occurrence order.
pub fn detail(
    conn: &mut DbConnection,
    caller: &Caller,
    code: &str,
    tz: FixedOffset,
) -> Result<Container, ApiError> {
    let (c, inst) = get_visible(conn, caller, code)?;
    let events: Vec<EventRow> = scan_events::table
        .filter(scan_events::container_id.eq(&c.id))
        .select(EventRow::as_select())
        .load(conn)?;
    let folded: Vec<FoldEvent> = events
        .iter()
        .map(EventRow::fold_event)
        .collect::<Result<_, _>>()?;
    let anomalies = fold::fold(&folded, places(conn, &inst)?, None).anomalies;
    let parent_code = match &c.parent_id {
        Some(p) => containers::table
            .find(p)
            .select(containers::code)
            .first(conn)
            .optional()?,
        None => None,
    };
    let children: Vec<String> = containers::table
        .filter(containers::parent_id.eq(&c.id))
        .order(containers::code.asc())
        .select(containers::code)
        .load(conn)?;
    to_wire(
        &c,
        &inst.name,
        tz,
        parent_code,
        children,
        events,
        &anomalies,
        &special_notes(&c),
    )
}

/// Filters of the container list.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub state: Option<ContainerState>,
    pub flag: Option<String>,
    pub institution_id: Option<String>,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// One page of the containers the caller may see, oldest first.
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    f: ListFilter,
    tz: FixedOffset,
) -> Result<ContainerPage, ApiError> {
    let scope = scope_of(conn, caller)?;
    let mut q = containers::table
        .inner_join(institutions::table)
        .select((ContainerRow::as_select(), InstitutionRow::as_select()))
        .into_boxed();
    if let Some(ids) = crate::institutions::store::visible_ids(conn, &scope)? {
        q = q.filter(containers::institution_id.eq_any(ids));
    }
    if let Some(s) = f.state {
        q = q.filter(containers::state.eq(enum_str(&s)));
    }
    if let Some(flag) = f.flag {
        q = q.filter(containers::flags.like(format!("%\"{flag}\"%")));
    }
    if let Some(i) = f.institution_id {
        // An institution the caller may not see is refused like any record (404), not
        // answered with an empty page.
        crate::institutions::store::get_visible(conn, caller, &i)?;
        q = q.filter(containers::institution_id.eq(i));
    }
    if let Some(c) = f.cursor {
        q = q.filter(containers::id.gt(c.0));
    }
    let rows: Vec<(ContainerRow, InstitutionRow)> = q
        .order(containers::id.asc())
        .limit(f.limit + 1)
        .load(conn)?;
    let (rows, next_cursor) = page(rows, f.limit, |(c, _)| &c.id);
    let items = rows
        .iter()
        .map(|(c, i)| {
            to_wire(
                c,
                &i.name,
                tz,
                None,
                Vec::new(),
                Vec::new(),
                &HashMap::new(),
                &special_notes(c),
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(ContainerPage { items, next_cursor })
}

/// Recomputes a container's hash chain from its stored events (admin and bureau staff).
pub fn audit(conn: &mut DbConnection, caller: &Caller, code: &str) -> Result<Audit, ApiError> {
    caller.require(&[Role::Admin, Role::BureauStaff])?;
    let (c, _) = get_visible(conn, caller, code)?;
    let events: Vec<EventRow> = scan_events::table
        .filter(scan_events::container_id.eq(&c.id))
        .order(scan_events::seq.asc())
        .select(EventRow::as_select())
        .load(conn)?;
    let mut running = chain::genesis(&c.id);
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        let expected_seq = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let mut ok = true;
        if e.seq != expected_seq {
            problems.push(format!(
                "event {} has position {} where {expected_seq} was expected",
                e.id, e.seq
            ));
            ok = false;
        }
        if e.prev_hash != running {
            problems.push(format!("event {} does not link to its predecessor", e.id));
            ok = false;
        }
        if chain::hash(&e.prev_hash, &e.chained()) != e.hash {
            problems.push(format!("event {} was altered after it was stored", e.id));
            ok = false;
        }
        running = e.hash.clone();
        out.push(AuditEvent {
            event_id: e.id.clone(),
            seq: e.seq,
            hash: e.hash.clone(),
            valid: ok,
        });
    }
    if running != c.head_hash || usize::try_from(c.event_count).ok() != Some(events.len()) {
        problems.push("the chain's head does not match the container: events were removed or added outside the API".into());
    }
    Ok(Audit {
        code: c.code,
        valid: problems.is_empty(),
        events: out,
        problems,
    })
}
