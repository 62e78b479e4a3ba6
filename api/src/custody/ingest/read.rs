//! What a batch is worked out from, read in as few statements as the batch allows: its
//! containers with their institutions' sites, the event ids already stored, the runs its
//! collect scans name, the boxes inside its big boxes.

use std::collections::HashMap;

use diesel::prelude::*;
use yifei_contract::{ScanAction, ScanEvent};

use super::draft::Lock;
use crate::custody::fold::Places;
use crate::custody::store::ContainerRow;
use crate::db::DbConnection;
use crate::db::batch::{JsonBatch, PgArrays};
use crate::db::schema::{containers, institutions, runs, scan_events};
use crate::error::ApiError;

/// What ingest needs of a container's institution: who may scan its containers and where
/// they may be collected. Read once per institution, not once per container: a batch holds
/// up to 500 containers of a few institutions.
#[derive(Debug, Clone)]
pub(super) struct Site {
    pub(super) id: String,
    pub(super) hub_id: Option<String>,
    pub(super) places: Places,
}

/// An institution and where it and its hub are, read in one query.
#[derive(Queryable, QueryableByName)]
pub(super) struct SiteRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(embed)]
    site: SiteOf,
}

/// Pairs containers with their institutions' sites: one query for the distinct institutions
/// and their hubs, whatever the number of institutions in the batch.
pub(super) fn with_sites(
    conn: &mut DbConnection,
    rows: Vec<ContainerRow>,
) -> Result<Vec<(ContainerRow, Site)>, ApiError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<&str> = rows.iter().map(|c| c.institution_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let found: Vec<SiteRow> = by_keys(
        conn,
        "SELECT i.id, i.hub_id AS site_hub_id, i.lat AS site_lat, i.lng AS site_lng, \
         h.lat AS hub_lat, h.lng AS hub_lng FROM institutions i LEFT JOIN institutions h ON h.id = i.hub_id \
         WHERE i.id IN (SELECT value FROM json_each(?))",
        &ids,
        |pg| {
            let hubs = diesel::alias!(institutions as hubs);
            institutions::table
                .left_join(
                    hubs.on(institutions::hub_id.eq(hubs.field(institutions::id).nullable())),
                )
                .filter(institutions::id.eq_any(&ids))
                .select((
                    institutions::id,
                    (
                        institutions::hub_id,
                        institutions::lat,
                        institutions::lng,
                        hubs.field(institutions::lat).nullable(),
                        hubs.field(institutions::lng).nullable(),
                    ),
                ))
                .load(pg)
        },
    )?;
    let sites: HashMap<String, Site> = found
        .into_iter()
        .map(|SiteRow { id, site }| (id.clone(), site.into_site(id)))
        .collect();
    rows.into_iter()
        .map(|c| {
            let site = sites.get(&c.institution_id).cloned().ok_or_else(|| {
                ApiError::Internal(format!("container {} has no institution", c.id))
            })?;
            Ok((c, site))
        })
        .collect()
}

/// Where an institution and its hub are: columns named apart from a container's own, for
/// the reads that join them to containers.
#[derive(Queryable, QueryableByName)]
pub(super) struct SiteOf {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    site_hub_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Double)]
    site_lat: f64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    site_lng: f64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
    hub_lat: Option<f64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
    hub_lng: Option<f64>,
}

impl SiteOf {
    fn into_site(self, id: String) -> Site {
        Site {
            id,
            hub_id: self.site_hub_id,
            places: Places {
                institution: (self.site_lat, self.site_lng),
                hub: self.hub_lat.zip(self.hub_lng),
            },
        }
    }
}

/// The containers a batch names, with their sites, and its event ids already stored (with the
/// container each is stored under).
pub(super) type BatchRead = (Vec<(ContainerRow, Site)>, HashMap<String, String>);

/// One event of a batch with its container, where the container's institution and hub are,
/// and which container the event id is already stored under, if any.
#[derive(QueryableByName)]
pub(super) struct BatchRow {
    #[diesel(embed)]
    container: ContainerRow,
    #[diesel(embed)]
    site: SiteOf,
    #[diesel(sql_type = diesel::sql_types::Text)]
    batch_event: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    stored_under: Option<String>,
}

