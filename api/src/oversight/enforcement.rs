//! Enforcement (依法处罚、移交公安机关): penalty decisions and referrals recorded by the health
//! bureau with their documents. Documents are kept in the database (one store to back up and
//! secure, served through the same role checks as the records): PDF, JPEG or PNG, at most
//! [`MAX_DOCUMENT_BYTES`], the type checked against the file's first bytes as well as its
//! declared `Content-Type`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{
    EnforcementAction, EnforcementDocument, EnforcementKind, EnforcementList, NewEnforcementAction,
    Role,
};

use crate::auth::Caller;
use crate::db::schema::{enforcement_actions, enforcement_documents, organisations};
use crate::db::{DbConnection, new_id, write_tx};
use crate::error::ApiError;
use crate::institutions::Scope;
use crate::institutions::store::{get_visible, scope_of};

/// The largest document accepted (a scanned decision of a few pages).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// The document types accepted.
pub const DOCUMENT_TYPES: [&str; 3] = ["application/pdf", "image/jpeg", "image/png"];

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = enforcement_actions)]
pub struct ActionRow {
    pub id: String,
    pub kind: String,
    pub institution_id: Option<String>,
    pub org_id: Option<String>,
    pub township: Option<String>,
    pub referred_to: Option<String>,
    pub summary: String,
    pub decided_at: NaiveDateTime,
    pub recorded_by: String,
    pub created_at: NaiveDateTime,
}

type DocMeta = (String, String, String, String, i64, NaiveDateTime);

/// The declared type if it is accepted and the bytes look like it (magic numbers).
pub fn check_document(content_type: &str, bytes: &[u8]) -> Result<&'static str, ApiError> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some(&t) = DOCUMENT_TYPES.iter().find(|t| **t == ct) else {
        return Err(ApiError::UnsupportedMediaType(format!(
            "a document is {} (got {content_type:?})",
            DOCUMENT_TYPES.join(", ")
        )));
    };
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_DOCUMENT_BYTES));
    }
    let looks = match t {
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        _ => bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]),
    };
    if !looks {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the file is not a {t} (its first bytes say otherwise)"
        )));
    }
    Ok(t)
}

/// A file name kept for display: 1 to 200 characters, no path, no control characters.
pub fn check_filename(name: &str) -> Result<String, ApiError> {
    let n = name.trim();
    if n.is_empty()
        || n.chars().count() > 200
        || n.chars().any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(ApiError::invalid(
            "filename",
            "1 to 200 characters, without / \\ or control characters",
        ));
    }
    Ok(n.to_owned())
}

fn text(field: &str, v: &str, max: usize) -> Result<String, ApiError> {
    let t = v.trim();
    let n = t.chars().count();
    if n == 0 || n > max || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid(
            field,
            format!("1 to {max} characters, no control characters"),
        ));
    }
    Ok(t.to_owned())
}

/// Records a penalty decision or a referral (acting health-bureau staff; an institution of
/// their jurisdiction, or the company: county-wide staff).
pub fn record(
    conn: &mut DbConnection,
    caller: &Caller,
    n: NewEnforcementAction,
    now: DateTime<Utc>,
) -> Result<EnforcementAction, ApiError> {
    caller.require(&[Role::BureauStaff, Role::Admin])?;
    crate::roles::require_acting_bureau(conn, caller)?;
    let summary = text("summary", &n.summary, 2000)?;
    let referred_to = match (n.kind, &n.referred_to) {
        (EnforcementKind::Referral, Some(r)) => Some(text("referred_to", r, 200)?),
        (EnforcementKind::Referral, None) => {
            return Err(ApiError::invalid(
                "referred_to",
                "a referral says to whom (e.g. 县公安局)",
            ));
        }
        (EnforcementKind::Penalty, Some(_)) => {
            return Err(ApiError::invalid(
                "referred_to",
                "only a referral is referred to someone",
            ));
        }
        (EnforcementKind::Penalty, None) => None,
    };
    let decided = n.decided_at.unwrap_or(now);
    if decided > now + chrono::Duration::minutes(5) {
        return Err(ApiError::invalid("decided_at", "is in the future"));
    }
    write_tx(conn, |conn| {
        let (institution_id, org_id, township) = match (&n.institution_id, &n.org_id) {
            (Some(i), None) => {
                let inst = get_visible(conn, caller, i)?;
                (Some(inst.id), None, Some(inst.township))
            }
            (None, Some(o)) => {
                if !matches!(scope_of(conn, caller)?, Scope::All) {
                    return Err(ApiError::Forbidden(
                        "the company is the county bureau's to penalise".into(),
                    ));
                }
                let kind: Option<String> = organisations::table
                    .find(o)
                    .select(organisations::kind)
                    .first(conn)
                    .optional()?;
                if kind.as_deref() != Some("disposal_company") {
                    return Err(ApiError::NotFound(format!("no disposal company {o}")));
                }
                (None, Some(o.clone()), None)
            }
            _ => {
                return Err(ApiError::invalid(
                    "institution_id",
                    "give either institution_id or org_id",
                ));
            }
        };
        let row = ActionRow {
            id: new_id(),
            kind: match n.kind {
                EnforcementKind::Penalty => "penalty".into(),
                EnforcementKind::Referral => "referral".into(),
            },
            institution_id,
            org_id,
            township,
            referred_to,
            summary,
            decided_at: decided.naive_utc(),
            recorded_by: caller.user_id.clone(),
            created_at: now.naive_utc(),
        };
        diesel::insert_into(enforcement_actions::table)
            .values(&row)
            .execute(conn)?;
        Ok(wire(&row, Vec::new()))
    })
}

