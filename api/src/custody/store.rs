//! Containers in the database: creation, visibility, listing, refolding, nesting, audit.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{
    Actor, Audit, AuditEvent, Category, Container, ContainerPage, ContainerState, CustodyEvent,
    LatLng, Packaging, Role, ScanAction, Weights,
};

use super::chain::{self, Chained};
use super::fold::{self, Derived, FoldEvent, Places};
use super::{codes, kg, label, rules};
use crate::auth::Caller;
use crate::db::schema::{containers, institutions, scan_events};
use crate::db::{DbConnection, new_id};
use crate::error::ApiError;
use crate::institutions::Scope;
use crate::institutions::store::{InstitutionRow, scope_of};
use crate::wire::{Cursor, enum_str, page, parse_enum};

/// A container row: the derived state next to what the label says.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = containers)]
pub struct ContainerRow {
    pub id: String,
    pub code: String,
    pub institution_id: String,
    pub category: String,
    pub packaging: String,
    pub note: Option<String>,
    pub state: String,
    pub flags: String,
    pub parent_id: Option<String>,
    pub seal_weight_g: Option<i32>,
    pub collect_weight_g: Option<i32>,
    pub receive_weight_g: Option<i32>,
    pub sealed_at: Option<NaiveDateTime>,
    pub collected_at: Option<NaiveDateTime>,
    pub received_at: Option<NaiveDateTime>,
    pub disposed_at: Option<NaiveDateTime>,
    pub event_count: i32,
    pub head_hash: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Bumped by every write of the row: see `save_derived`.
    pub version: i32,
    /// How many boxes this big box holds; set when boxes are nested into it.
    pub holds: i32,
}

impl ContainerRow {
    /// A freshly labelled container: no events yet, its chain at the genesis of its new id.
    #[allow(clippy::too_many_arguments)]
    pub fn labelled(
        code: String,
        institution_id: String,
        category: String,
        packaging: String,
        note: Option<String>,
        created_by: String,
        created_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> ContainerRow {
        let id = new_id();
        ContainerRow {
            head_hash: chain::genesis(&id),
            id,
            code,
            institution_id,
            category,
            packaging,
            note,
            state: enum_str(&ContainerState::Labelled),
            flags: "[]".into(),
            parent_id: None,
            seal_weight_g: None,
            collect_weight_g: None,
            receive_weight_g: None,
            sealed_at: None,
            collected_at: None,
            received_at: None,
            disposed_at: None,
            event_count: 0,
            created_by,
            created_at,
            updated_at: now,
            version: 0,
            holds: 0,
        }
    }
}

/// A stored scan event. `None` is inserted as NULL (not DEFAULT) so that SQLite can take a
/// whole batch in one statement.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = scan_events, treat_none_as_default_value = false)]
pub struct EventRow {
    pub id: String,
    pub container_id: String,
    pub seq: i32,
    pub action: String,
    pub occurred_at: NaiveDateTime,
    pub received_at: NaiveDateTime,
    pub actor_id: String,
    pub actor_role: String,
    pub weight_g: Option<i32>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub run_id: Option<String>,
    pub reason: Option<String>,
    pub method: Option<String>,
    pub device_id: Option<String>,
    pub via_parent: Option<String>,
    pub parent_code: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl EventRow {
    pub fn chained(&self) -> Chained<'_> {
        Chained {
            event_id: &self.id,
            container_id: &self.container_id,
            seq: self.seq,
            action: &self.action,
            occurred_at: self.occurred_at,
            received_at: self.received_at,
            actor_id: &self.actor_id,
            actor_role: &self.actor_role,
            weight_g: self.weight_g,
            lat: self.lat,
            lng: self.lng,
            run_id: self.run_id.as_deref(),
            reason: self.reason.as_deref(),
            method: self.method.as_deref(),
            device_id: self.device_id.as_deref(),
            via_parent: self.via_parent.as_deref(),
            parent_code: self.parent_code.as_deref(),
        }
    }

