//! Transfer manifests (联单): one per institution per run, opened by the first collect scan
//! there. Lines, weights, hand-overs and discrepancies are read from the custody log, so a
//! manifest always agrees with the scans.

pub mod paper;
pub mod records;
pub mod signatures;

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use yifei_contract::{Handover, Manifest, ManifestLine, Party, Role};

use crate::auth::Caller;
use crate::custody::store::{ContainerRow, EventRow};
use crate::custody::{kg, rules};
use crate::db::DbConnection;
use crate::db::schema::{
    containers, institutions, manifests, organisations, run_stops, runs, scan_events, vehicles,
};
use crate::error::ApiError;
use crate::institutions::store::{InstitutionRow, scope_of};
use crate::runs::store::RunRow;
use crate::wire::parse_enum;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = manifests)]
pub(crate) struct ManifestRow {
    pub(crate) id: String,
    number: String,
    pub(crate) run_id: String,
    pub(crate) institution_id: String,
    created_at: NaiveDateTime,
}

/// The state of a line the driver refused at the door (the container stayed behind).
pub const REFUSED: &str = "refused";

/// Status from the lines' states: `closed` when every container is disposed of or refused,
/// `received` when every one reached the plant, `in_transit` once the vehicle has moved on
/// (a later stop done, the run finished, or something already received), else `open`.
pub fn status(states: &[&str], moved_on: bool) -> &'static str {
    let all = |set: &[&str]| !states.is_empty() && states.iter().all(|s| set.contains(s));
    if all(&["disposed", "rejected", REFUSED]) {
        "closed"
    } else if all(&["received", "disposed", "rejected", REFUSED]) {
        "received"
    } else if moved_on
        || states
            .iter()
            .any(|s| ["received", "disposed", "rejected"].contains(s))
    {
        "in_transit"
    } else {
        "open"
    }
}