/// What a batch is worked out from, read in one statement: its containers with their sites,
/// and the event ids already stored (for duplicates), where the locked path takes three. One
/// row per event that names a container (an event whose code matches none is rejected
/// whatever its id). Unordered and unlocked: the write checks the containers' versions.
pub(super) fn read_batch(
    conn: &mut DbConnection,
    codes_of: &[Option<String>],
    ids: &[String],
) -> Result<BatchRead, ApiError> {
    let pairs: Vec<(&str, &str)> = codes_of
        .iter()
        .zip(ids)
        .filter_map(|(c, id)| c.as_deref().map(|c| (c, id.as_str())))
        .collect();
    if pairs.is_empty() {
        return Ok((Vec::new(), HashMap::new()));
    }
    // The columns of a `BatchRow` but its last two, for both statements.
    macro_rules! sited {
        () => {
            "SELECT c.*, i.hub_id AS site_hub_id, i.lat AS site_lat, i.lng AS site_lng, \
             h.lat AS hub_lat, h.lng AS hub_lng, "
        };
    }
    let rows: Vec<BatchRow> = match conn {
        DbConnection::Sqlite(lite) => JsonBatch::new(
            concat!(
                sited!(),
                "b.value ->> 1 AS batch_event, e.container_id AS stored_under \
                 FROM json_each(?) b JOIN containers c ON c.code = b.value ->> 0 \
                 JOIN institutions i ON i.id = c.institution_id \
                 LEFT JOIN institutions h ON h.id = i.hub_id \
                 LEFT JOIN scan_events e ON e.id = b.value ->> 1"
            ),
            serde_json::to_string(&pairs).unwrap_or_default(),
        )
        .load(lite)?,
        DbConnection::Postgresql(pg) => {
            let (codes, evs): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
            PgArrays::new(
                concat!(
                    sited!(),
                    "b.event_id AS batch_event, e.container_id AS stored_under \
                     FROM unnest(?, ?) AS b (code, event_id) \
                     JOIN containers c ON c.code = b.code \
                     JOIN institutions i ON i.id = c.institution_id \
                     LEFT JOIN institutions h ON h.id = i.hub_id \
                     LEFT JOIN scan_events e ON e.id = b.event_id"
                ),
                codes,
                evs,
            )
            .load(pg)?
        }
    };
    let mut stored = HashMap::new();
    let mut found: Vec<(ContainerRow, Site)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for BatchRow {
        container,
        site,
        batch_event,
        stored_under,
    } in rows
    {
        if let Some(under) = stored_under {
            stored.insert(batch_event, under);
        }
        if seen.insert(container.id.clone()) {
            let site = site.into_site(container.institution_id.clone());
            found.push((container, site));
        }
    }
    Ok((found, stored))
}