    /// What the fold needs of the event.
    pub fn fold_event(&self) -> Result<FoldEvent, ApiError> {
        Ok(FoldEvent {
            id: self.id.clone(),
            seq: self.seq,
            action: parse_enum(&self.action)?,
            occurred_at: self.occurred_at,
            weight_g: self.weight_g,
            location: self.lat.zip(self.lng),
            derived: self.via_parent.is_some(),
        })
    }

    fn to_wire(&self, anomaly: Option<&String>) -> Result<CustodyEvent, ApiError> {
        Ok(CustodyEvent {
            event_id: self.id.clone(),
            action: parse_enum(&self.action)?,
            occurred_at: self.occurred_at.and_utc(),
            received_at: self.received_at.and_utc(),
            actor: Actor {
                user_id: self.actor_id.clone(),
                role: self.actor_role.clone(),
            },
            weight_kg: self.weight_g.map(kg),
            location: self.lat.zip(self.lng).map(|(lat, lng)| LatLng { lat, lng }),
            run_id: self.run_id.clone(),
            reason: self.reason.clone(),
            method: self.method.clone(),
            device_id: self.device_id.clone(),
            via_parent: self.via_parent.clone(),
            parent_code: self.parent_code.clone(),
            anomaly: anomaly.cloned(),
        })
    }
}

/// Links an event to the container's chain (in memory): position, predecessor, hash.
pub fn chain_next(c: &mut ContainerRow, mut e: EventRow) -> EventRow {
    e.container_id = c.id.clone();
    e.seq = c.event_count + 1;
    e.prev_hash = c.head_hash.clone();
    e.hash = chain::hash(&e.prev_hash, &e.chained());
    c.event_count = e.seq;
    c.head_hash = e.hash.clone();
    e
}

/// The signal that a batch was worked out from rows that changed since: roll back, redo.
pub fn stale() -> ApiError {
    ApiError::Db(diesel::result::Error::RollbackTransaction)
}

/// Stores chained events in one statement. Every id must be new: the caller checked when it
/// worked the batch out; an id that appeared meanwhile (the same event id sent for another
/// container by a concurrent batch) fails as `stale()`, to be worked out again, because the
/// chains computed in memory would no longer hold.
///
/// No `ON CONFLICT` clause: it would make PostgreSQL probe both unique indexes before
/// inserting each row, for a conflict that only a stale draft meets (redone whole anyway).
pub fn insert_events(conn: &mut DbConnection, events: &[EventRow]) -> Result<(), ApiError> {
    for chunk in events.chunks(500) {
        let n = match conn {
            DbConnection::Sqlite(c) => diesel::insert_into(scan_events::table)
                .values(chunk)
                .execute(c),
            DbConnection::Postgresql(c) => PgEvents::of(chunk).execute(c),
        };
        if n.map_err(taken_is_stale)? != chunk.len() {
            return Err(stale());
        }
    }
    Ok(())
}

/// An event id or chain position taken since the batch was worked out: the draft is stale.
fn taken_is_stale(e: diesel::result::Error) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => stale(),
        e => e.into(),
    }
}

/// PostgreSQL: stores a batch worked out without locks, the containers' new state and their
/// events, in one statement that is its own transaction: three round trips fewer than
/// `BEGIN`, update, insert, `COMMIT`, which is most of what an ingest costs beyond the insert
/// itself. A container no longer at the version the batch read makes `yifei_require_rows`
/// (migration `000009`) raise `serialization_failure`, undoing the whole statement, and an
/// event id taken meanwhile fails as `stale()`: both are retried under locks by the caller.
fn write_unlocked_pg(
    conn: &mut diesel::PgConnection,
    rows: &[ContainerRow],
    events: &[EventRow],
) -> Result<(), ApiError> {
    let write = PgWrite {
        save: PgSave::of(rows),
        events: PgEvents::of(events),
        expected: rows.len() as i64,
    };
    write.execute(conn).map_err(taken_is_stale)?;
    Ok(())
}

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