fn build(conn: &mut DbConnection, m: &ManifestRow) -> Result<Manifest, ApiError> {
    let run: RunRow = runs::table
        .find(&m.run_id)
        .select(RunRow::as_select())
        .first(conn)?;
    let inst: InstitutionRow = institutions::table
        .find(&m.institution_id)
        .select(InstitutionRow::as_select())
        .first(conn)?;
    let (org_name, org_lat, org_lng): (String, Option<f64>, Option<f64>) = organisations::table
        .find(&run.org_id)
        .select((organisations::name, organisations::lat, organisations::lng))
        .first(conn)?;
    let plate: String = vehicles::table
        .find(&run.vehicle_id)
        .select(vehicles::plate)
        .first(conn)?;
    // Containers of this institution collected on this run.
    let collects: Vec<(EventRow, ContainerRow)> = scan_events::table
        .inner_join(containers::table)
        .filter(scan_events::run_id.eq(&m.run_id))
        .filter(scan_events::action.eq("collect"))
        .filter(containers::institution_id.eq(&m.institution_id))
        .select((EventRow::as_select(), ContainerRow::as_select()))
        .load(conn)?;
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    let mut states = Vec::new();
    let mut collected = Handover {
        at: None,
        signer: None,
    };
    let ids: Vec<String> = collects.iter().map(|(_, c)| c.id.clone()).collect();
    let mut heads = Vec::new();
    // The container id of each line, in the order the lines are pushed.
    let mut ids_in_order: Vec<String> = Vec::new();
    for (e, c) in &collects {
        if collected.at.is_none_or(|t| e.occurred_at.and_utc() < t) {
            collected = Handover {
                at: Some(e.occurred_at.and_utc()),
                signer: Some(e.actor_id.clone()),
            };
        }
        if !seen.insert(c.id.clone()) {
            continue;
        }
        heads.push((c.code.clone(), c.head_hash.clone()));
        ids_in_order.push(c.id.clone());
        let category = parse_enum(&c.category)?;
        let (hw, zh, _) = rules::category_info(category);
        lines.push(ManifestLine {
            code: c.code.clone(),
            category: zh.to_owned(),
            hw_code: format!("HW01 {hw}"),
            packaging: rules::packaging_name(parse_enum(&c.packaging)?).to_owned(),
            seal_kg: c.seal_weight_g.map(kg),
            collect_kg: c.collect_weight_g.map(kg),
            receive_kg: c.receive_weight_g.map(kg),
            state: c.state.clone(),
            weight_sources: Default::default(),
            refusal: None,
            disposal: None,
            corrected: Vec::new(),
        });
        states.push(c.state.clone());
    }
    // Containers the driver refused at the door on this run (and did not take after all).
    for (refusal, c) in records::refused(conn, &m.run_id, &m.institution_id)? {
        if !seen.insert(c.id.clone()) {
            continue;
        }
        heads.push((c.code.clone(), c.head_hash.clone()));
        ids_in_order.push(c.id.clone());
        let category = parse_enum(&c.category)?;
        let (hw, zh, _) = rules::category_info(category);
        lines.push(ManifestLine {
            code: c.code.clone(),
            category: zh.to_owned(),
            hw_code: format!("HW01 {hw}"),
            packaging: rules::packaging_name(parse_enum(&c.packaging)?).to_owned(),
            seal_kg: c.seal_weight_g.map(kg),
            collect_kg: None,
            receive_kg: None,
            state: REFUSED.to_owned(),
            weight_sources: Default::default(),
            refusal: Some(refusal),
            disposal: None,
            corrected: Vec::new(),
        });
        states.push(REFUSED.to_owned());
    }
    let extras = records::extras(conn, &ids_in_order)?;
    for (l, id) in lines.iter_mut().zip(&ids_in_order) {
        if let Some((sources, disposal, corrected)) = extras.get(id) {
            l.weight_sources = sources.clone();
            l.corrected = corrected.clone();
            if l.refusal.is_none() {
                l.disposal = disposal.clone();
            } else {
                // Left behind: only the clinic's own weight belongs on this line.
                l.weight_sources.collect = None;
                l.weight_sources.receive = None;
            }
        }
    }
    lines.sort_by(|a, b| a.code.cmp(&b.code));
    let receipts: Vec<EventRow> = scan_events::table
        .filter(scan_events::container_id.eq_any(&ids))
        .filter(scan_events::action.eq("receive"))
        .select(EventRow::as_select())
        .load(conn)?;
    let received = receipts
        .iter()
        .max_by_key(|e| e.occurred_at)
        .map(|e| Handover {
            at: Some(e.occurred_at.and_utc()),
            signer: Some(e.actor_id.clone()),
        })
        .unwrap_or(Handover {
            at: None,
            signer: None,
        });
    let my_seq: Option<i32> = run_stops::table
        .filter(run_stops::run_id.eq(&m.run_id))
        .filter(
            run_stops::institution_id
                .eq_any([inst.id.clone(), inst.hub_id.clone().unwrap_or_default()]),
        )
        .select(run_stops::seq)
        .first(conn)
        .optional()?;
    let later_done = match my_seq {
        Some(seq) => {
            run_stops::table
                .filter(run_stops::run_id.eq(&m.run_id))
                .filter(run_stops::seq.gt(seq))
                .filter(run_stops::status.eq("completed"))
                .count()
                .get_result::<i64>(conn)?
                > 0
        }
        None => false,
    };
    let state_refs: Vec<&str> = states.iter().map(String::as_str).collect();
    let count_collected =
        i32::try_from(lines.iter().filter(|l| l.state != REFUSED).count()).unwrap_or(i32::MAX);
    let count_received =
        i32::try_from(lines.iter().filter(|l| l.receive_kg.is_some()).count()).unwrap_or(i32::MAX);
    let w_collected: f64 = lines.iter().filter_map(|l| l.collect_kg).sum();
    let w_received: f64 = lines.iter().filter_map(|l| l.receive_kg).sum();
    Ok(Manifest {
        number: m.number.clone(),
        run_id: m.run_id.clone(),
        status: status(&state_refs, later_done || run.status == "done").to_owned(),
        shipper: Party {
            id: inst.id.clone(),
            name: inst.name.clone(),
            address: Some(inst.address.clone()),
            licence_no: Some(inst.licence_no.clone()),
        },
        carrier: Party {
            id: run.org_id.clone(),
            name: org_name.clone(),
            address: None,
            licence_no: None,
        },
        driver_id: run.driver_id.clone(),
        plate,
        receiver: Party {
            id: run.org_id.clone(),
            name: format!("{org_name} (处置厂 plant)"),
            address: org_lat.zip(org_lng).map(|(a, b)| format!("{a:.5}, {b:.5}")),
            licence_no: None,
        },
        lines,
        collected,
        received,
        count_collected,
        count_received,
        weight_collected_kg: (w_collected * 1000.0).round() / 1000.0,
        weight_received_kg: (w_received * 1000.0).round() / 1000.0,
        count_discrepancy: count_collected - count_received,
        weight_discrepancy_kg: ((w_received - w_collected) * 1000.0).round() / 1000.0,
        created_at: m.created_at.and_utc(),
        custody_digest: digest(&heads),
        shipper_confirmation: signatures::confirmation_of(conn, &m.id, &inst.id)?,
        signatures: signatures::of_manifest(conn, &m.id)?,
    })
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 (hex) of `code:head` lines in code order (see `Manifest::custody_digest`).
pub fn digest(heads: &[(String, String)]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&(String, String)> = heads.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    for (code, head) in sorted {
        h.update(code.as_bytes());
        h.update(b":");
        h.update(head.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the caller may read a manifest: the shipper's staff, the company, bureau staff of
/// the shipper's jurisdiction, admin.
fn may_read(conn: &mut DbConnection, caller: &Caller, m: &ManifestRow) -> Result<bool, ApiError> {
    Ok(match caller.role {
        Role::Admin => true,
        Role::ClinicStaff | Role::HubKeeper => {
            caller.tenant.as_deref() == Some(m.institution_id.as_str())
        }
        Role::Dispatcher | Role::PlantOperator | Role::Driver => {
            let org: String = runs::table
                .find(&m.run_id)
                .select(runs::org_id)
                .first(conn)?;
            caller.tenant.as_deref() == Some(org.as_str())
        }
        Role::BureauStaff => {
            let inst: InstitutionRow = institutions::table
                .find(&m.institution_id)
                .select(InstitutionRow::as_select())
                .first(conn)?;
            let scope = scope_of(conn, caller)?;
            scope.admits(
                &inst.id,
                &inst.township,
                inst.status()?,
                inst.hub_id.as_deref(),
            )
        }
    })
}

/// A manifest by number (404 when not the caller's to read).
pub fn get(conn: &mut DbConnection, caller: &Caller, number: &str) -> Result<Manifest, ApiError> {
    let m = get_row(conn, caller, number)?;
    build(conn, &m)
}

/// A manifest's row by number (404 when not the caller's to read).
pub(crate) fn get_row(
    conn: &mut DbConnection,
    caller: &Caller,
    number: &str,
) -> Result<ManifestRow, ApiError> {
    let m: Option<ManifestRow> = manifests::table
        .filter(manifests::number.eq(number.trim().to_uppercase()))
        .select(ManifestRow::as_select())
        .first(conn)
        .optional()?;
    match m {
        Some(m) if may_read(conn, caller, &m)? => Ok(m),
        _ => Err(ApiError::NotFound(format!("no manifest {number}"))),
    }
}

/// The manifests of a run: all of them for the company (the run must be visible), the
/// caller's own for an institution, those of the jurisdiction for bureau staff.
pub fn of_run(
    conn: &mut DbConnection,
    caller: &Caller,
    run_id: &str,
) -> Result<Vec<Manifest>, ApiError> {
    if matches!(
        caller.role,
        Role::Dispatcher | Role::PlantOperator | Role::Driver | Role::Admin
    ) {
        crate::runs::store::visible(conn, caller, run_id)?;
    }
    let rows: Vec<ManifestRow> = manifests::table
        .filter(manifests::run_id.eq(run_id))
        .order(manifests::number.asc())
        .select(ManifestRow::as_select())
        .load(conn)?;
    let mut out = Vec::new();
    for m in &rows {
        if may_read(conn, caller, m)? {
            out.push(build(conn, m)?);
        }
    }
    Ok(out)
}

fn source(s: Option<yifei_contract::WeightSource>) -> String {
    s.map(|s| crate::wire::enum_str(&s)).unwrap_or_default()
}

/// CSV of manifests: one row per container line, the header fields repeated (through the
/// one CSV writer, so no name can smuggle a formula into a spreadsheet).
pub fn csv(list: &[Manifest]) -> String {
    use crate::wire::{Cell, CsvWriter};
    let mut w = CsvWriter::new(&[
        "number",
        "status",
        "run_id",
        "shipper",
        "carrier",
        "plate",
        "receiver",
        "code",
        "category",
        "hw_code",
        "packaging",
        "seal_kg",
        "collect_kg",
        "receive_kg",
        "state",
        "collected_at",
        "received_at",
        "collect_weight_source",
        "receive_weight_source",
        "refusal_reason",
        "disposal_batch",
        "disposed_at",
        "corrected",
    ]);
    for m in list {
        let collected = m.collected.at.map(|t| t.to_rfc3339()).unwrap_or_default();
        let received = m.received.at.map(|t| t.to_rfc3339()).unwrap_or_default();
        for l in &m.lines {
            w.row(&[
                Cell::Text(&m.number),
                Cell::Text(&m.status),
                Cell::Text(&m.run_id),
                Cell::Text(&m.shipper.name),
                Cell::Text(&m.carrier.name),
                Cell::Text(&m.plate),
                Cell::Text(&m.receiver.name),
                Cell::Text(&l.code),
                Cell::Text(&l.category),
                Cell::Text(&l.hw_code),
                Cell::Text(&l.packaging),
                Cell::num(l.seal_kg, 3),
                Cell::num(l.collect_kg, 3),
                Cell::num(l.receive_kg, 3),
                Cell::Text(&l.state),
                Cell::Text(&collected),
                Cell::Text(&received),
                Cell::Text(&source(l.weight_sources.collect)),
                Cell::Text(&source(l.weight_sources.receive)),
                Cell::Text(l.refusal.as_ref().map_or("", |r| r.reason_zh.as_str())),
                Cell::Text(
                    l.disposal
                        .as_ref()
                        .and_then(|d| d.batch.as_deref())
                        .unwrap_or(""),
                ),
                Cell::Text(
                    &l.disposal
                        .as_ref()
                        .map(|d| d.at.to_rfc3339())
                        .unwrap_or_default(),
                ),
                Cell::Text(&l.corrected.join(" ")),
            ]);
        }
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_containers() {
        assert_eq!(status(&[], false), "open");
        assert_eq!(status(&["collected", "collected"], false), "open");
        assert_eq!(status(&["collected"], true), "in_transit");
        assert_eq!(status(&["collected", "received"], false), "in_transit");
        assert_eq!(status(&["received", "disposed"], false), "received");
        assert_eq!(status(&["disposed", "rejected"], false), "closed");
        assert_eq!(status(&["disposed", REFUSED], false), "closed");
        assert_eq!(
            status(&[REFUSED], false),
            "closed",
            "nothing was handed over"
        );
        assert_eq!(status(&["received", REFUSED], false), "received");
        assert_eq!(status(&["collected", REFUSED], false), "open");
    }

    #[test]
    fn csv_escapes() {
        let m = Manifest {
            number: "YF1".into(),
            run_id: "r".into(),
            status: "open".into(),
            shipper: Party {
                id: "i".into(),
                name: "A, \"B\"".into(),
                address: None,
                licence_no: None,
            },
            carrier: Party {
                id: "c".into(),
                name: "C".into(),
                address: None,
                licence_no: None,
            },
            driver_id: None,
            plate: "P".into(),
            receiver: Party {
                id: "c".into(),
                name: "R".into(),
                address: None,
                licence_no: None,
            },
            lines: vec![ManifestLine {
                code: "X".into(),
                category: "感染性废物".into(),
                hw_code: "HW01 841-001-01".into(),
                packaging: "bag".into(),
                seal_kg: Some(1.0),
                collect_kg: None,
                receive_kg: None,
                state: "collected".into(),
                weight_sources: Default::default(),
                refusal: None,
                disposal: None,
                corrected: Vec::new(),
            }],
            collected: Handover {
                at: None,
                signer: None,
            },
            received: Handover {
                at: None,
                signer: None,
            },
            count_collected: 1,
            count_received: 0,
            weight_collected_kg: 0.0,
            weight_received_kg: 0.0,
            count_discrepancy: 1,
            weight_discrepancy_kg: 0.0,
            created_at: chrono::DateTime::from_timestamp(0, 0).expect("t"),
            custody_digest: digest(&[]),
            shipper_confirmation: yifei_contract::ShipperConfirmation {
                status: "unconfirmed".into(),
                confirmations: vec![],
            },
            signatures: vec![],
        };
        let c = csv(&[m]);
        assert_eq!(c.lines().count(), 2);
        assert!(c.contains("\"A, \"\"B\"\"\""), "{c}");
        assert!(c.contains(",1.000,,,collected,"), "{c}");
    }
}
