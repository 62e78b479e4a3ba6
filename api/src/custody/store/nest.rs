//! Nesting small boxes into a hub's big box (小箱进大箱).

use chrono::{DateTime, FixedOffset, Utc};
use diesel::prelude::*;
use yifei_contract::{Container, ContainerState, Role, ScanAction};

use super::{EventRow, append, detail, get_visible, lock, places, refold};
use crate::auth::Caller;
use crate::db::DbConnection;
use crate::db::schema::containers;
use crate::error::ApiError;
use crate::wire::{enum_str, parse_enum};

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
    if child_codes.is_empty() || child_codes.len() > crate::custody::MAX_BATCH {
        return Err(ApiError::invalid("codes", "give 1 to 500 codes"));
    }
    let hub = caller.tenant_id()?.to_owned();
    let now_n = crate::custody::micros(now);
    let occurred = crate::custody::micros(occurred_at);
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
                    weight_source: None,
                    batch: None,
                    disposed_at: None,
                    corrects: None,
                    new_value: None,
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

pub(super) fn parent_enum(s: &str) -> Result<ContainerState, ApiError> {
    parse_enum(s)
}

/// Namespace of ids derived by the server (nest events, events inherited from a big box), so
/// that retries derive the same ids and change nothing.
pub const NEST_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5d1f_6c1e_2b7a_4f0e_9a51_7e1c_0de5_1f00);