/// Folds the events into the row's derived fields (in memory).
pub fn derive(
    c: &mut ContainerRow,
    events: &[EventRow],
    places: Places,
    children_g: Option<i64>,
    now: NaiveDateTime,
) -> Result<Derived, ApiError> {
    let folded: Vec<FoldEvent> = events
        .iter()
        .map(EventRow::fold_event)
        .collect::<Result<_, _>>()?;
    Ok(derive_folded(c, &folded, places, children_g, now))
}

/// `derive` from events already in the fold's form: ingest keeps a batch's history so, not
/// as whole stored rows.
pub fn derive_folded(
    c: &mut ContainerRow,
    folded: &[FoldEvent],
    places: Places,
    children_g: Option<i64>,
    now: NaiveDateTime,
) -> Derived {
    let d = fold::fold(folded, places, children_g);
    c.state = enum_str(&d.state);
    c.flags = serde_json::to_string(&d.flags).unwrap_or_else(|_| "[]".into());
    c.seal_weight_g = d.seal_weight_g;
    c.collect_weight_g = d.collect_weight_g;
    c.receive_weight_g = d.receive_weight_g;
    c.sealed_at = d.sealed_at;
    c.collected_at = d.collected_at;
    c.received_at = d.received_at;
    c.disposed_at = d.disposed_at;
    c.updated_at = now;
    d
}

/// Stores the derived fields of many containers: a scan batch touches up to
/// 500 containers. PostgreSQL binds one array per column; SQLite runs one prepared
/// statement per row (`SqliteDerived`), which in process costs less than parsing or
/// unpacking a many-row statement.
///
/// Each row is written only if its stored `version` is still the one it was read at, and the
/// version is bumped: a batch worked out from an unlocked read is refused (the transaction is
/// to be rolled back and the batch worked out again under locks) if anything wrote one of its
/// containers in between.
pub fn save_derived(conn: &mut DbConnection, rows: &[ContainerRow]) -> Result<(), ApiError> {
    DerivedBatch::new(conn, rows.to_vec()).save(conn)
}

/// Containers' derived state ready to be stored by `save_derived`. On SQLite each row is
/// already in the form its statement binds (timestamps as diesel's text): made where the
/// batch is worked out, not in the single writer's turn.
pub struct DerivedBatch {
    rows: Vec<ContainerRow>,
    sqlite: Option<Vec<SqliteDerived>>,
}

impl DerivedBatch {
    pub fn new(conn: &DbConnection, rows: Vec<ContainerRow>) -> DerivedBatch {
        let sqlite = match conn {
            DbConnection::Postgresql(_) => None,
            DbConnection::Sqlite(_) => Some(rows.iter().map(SqliteDerived::of).collect()),
        };
        DerivedBatch { rows, sqlite }
    }

    /// Whether there is no container to store.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// PostgreSQL: stores the rows and their events in one statement (`write_unlocked_pg`).
    pub fn save_with_events_pg(
        &self,
        conn: &mut diesel::PgConnection,
        events: &[EventRow],
    ) -> Result<(), ApiError> {
        write_unlocked_pg(conn, &self.rows, events)
    }

    /// Stores the rows; `stale()` if one of them is no longer at the version it was read at.
    pub fn save(&self, conn: &mut DbConnection) -> Result<(), ApiError> {
        match (conn, &self.sqlite) {
            (DbConnection::Postgresql(pg), None) => save_derived_pg(pg, &self.rows),
            (DbConnection::Sqlite(lite), Some(rows)) => {
                for row in rows {
                    if SqliteSave(row).execute(lite)? != 1 {
                        return Err(stale());
                    }
                }
                Ok(())
            }
            _ => Err(ApiError::Internal(
                "derived rows built for another backend".into(),
            )),
        }
    }
}