fn wire(a: &ActionRow, docs: Vec<EnforcementDocument>) -> EnforcementAction {
    EnforcementAction {
        id: a.id.clone(),
        kind: a.kind.clone(),
        institution_id: a.institution_id.clone(),
        org_id: a.org_id.clone(),
        township: a.township.clone(),
        referred_to: a.referred_to.clone(),
        summary: a.summary.clone(),
        decided_at: a.decided_at.and_utc(),
        recorded_by: a.recorded_by.clone(),
        documents: docs,
    }
}

/// Whether the caller may read a record (and its documents): bureau staff of its township
/// (the company's: any bureau staff), admin, the institution's own staff, the company's own.
pub fn may_read(scope: &Scope, role: Role, tenant: Option<&str>, a: &ActionRow) -> bool {
    match (role, scope) {
        (Role::Admin, _) | (Role::BureauStaff, Scope::All) => true,
        (Role::BureauStaff, Scope::Townships(t)) => {
            a.township.as_ref().is_none_or(|x| t.iter().any(|y| y == x))
        }
        (Role::ClinicStaff | Role::HubKeeper, _) => {
            tenant.is_some() && a.institution_id.as_deref() == tenant
        }
        (Role::Dispatcher | Role::PlantOperator, _) => {
            tenant.is_some() && a.org_id.as_deref() == tenant
        }
        _ => false,
    }
}

fn visible_action(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<ActionRow, ApiError> {
    let scope = scope_of(conn, caller)?;
    enforcement_actions::table
        .find(id)
        .select(ActionRow::as_select())
        .first::<ActionRow>(conn)
        .optional()?
        .filter(|a| may_read(&scope, caller.role, caller.tenant.as_deref(), a))
        .ok_or_else(|| ApiError::NotFound(format!("no enforcement record {id}")))
}

/// The records the caller may read, newest first; `institution_id` narrows to one.
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    institution_id: Option<String>,
) -> Result<EnforcementList, ApiError> {
    if caller.role == Role::Driver {
        return Err(ApiError::Forbidden(
            "drivers do not read enforcement records".into(),
        ));
    }
    let scope = scope_of(conn, caller)?;
    let mut q = enforcement_actions::table
        .select(ActionRow::as_select())
        .order((
            enforcement_actions::decided_at.desc(),
            enforcement_actions::id.desc(),
        ))
        .limit(500)
        .into_boxed();
    if let Some(i) = &institution_id {
        let inst = get_visible(conn, caller, i)?;
        q = q.filter(enforcement_actions::institution_id.eq(inst.id));
    }
    let rows: Vec<ActionRow> = q
        .load::<ActionRow>(conn)?
        .into_iter()
        .filter(|a| may_read(&scope, caller.role, caller.tenant.as_deref(), a))
        .collect();
    let ids: Vec<&str> = rows.iter().map(|a| a.id.as_str()).collect();
    let mut docs: Vec<DocMeta> = Vec::new();
    for chunk in ids.chunks(500) {
        docs.extend(
            enforcement_documents::table
                .filter(enforcement_documents::action_id.eq_any(chunk))
                .order(enforcement_documents::uploaded_at)
                .select(doc_meta())
                .load::<DocMeta>(conn)?,
        );
    }
    Ok(EnforcementList {
        items: rows
            .iter()
            .map(|a| {
                wire(
                    a,
                    docs.iter().filter(|d| d.1 == a.id).map(doc_wire).collect(),
                )
            })
            .collect(),
    })
}

