//! Institution sign-up and the registry.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::LatLng;

/// What kind of medical institution produces the waste.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstitutionKind {
    /// 镇卫生院 township health centre.
    TownshipHealthCentre,
    /// 村卫生室 village health room.
    VillageHealthRoom,
    /// 诊所 private clinic.
    Clinic,
    /// Any other producer (dental practice, pharmacy, ...).
    Other,
}

/// Where an institution stands in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstitutionStatus {
    /// Signed up, waiting for bureau approval.
    Pending,
    /// Approved: may label containers and request pickups.
    Active,
    /// Refused at approval.
    Rejected,
    /// Stopped from creating new containers.
    Suspended,
}

/// How waste leaves the institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceMode {
    /// Collected at the institution's door.
    Direct,
    /// Delivered to its township hub (小箱进大箱), collected there.
    ViaHub,
}

/// A contact person.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Full name.
    pub name: String,
    /// Phone number (digits, spaces, `+`, `-`).
    pub phone: String,
    /// Email for alerts.
    #[serde(default)]
    pub email: Option<String>,
}

/// The first user account of a signing-up institution.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The wanted login, 3 to 55 characters of letters, digits, `.`, `_`, `-`, `@`
    /// (case-insensitive). The server appends `-` and a random number (`beimiaozi-4821`), so
    /// that sign-up never reveals which logins exist: sign in with `login` of the answer.
    #[schema(min_length = 3, max_length = 55)]
    pub login: String,
    /// At least 10 characters.
    pub password: String,
}

/// `POST /api/v1/institutions`: public sign-up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    /// Registered name.
    pub name: String,
    /// Kind of institution.
    pub kind: InstitutionKind,
    /// Medical institution practising licence number (医疗机构执业许可证); unique.
    pub licence_no: String,
    /// Township (镇/乡).
    pub township: String,
    /// Village (村); may be empty for institutions in a township seat.
    #[serde(default)]
    pub village: String,
    /// Street address.
    pub address: String,
    /// Position of the door where waste is handed over.
    pub location: LatLng,
    /// Number of beds (0 for most village rooms and clinics).
    pub beds: i32,
    /// Responsible contact.
    pub contact: Contact,
    /// The first clinic-staff user.
    pub account: NewAccount,
    /// Opening hours (pickup windows); default 08:00-12:00 and 14:00-17:30.
    #[serde(default)]
    pub opening_hours: Option<Vec<crate::OpeningWindow>>,
    /// The sign-up code of a bureau's invitation letter: links the institution to its
    /// roster entry (the licence number must be the entry's). Single use.
    #[serde(default)]
    pub signup_code: Option<String>,
}

/// The answer to a sign-up: the institution, `pending`, and its account's login.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignUpAccepted {
    /// The registered institution.
    #[serde(flatten)]
    pub institution: Institution,
    /// The login to sign in with: the requested one, `-`, and a random number. Show it to the
    /// user and keep it; the password is the one sent.
    pub login: String,
}

/// `POST /api/v1/institutions/{id}/reject` and `/suspend` body: the reason is required.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// Why, 1 to 1000 characters (not only spaces); shown to the institution.
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// `POST /api/v1/institutions/{id}/approve` body (optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// Why (required to reject or suspend, optional to approve).
    #[serde(default)]
    pub reason: Option<String>,
}

/// An institution of the registry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Institution {
    /// Institution id.
    pub id: String,
    /// Registered name.
    pub name: String,
    /// Kind of institution.
    pub kind: InstitutionKind,
    /// Licence number.
    pub licence_no: String,
    /// Township.
    pub township: String,
    /// Village.
    pub village: String,
    /// Street address.
    pub address: String,
    /// Position of the hand-over door.
    pub location: LatLng,
    /// H3 cell (resolution 9) of the location, as a hex string.
    pub h3_cell: String,
    /// Beds.
    pub beds: i32,
    /// Responsible contact.
    pub contact: Contact,
    /// Registry status.
    pub status: InstitutionStatus,
    /// Reason given with the last rejection or suspension.
    #[serde(default)]
    pub status_reason: Option<String>,
    /// Door collection or via the township hub.
    pub service_mode: ServiceMode,
    /// The hub institution when `service_mode` is `via_hub`.
    #[serde(default)]
    pub hub_id: Option<String>,
    /// Maximum hours between collections (48 by default).
    pub collection_interval_h: i32,
    /// Opening hours (pickup windows), local time.
    pub opening_hours: Vec<crate::OpeningWindow>,
    /// Sign-up time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Answer to an approval decision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DecisionResponse {
    /// Institution id.
    pub id: String,
    /// The new status.
    pub status: InstitutionStatus,
}

/// One page of institutions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstitutionPage {
    /// The institutions of this page, oldest sign-up first.
    pub items: Vec<Institution>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `PATCH /api/v1/institutions/{id}`: registry settings (admin, bureau staff) and contact
/// (also the institution's own staff). Absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstitutionUpdate {
    /// Door collection, or delivery to a township hub (then `hub_id` is required).
    #[serde(default)]
    pub service_mode: Option<ServiceMode>,
    /// The hub: an active township health centre of the same township. Only with
    /// `service_mode` `via_hub` (sent or already set): for a direct-service institution it
    /// is refused (422), not ignored.
    #[serde(default)]
    pub hub_id: Option<String>,
    /// Maximum hours between collections, 1 to 48.
    #[serde(default)]
    pub collection_interval_h: Option<i32>,
    /// Responsible contact.
    #[serde(default)]
    pub contact: Option<Contact>,
    /// Opening hours (pickup windows), local `HH:MM`, at most 4 windows.
    #[serde(default)]
    pub opening_hours: Option<Vec<crate::OpeningWindow>>,
}