/// SQLite: one short statement per container, which diesel keeps prepared (its own `update`
/// is re-prepared on every call, and SQLite would parse a many-row statement anew each time:
/// measured, one prepared statement per row is the cheapest of the three).
pub struct SqliteDerived {
    id: String,
    state: String,
    flags: String,
    weights: [Option<i32>; 3],
    times: [Option<String>; 4],
    event_count: i32,
    head_hash: String,
    updated_at: String,
    version: i32,
}

impl SqliteDerived {
    fn of(c: &ContainerRow) -> SqliteDerived {
        use crate::db::batch::timestamp_text as ts;
        SqliteDerived {
            id: c.id.clone(),
            state: c.state.clone(),
            flags: c.flags.clone(),
            weights: [c.seal_weight_g, c.collect_weight_g, c.receive_weight_g],
            times: [c.sealed_at, c.collected_at, c.received_at, c.disposed_at].map(|t| t.map(ts)),
            event_count: c.event_count,
            head_hash: c.head_hash.clone(),
            updated_at: ts(c.updated_at),
            version: c.version,
        }
    }
}

/// The statement storing one `SqliteDerived`.
struct SqliteSave<'a>(&'a SqliteDerived);

impl diesel::query_builder::QueryId for SqliteSave<'_> {
    type QueryId = ();
    // Not static: diesel then caches the prepared statement by its SQL text, which is fixed.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for SqliteSave<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Integer, Nullable, Text};
        out.push_sql("UPDATE containers SET state = ");
        out.push_bind_param::<Text, _>(&self.0.state)?;
        out.push_sql(", flags = ");
        out.push_bind_param::<Text, _>(&self.0.flags)?;
        for (col, w) in ["seal_weight_g", "collect_weight_g", "receive_weight_g"]
            .iter()
            .zip(&self.0.weights)
        {
            out.push_sql(", ");
            out.push_sql(col);
            out.push_sql(" = ");
            out.push_bind_param::<Nullable<Integer>, _>(w)?;
        }
        for (col, t) in ["sealed_at", "collected_at", "received_at", "disposed_at"]
            .iter()
            .zip(&self.0.times)
        {
            out.push_sql(", ");
            out.push_sql(col);
            out.push_sql(" = ");
            out.push_bind_param::<Nullable<Text>, _>(t)?;
        }
        out.push_sql(", event_count = ");
        out.push_bind_param::<Integer, _>(&self.0.event_count)?;
        out.push_sql(", head_hash = ");
        out.push_bind_param::<Text, _>(&self.0.head_hash)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Text, _>(&self.0.updated_at)?;
        out.push_sql(", version = version + 1 WHERE id = ");
        out.push_bind_param::<Text, _>(&self.0.id)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<Integer, _>(&self.0.version)?;
        Ok(())
    }
}

impl diesel::RunQueryDsl<diesel::SqliteConnection> for SqliteSave<'_> {}

/// PostgreSQL: the same update with the values bound as one array per column (`unnest`), so
/// the statement text stays short and fixed whatever the batch size (a `VALUES` list of
/// literals made the server parse and plan some 1 300 constants per batch), and diesel keeps
/// it prepared (its `sql_query` would be parsed and planned again on every batch).
fn save_derived_pg(conn: &mut diesel::PgConnection, rows: &[ContainerRow]) -> Result<(), ApiError> {
    if rows.is_empty() {
        return Ok(());
    }
    if PgSave::of(rows).execute(conn)? != rows.len() {
        return Err(stale());
    }
    Ok(())
}

/// The columns of a batch of derived rows, one array each.
struct PgSave<'a> {
    ids: Vec<&'a str>,
    states: Vec<&'a str>,
    flags: Vec<&'a str>,
    weights: [Vec<Option<i32>>; 3],
    times: [Vec<Option<NaiveDateTime>>; 4],
    event_counts: Vec<i32>,
    head_hashes: Vec<&'a str>,
    updated_at: Vec<NaiveDateTime>,
    versions: Vec<i32>,
}