#[allow(clippy::type_complexity)]
fn doc_meta() -> (
    enforcement_documents::id,
    enforcement_documents::action_id,
    enforcement_documents::filename,
    enforcement_documents::content_type,
    enforcement_documents::size_bytes,
    enforcement_documents::uploaded_at,
) {
    (
        enforcement_documents::id,
        enforcement_documents::action_id,
        enforcement_documents::filename,
        enforcement_documents::content_type,
        enforcement_documents::size_bytes,
        enforcement_documents::uploaded_at,
    )
}

fn doc_wire(d: &DocMeta) -> EnforcementDocument {
    EnforcementDocument {
        id: d.0.clone(),
        filename: d.2.clone(),
        content_type: d.3.clone(),
        size_bytes: d.4,
        uploaded_at: d.5.and_utc(),
    }
}

/// Attaches a document to a record (acting bureau staff who may read the record).
pub fn add_document(
    conn: &mut DbConnection,
    caller: &Caller,
    action_id: &str,
    filename: &str,
    content_type: &str,
    bytes: Vec<u8>,
    now: DateTime<Utc>,
) -> Result<EnforcementDocument, ApiError> {
    caller.require(&[Role::BureauStaff, Role::Admin])?;
    crate::roles::require_acting_bureau(conn, caller)?;
    let filename = check_filename(filename)?;
    let ct = check_document(content_type, &bytes)?;
    write_tx(conn, |conn| {
        let a = visible_action(conn, caller, action_id)?;
        let id = new_id();
        let size = bytes.len() as i64;
        diesel::insert_into(enforcement_documents::table)
            .values((
                enforcement_documents::id.eq(&id),
                enforcement_documents::action_id.eq(&a.id),
                enforcement_documents::filename.eq(&filename),
                enforcement_documents::content_type.eq(ct),
                enforcement_documents::size_bytes.eq(size),
                enforcement_documents::data.eq(&bytes),
                enforcement_documents::uploaded_by.eq(&caller.user_id),
                enforcement_documents::uploaded_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        Ok(EnforcementDocument {
            id,
            filename: filename.clone(),
            content_type: ct.into(),
            size_bytes: size,
            uploaded_at: now.naive_utc().and_utc(),
        })
    })
}

/// A document's name, type and bytes, for those who may read its record (404 otherwise).
pub fn document(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<(String, String, Vec<u8>), ApiError> {
    if caller.role == Role::Driver {
        return Err(ApiError::Forbidden(
            "drivers do not read enforcement records".into(),
        ));
    }
    let (action, filename, ct, data): (String, String, String, Vec<u8>) =
        enforcement_documents::table
            .find(id)
            .select((
                enforcement_documents::action_id,
                enforcement_documents::filename,
                enforcement_documents::content_type,
                enforcement_documents::data,
            ))
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::NotFound(format!("no document {id}")))?;
    visible_action(conn, caller, &action)
        .map_err(|_| ApiError::NotFound(format!("no document {id}")))?;
    Ok((filename, ct, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_pdf_jpeg_or_png_and_look_it() {
        assert_eq!(
            check_document("application/pdf", b"%PDF-1.7 ...").ok(),
            Some("application/pdf")
        );
        assert!(check_document("IMAGE/PNG", b"\x89PNG\r\n\x1a\nxx").is_ok());
        assert!(check_document("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]).is_ok());
        assert!(matches!(
            check_document("text/html", b"<html>"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            check_document("application/pdf", b"<html>"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        let mut big = b"%PDF-".to_vec();
        big.resize(MAX_DOCUMENT_BYTES, b' ');
        assert!(
            check_document("application/pdf", &big).is_ok(),
            "exactly 10 MiB"
        );
        big.push(b' ');
        assert!(matches!(
            check_document("application/pdf", &big),
            Err(ApiError::PayloadTooLarge(_))
        ));
        assert!(check_filename("决定书.pdf").is_ok());
        assert!(check_filename("../etc/passwd").is_err());
        assert!(check_filename("").is_err());
    }
}
