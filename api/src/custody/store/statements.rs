//! Statements written per backend for the scan path, where diesel's own would be re-prepared
//! on every batch: the events' insert, the containers' derived state, and PostgreSQL's
//! one-statement write of a batch worked out without locks.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{ContainerRow, EventRow};
use crate::db::DbConnection;
use crate::db::schema::scan_events;
use crate::error::ApiError;

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
pub(super) fn taken_is_stale(e: diesel::result::Error) -> ApiError {
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
pub(super) fn write_unlocked_pg(
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
    pub(super) fn of(c: &ContainerRow) -> SqliteDerived {
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
pub(super) struct SqliteSave<'a>(&'a SqliteDerived);

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
pub(super) fn save_derived_pg(
    conn: &mut diesel::PgConnection,
    rows: &[ContainerRow],
) -> Result<(), ApiError> {
    if rows.is_empty() {
        return Ok(());
    }
    if PgSave::of(rows).execute(conn)? != rows.len() {
        return Err(stale());
    }
    Ok(())
}

/// The columns of a batch of derived rows, one array each.
pub(super) struct PgSave<'a> {
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
    pub(super) fn of(rows: &'a [ContainerRow]) -> PgSave<'a> {
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
pub(super) struct PgEvents<'a> {
    text: [Vec<&'a str>; 7],
    seqs: Vec<i32>,
    times: [Vec<NaiveDateTime>; 2],
    weights: Vec<Option<i32>>,
    places: [Vec<Option<f64>>; 2],
    optional: [Vec<Option<&'a str>>; 10],
    disposed_at: Vec<Option<NaiveDateTime>>,
}

impl<'a> PgEvents<'a> {
    /// The columns, in the order of `PgEvents::COLUMNS` within each type.
    pub(super) fn of(events: &'a [EventRow]) -> PgEvents<'a> {
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
                opt(|e| e.weight_source.as_deref()),
                opt(|e| e.batch.as_deref()),
                opt(|e| e.corrects.as_deref()),
                opt(|e| e.new_value.as_deref()),
            ],
            disposed_at: events.iter().map(|e| e.disposed_at).collect(),
        }
    }

    /// `scan_events`' columns grouped by type, in the order the arrays are bound.
    const COLUMNS: &'static str = "id, container_id, action, actor_id, actor_role, prev_hash, \
         hash, seq, occurred_at, received_at, weight_g, lat, lng, run_id, reason, method, \
         device_id, via_parent, parent_code, weight_source, batch, corrects, new_value, disposed_at";
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
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Timestamp>>, _>(&self.disposed_at)?;
        out.push_sql(")");
        Ok(())
    }
}

impl diesel::RunQueryDsl<diesel::PgConnection> for PgEvents<'_> {}

/// `write_unlocked_pg`'s statement: the update and the insert as data-modifying `WITH`
/// clauses (both run to completion, on one snapshot), then the check of how many containers
/// were still at their read version.
pub(super) struct PgWrite<'a> {
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