impl<'a> PgSave<'a> {
    fn of(rows: &'a [ContainerRow]) -> PgSave<'a> {
        let text = |f: fn(&ContainerRow) -> &str| rows.iter().map(f).collect();
        let int = |f: fn(&ContainerRow) -> Option<i32>| rows.iter().map(f).collect();
        let ts = |f: fn(&ContainerRow) -> Option<NaiveDateTime>| rows.iter().map(f).collect();
        PgSave {
            ids: text(|c| &c.id),
            states: text(|c| &c.state),
            flags: text(|c| &c.flags),
            weights: [
                int(|c| c.seal_weight_g),
                int(|c| c.collect_weight_g),
                int(|c| c.receive_weight_g),
            ],
            times: [
                ts(|c| c.sealed_at),
                ts(|c| c.collected_at),
                ts(|c| c.received_at),
                ts(|c| c.disposed_at),
            ],
            event_counts: rows.iter().map(|c| c.event_count).collect(),
            head_hashes: text(|c| &c.head_hash),
            updated_at: rows.iter().map(|c| c.updated_at).collect(),
            versions: rows.iter().map(|c| c.version).collect(),
        }
    }
}

impl diesel::query_builder::QueryId for PgSave<'_> {
    type QueryId = ();
    // Not static: diesel then caches the prepared statement by its SQL text, which is fixed.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for PgSave<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Integer, Nullable, Text, Timestamp};
        out.push_sql(
            "UPDATE containers SET state = v.state, flags = v.flags, seal_weight_g = v.sw, \
             collect_weight_g = v.cw, receive_weight_g = v.rw, sealed_at = v.sa, \
             collected_at = v.ca, received_at = v.ra, disposed_at = v.da, event_count = v.ec, \
             head_hash = v.hh, updated_at = v.ua, version = containers.version + 1 \
             FROM unnest(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.states)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.flags)?;
        for w in &self.weights {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Integer>>, _>(w)?;
        }
        for t in &self.times {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Timestamp>>, _>(t)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.event_counts)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.head_hashes)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamp>, _>(&self.updated_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.versions)?;
        out.push_sql(
            ") AS v (id, state, flags, sw, cw, rw, sa, ca, ra, da, ec, hh, ua, ver) \
             WHERE containers.id = v.id AND containers.version = v.ver",
        );
        Ok(())
    }
}

impl diesel::RunQueryDsl<diesel::PgConnection> for PgSave<'_> {}

