//! The bureau's roster of licensed institutions (医疗机构名录): who should be in centralised
//! disposal, whether or not they signed up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{InstitutionKind, LatLng};

/// One institution of an import (`POST /api/v1/roster/import` as JSON). The CSV form has the
/// same columns: `licence_no,name,kind,township,village,address,lat,lng,beds,self_disposal_basis`
/// (Chinese headers 许可证号,名称,类型,乡镇,村,地址,纬度,经度,床位,自行处置依据 work too).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RosterRow {
    /// Practising licence number (医疗机构执业许可证), the key that matches a sign-up.
    pub licence_no: String,
    /// Registered name.
    pub name: String,
    /// Kind.
    pub kind: InstitutionKind,
    /// Township.
    pub township: String,
    /// Village (may be empty).
    #[serde(default)]
    pub village: String,
    /// Street address (may be empty).
    #[serde(default)]
    pub address: String,
    /// Position, if the bureau has it.
    #[serde(default)]
    pub location: Option<LatLng>,
    /// Beds (default 0).
    #[serde(default)]
    pub beds: Option<i32>,
    /// Set when the institution disposes of its own waste where the law allows it (条例
    /// Art.21, remote villages): the legal basis, e.g. the approval's reference. Empty or
    /// absent means centralised disposal.
    #[serde(default)]
    pub self_disposal_basis: Option<String>,
}

/// `POST /api/v1/roster/import` as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RosterImport {
    /// The institutions, at most 5000.
    pub entries: Vec<RosterRow>,
}

/// A field of an import row that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RosterRowError {
    /// The row: the CSV line number (the header is line 1), or the 1-based position in
    /// `entries`.
    pub row: u64,
    /// Its licence number, as given (may be empty).
    pub licence_no: String,
    /// The field, e.g. `kind`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// An entry whose stored values an import changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RosterChange {
    /// Licence number.
    pub licence_no: String,
    /// The fields that changed.
    pub fields: Vec<String>,
}

/// What an import did. Importing the same list again adds and changes nothing. Rows that
/// could not be read are left out; the rest are written in one transaction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RosterImportReport {
    /// Rows read.
    pub rows: u64,
    /// Licence numbers added to the roster.
    pub added: Vec<String>,
    /// Entries whose values changed.
    pub changed: Vec<RosterChange>,
    /// Rows identical to what the roster held.
    pub unchanged: u64,
    /// Licence numbers (added or changed) that match a signed-up institution.
    pub matched: Vec<String>,
    /// Every field that could not be read, by row.
    pub errors: Vec<RosterRowError>,
}

/// Where a roster entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RosterStatus {
    /// Signed up and approved (active or suspended): in centralised disposal.
    SignedUp,
    /// Signed up, waiting for approval: not yet in centralised disposal.
    Pending,
    /// Never signed up (or was rejected): not in centralised disposal.
    NotSignedUp,
    /// Disposes of its own waste where the law allows it (条例 Art.21).
    SelfDisposal,
}

/// One roster entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RosterEntry {
    /// Entry id.
    pub id: String,
    /// Licence number.
    pub licence_no: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: InstitutionKind,
    /// Township.
    pub township: String,
    /// Village.
    pub village: String,
    /// Address.
    pub address: String,
    /// Position, if known.
    pub location: Option<LatLng>,
    /// Beds.
    pub beds: i32,
    /// Where it stands.
    pub status: RosterStatus,
    /// The legal basis of self-disposal, if it disposes of its own waste.
    pub self_disposal_basis: Option<String>,
    /// The signed-up institution with this licence number, if any.
    pub institution_id: Option<String>,
    /// When the last invitation was made.
    pub invited_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/roster`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RosterPage {
    /// Entries by licence number.
    pub items: Vec<RosterEntry>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// One township of `GET /api/v1/roster/townships`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RosterTownship {
    /// Township.
    pub township: String,
    /// Roster entries.
    pub on_roster: i64,
    /// Signed up and approved.
    pub signed_up: i64,
    /// Signed up, not yet approved.
    pub pending: i64,
    /// Never signed up.
    pub not_signed_up: i64,
    /// Self-disposal (条例 Art.21), on its own line.
    pub self_disposal: i64,
    /// `pending + not_signed_up`: on the roster, not in centralised disposal. List them with
    /// `GET /api/v1/roster?status=not_in_centralised_disposal&township=...`.
    pub not_in_centralised_disposal: i64,
}

/// `POST /api/v1/roster/{id}/invite`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Email the invitation to this address (through the outbox); without it, print the
    /// letter.
    #[serde(default)]
    pub email: Option<String>,
}

/// An invitation: a new sign-up code (the previous one stops working) and the letter.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    /// The roster entry.
    pub entry_id: String,
    /// The sign-up code: given as `signup_code` at sign-up, it links the new institution to
    /// this entry. Shown once; single use.
    pub code: String,
    /// The address it was emailed to, if it was.
    pub emailed_to: Option<String>,
    /// The printable letter (plain text, Chinese) carrying the code.
    pub letter: String,
}