/// The batch's event ids already stored, and their containers.
pub(super) fn stored_ids(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<HashMap<String, String>, ApiError> {
    Ok(by_keys(
        conn,
        "SELECT id, container_id FROM scan_events WHERE id IN (SELECT value FROM json_each(?))",
        ids,
        |pg| {
            scan_events::table
                .filter(scan_events::id.eq_any(ids))
                .select(StoredId::as_select())
                .load(pg)
        },
    )?
    .into_iter()
    .map(|s: StoredId| (s.id, s.container_id))
    .collect())
}

/// The run a collect scan names, if it names one (as stored: trimmed, blank is none).
pub(super) fn run_named(e: &ScanEvent) -> Option<&str> {
    matches!(e.action, ScanAction::Collect | ScanAction::Refuse)
        .then_some(e.run_id.as_deref())
        .flatten()
        .map(str::trim)
        .filter(|r| !r.is_empty())
}

/// The runs the batch's collect scans name (one query for the batch, none for a batch that
/// names no run): whose they are decides whether a scan may complete their stops.
pub(super) fn runs_of(
    conn: &mut DbConnection,
    events: &[ScanEvent],
    codes_of: &[Option<String>],
) -> Result<HashMap<String, crate::runs::RunOwner>, ApiError> {
    let mut ids: Vec<&str> = events
        .iter()
        .zip(codes_of)
        .filter(|(_, code)| code.is_some())
        .filter_map(|(e, _)| run_named(e))
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    ids.sort_unstable();
    ids.dedup();
    let found: Vec<crate::runs::RunOwner> = by_keys(
        conn,
        "SELECT id, org_id, driver_id FROM runs WHERE id IN (SELECT value FROM json_each(?))",
        &ids,
        |pg| {
            runs::table
                .filter(runs::id.eq_any(&ids))
                .select(crate::runs::RunOwner::as_select())
                .load(pg)
        },
    )?;
    Ok(found.into_iter().map(|r| (r.id.clone(), r)).collect())
}

/// Rows selected by a batch's keys: on SQLite by `sqlite` (one `?`, bound to the keys as a
/// JSON array: a statement diesel keeps prepared), on PostgreSQL by `pg` (`= ANY`, an array).
pub(super) fn by_keys<T, K>(
    conn: &mut DbConnection,
    sqlite: &'static str,
    keys: &[K],
    pg: impl FnOnce(&mut diesel::PgConnection) -> QueryResult<Vec<T>>,
) -> Result<Vec<T>, ApiError>
where
    T: QueryableByName<diesel::sqlite::Sqlite> + 'static,
    K: AsRef<str>,
{
    Ok(match conn {
        DbConnection::Sqlite(lite) => JsonBatch::keys(sqlite, keys).load(lite)?,
        DbConnection::Postgresql(c) => pg(c)?,
    })
}

/// An event id already stored, and its container.
#[derive(Queryable, QueryableByName, Selectable)]
#[diesel(table_name = scan_events)]
pub(super) struct StoredId {
    id: String,
    container_id: String,
}

/// A box inside one of the batch's containers.
#[derive(Queryable, QueryableByName, Selectable)]
#[diesel(table_name = containers)]
pub(super) struct Child {
    pub(super) parent_id: Option<String>,
    pub(super) id: String,
    pub(super) seal_weight_g: Option<i32>,
    pub(super) version: i32,
}

/// Which containers to read.
pub(super) enum Keys<'a> {
    Codes(&'a [String]),
    Ids(&'a [String]),
}

/// Reads containers, under their locks if asked: on PostgreSQL the same statement takes their
/// row locks in id order (so that concurrent batches cannot deadlock on them); SQLite's writer
/// holds the database's write lock already.
pub(super) fn read(
    conn: &mut DbConnection,
    keys: Keys<'_>,
    lock: Lock,
) -> Result<Vec<ContainerRow>, ApiError> {
    macro_rules! read {
        ($filter:expr) => {
            |pg: &mut diesel::PgConnection| {
                let q = containers::table
                    .filter($filter)
                    .order(containers::id.asc())
                    .select(ContainerRow::as_select());
                if lock == Lock::Rows {
                    q.for_update().load(pg)
                } else {
                    q.load(pg)
                }
            }
        };
    }
    match keys {
        Keys::Codes(c) => by_keys(
            conn,
            "SELECT * FROM containers WHERE code IN (SELECT value FROM json_each(?)) ORDER BY id",
            c,
            read!(containers::code.eq_any(c)),
        ),
        Keys::Ids(i) => by_keys(
            conn,
            "SELECT * FROM containers WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            i,
            read!(containers::id.eq_any(i)),
        ),
    }
}

/// The institutions with a stop on the runs the batch's refusals name, as (run, institution)
/// pairs: a driver refuses only at a stop of the run (none read for a batch without one).
pub(super) fn refusal_stops(
    conn: &mut DbConnection,
    events: &[ScanEvent],
) -> Result<std::collections::HashSet<(String, String)>, ApiError> {
    use crate::db::schema::run_stops;
    let mut named: Vec<&str> = events
        .iter()
        .filter(|e| e.action == ScanAction::Refuse)
        .filter_map(run_named)
        .collect();
    if named.is_empty() {
        return Ok(Default::default());
    }
    named.sort_unstable();
    named.dedup();
    Ok(run_stops::table
        .filter(run_stops::run_id.eq_any(&named))
        .select((run_stops::run_id, run_stops::institution_id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}