/// PostgreSQL: events as one array per column, inserted from `unnest`. The text is the same
/// for every batch size, so diesel keeps it prepared (it parses and plans its many-row
/// `VALUES` insert anew for each batch, and would cache one statement per batch size).
struct PgEvents<'a> {
    text: [Vec<&'a str>; 7],
    seqs: Vec<i32>,
    times: [Vec<NaiveDateTime>; 2],
    weights: Vec<Option<i32>>,
    places: [Vec<Option<f64>>; 2],
    optional: [Vec<Option<&'a str>>; 6],
}

impl<'a> PgEvents<'a> {
    /// The columns, in the order of `PgEvents::COLUMNS` within each type.
    fn of(events: &'a [EventRow]) -> PgEvents<'a> {
        let text = |f: fn(&EventRow) -> &str| events.iter().map(f).collect();
        let opt = |f: fn(&EventRow) -> Option<&str>| events.iter().map(f).collect();
        PgEvents {
            text: [
                text(|e| &e.id),
                text(|e| &e.container_id),
                text(|e| &e.action),
                text(|e| &e.actor_id),
                text(|e| &e.actor_role),
                text(|e| &e.prev_hash),
                text(|e| &e.hash),
            ],
            seqs: events.iter().map(|e| e.seq).collect(),
            times: [
                events.iter().map(|e| e.occurred_at).collect(),
                events.iter().map(|e| e.received_at).collect(),
            ],
            weights: events.iter().map(|e| e.weight_g).collect(),
            places: [
                events.iter().map(|e| e.lat).collect(),
                events.iter().map(|e| e.lng).collect(),
            ],
            optional: [
                opt(|e| e.run_id.as_deref()),
                opt(|e| e.reason.as_deref()),
                opt(|e| e.method.as_deref()),
                opt(|e| e.device_id.as_deref()),
                opt(|e| e.via_parent.as_deref()),
                opt(|e| e.parent_code.as_deref()),
            ],
        }
    }

    /// `scan_events`' columns grouped by type, in the order the arrays are bound.
    const COLUMNS: &'static str = "id, container_id, action, actor_id, actor_role, prev_hash, \
         hash, seq, occurred_at, received_at, weight_g, lat, lng, run_id, reason, method, \
         device_id, via_parent, parent_code";
}

impl diesel::query_builder::QueryId for PgEvents<'_> {
    type QueryId = ();
    // Not static: diesel then caches the prepared statement by its SQL text, which is fixed.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for PgEvents<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Double, Integer, Nullable, Text, Timestamp};
        out.push_sql("INSERT INTO scan_events (");
        out.push_sql(Self::COLUMNS);
        out.push_sql(") SELECT * FROM unnest(");
        for (i, t) in self.text.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<Array<Text>, _>(t)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.seqs)?;
        for t in &self.times {
            out.push_sql(", ");
            out.push_bind_param::<Array<Timestamp>, _>(t)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Integer>>, _>(&self.weights)?;
        for p in &self.places {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Double>>, _>(p)?;
        }
        for o in &self.optional {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Text>>, _>(o)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

impl diesel::RunQueryDsl<diesel::PgConnection> for PgEvents<'_> {}

/// `write_unlocked_pg`'s statement: the update and the insert as data-modifying `WITH`
/// clauses (both run to completion, on one snapshot), then the check of how many containers
/// were still at their read version.
struct PgWrite<'a> {
    save: PgSave<'a>,
    events: PgEvents<'a>,
    expected: i64,
}

impl diesel::query_builder::QueryId for PgWrite<'_> {
    type QueryId = ();
    // Not static: diesel then caches the prepared statement by its SQL text, which is fixed.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for PgWrite<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH saved AS (");
        self.save.walk_ast(out.reborrow())?;
        out.push_sql(" RETURNING 1), added AS (");
        self.events.walk_ast(out.reborrow())?;
        out.push_sql(") SELECT yifei_require_rows((SELECT count(*) FROM saved), ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.expected)?;
        out.push_sql(")");
        Ok(())
    }
}

impl diesel::RunQueryDsl<diesel::PgConnection> for PgWrite<'_> {}

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

/// Nests sealed small boxes into a hub's big box (小箱进大箱); from then on the children
/// follow the box's custody. Idempotent: nesting a child into the same box again is a no-op.
pub fn nest(
    conn: &mut DbConnection,
    caller: &Caller,
    parent_code: &str,
    child_codes: &[String],
    occurred_at: DateTime<Utc>,
    now: DateTime<Utc>,
    tz: FixedOffset,
) -> Result<Container, ApiError> {
    caller.require(&[Role::HubKeeper])?;
    if child_codes.is_empty() || child_codes.len() > super::MAX_BATCH {
        return Err(ApiError::invalid("codes", "give 1 to 500 codes"));
    }
    let hub = caller.tenant_id()?.to_owned();
    let now_n = super::micros(now);
    let occurred = super::micros(occurred_at);
    crate::db::write_tx(conn, |conn| {
        let (parent, parent_inst) = get_visible(conn, caller, parent_code)?;
        if parent.institution_id != hub {
            return Err(ApiError::Forbidden(
                "only the hub's own boxes take other boxes in".into(),
            ));
        }
        let parent_state: ContainerState = parent_enum(&parent.state)?;
        if !matches!(
            parent_state,
            ContainerState::Labelled | ContainerState::Sealed | ContainerState::AtHub
        ) {
            return Err(ApiError::Conflict(format!(
                "the box {} has already left the hub",
                parent.code
            )));
        }
        if parent.parent_id.is_some() {
            return Err(ApiError::Conflict(
                "a nested box cannot take boxes in".into(),
            ));
        }
        let mut errors = Vec::new();
        let mut children = Vec::new();
        for (i, raw) in child_codes.iter().enumerate() {
            let field = format!("codes[{i}]");
            let Ok((child, inst)) = get_visible(conn, caller, raw) else {
                errors.push(yifei_contract::FieldError {
                    field,
                    message: "unknown code".into(),
                });
                continue;
            };
            let state: ContainerState = parent_enum(&child.state)?;
            if child.id == parent.id {
                errors.push(yifei_contract::FieldError {
                    field,
                    message: "a box cannot hold itself".into(),
                });
            } else if child.parent_id.as_deref().is_some_and(|p| p != parent.id) {
                errors.push(yifei_contract::FieldError {
                    field,
                    message: "already in another box".into(),
                });
            } else if child.holds > 0 {
                // One level of nesting: a big box's custody reaches the boxes inside it, not
                // boxes inside those.
                errors.push(yifei_contract::FieldError {
                    field,
                    message: "holds other boxes; a big box cannot go into another".into(),
                });
            } else if !matches!(state, ContainerState::Sealed | ContainerState::AtHub) {
                errors.push(yifei_contract::FieldError {
                    field,
                    message: format!("must be sealed, is {}", child.state),
                });
            } else {
                children.push((child, inst));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        children.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        for (child, inst) in children {
            if child.parent_id.as_deref() == Some(parent.id.as_str()) {
                continue;
            }
            let mut row = lock(conn, &child.id, now_n)?;
            let event_id = uuid::Uuid::new_v5(
                &NEST_NAMESPACE,
                format!("nest:{}:{}", parent.id, child.id).as_bytes(),
            )
            .to_string();
            append(
                conn,
                &mut row,
                EventRow {
                    id: event_id,
                    container_id: String::new(),
                    seq: 0,
                    action: enum_str(&ScanAction::Nest),
                    occurred_at: occurred,
                    received_at: now_n,
                    actor_id: caller.user_id.clone(),
                    actor_role: caller.role.as_str().into(),
                    weight_g: None,
                    lat: None,
                    lng: None,
                    run_id: None,
                    reason: None,
                    method: None,
                    device_id: None,
                    via_parent: None,
                    parent_code: Some(parent.code.clone()),
                    prev_hash: String::new(),
                    hash: String::new(),
                },
            )?;
            diesel::update(containers::table.find(&row.id))
                .set(containers::parent_id.eq(&parent.id))
                .execute(conn)?;
            row.parent_id = Some(parent.id.clone());
            let p = places(conn, &inst)?;
            refold(conn, &mut row, p, now_n)?;
        }
        let holds = containers::table
            .filter(containers::parent_id.eq(&parent.id))
            .count()
            .get_result::<i64>(conn)?;
        diesel::update(containers::table.find(&parent.id))
            .set(containers::holds.eq(i32::try_from(holds).unwrap_or(i32::MAX)))
            .execute(conn)?;
        let mut parent_row = lock(conn, &parent.id, now_n)?;
        let p = places(conn, &parent_inst)?;
        refold(conn, &mut parent_row, p, now_n)?;
        detail(conn, caller, &parent.code, tz)
    })
}

fn parent_enum(s: &str) -> Result<ContainerState, ApiError> {
    parse_enum(s)
}

/// Namespace of ids derived by the server (nest events, events inherited from a big box), so
/// that retries derive the same ids and change nothing.
pub const NEST_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5d1f_6c1e_2b7a_4f0e_9a51_7e1c_0de5_1f00);
