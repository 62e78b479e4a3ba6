//! The container and scan-event rows, and what is worked out on them in memory: an event's
//! place in its container's hash chain, the container's derived state.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use yifei_contract::{Actor, ContainerState, CustodyEvent, LatLng};

use crate::custody::chain::{self, Chained};
use crate::custody::fold::{self, Derived, FoldEvent, Places};
use crate::custody::kg;
use crate::db::new_id;
use crate::db::schema::{containers, scan_events};
use crate::error::ApiError;
use crate::wire::{enum_str, parse_enum};

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
    /// `weighed` or `estimated`; NULL (weighed) on events recorded before the distinction.
    pub weight_source: Option<String>,
    /// The plant's batch or furnace (dispose).
    pub batch: Option<String>,
    /// The plant's disposal time (dispose), when it differs from the scan's.
    pub disposed_at: Option<NaiveDateTime>,
    /// For a `correct` event: the id of the scan whose weight it corrects.
    pub corrects: Option<String>,
    /// For a `correct` event of a category: the new category.
    pub new_value: Option<String>,
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
            weight_source: self.weight_source.as_deref(),
            batch: self.batch.as_deref(),
            disposed_at: self.disposed_at,
            corrects: self.corrects.as_deref(),
            new_value: self.new_value.as_deref(),
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
            estimated: crate::custody::weighing::is_estimated(self.weight_source.as_deref()),
            disposed_at: self.disposed_at,
            corrects: self.corrects.clone(),
        })
    }

    pub(super) fn to_wire(&self, anomaly: Option<&String>) -> Result<CustodyEvent, ApiError> {
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
            weight_source: crate::custody::weighing::shown(
                self.weight_g.is_some(),
                crate::custody::weighing::is_estimated(self.weight_source.as_deref()),
            ),
            location: self.lat.zip(self.lng).map(|(lat, lng)| LatLng { lat, lng }),
            run_id: self.run_id.clone(),
            reason: self.reason.clone(),
            method: self.method.clone(),
            device_id: self.device_id.clone(),
            via_parent: self.via_parent.clone(),
            parent_code: self.parent_code.clone(),
            batch: self.batch.clone(),
            disposed_at: self.disposed_at.map(|t| t.and_utc()),
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
