//! Sign-in, token refresh and the caller's identity.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who a user is in the system; decides every permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the deployment: users, organisations, configuration.
    Admin,
    /// Health-bureau or environment-bureau staff; sees and approves within its jurisdiction.
    BureauStaff,
    /// Disposal company: fleet and run planning.
    Dispatcher,
    /// Disposal company: works runs from the mobile app.
    Driver,
    /// Disposal company: receives, weighs and disposes at the plant.
    PlantOperator,
    /// Staff of a medical institution (clinic, village health room, health centre).
    ClinicStaff,
    /// Staff of a township health centre acting as a collection hub (小箱进大箱).
    HubKeeper,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::BureauStaff,
        Role::Dispatcher,
        Role::Driver,
        Role::PlantOperator,
        Role::ClinicStaff,
        Role::HubKeeper,
    ];

    /// The snake_case name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::BureauStaff => "bureau_staff",
            Role::Dispatcher => "dispatcher",
            Role::Driver => "driver",
            Role::PlantOperator => "plant_operator",
            Role::ClinicStaff => "clinic_staff",
            Role::HubKeeper => "hub_keeper",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// `POST /api/v1/auth/login` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The login name (case-insensitive).
    pub login: String,
    /// The password.
    pub password: String,
}

/// `POST /api/v1/auth/refresh` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh. Single use.
    pub refresh_token: String,
}

/// `POST /api/v1/auth/logout` body (optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// Ends only this token's session; without it, every session of the caller ends.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// The tokens of a session.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Long-lived, single-use token for `POST /api/v1/auth/refresh`. Store it securely.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The signed-in user.
    pub user: UserSummary,
}

/// The console's session (`POST /api/v1/console/session`): the tokens themselves travel only
/// in `HttpOnly` cookies, out of reach of page scripts, so the body says who signed in and for
/// how long the access cookie holds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsoleSession {
    /// Seconds until the access cookie expires; the console refreshes before then.
    pub expires_in: i64,
    /// The signed-in user.
    pub user: UserSummary,
}

/// The signed-in user, as carried in tokens.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserSummary {
    /// User id.
    pub id: String,
    /// Role deciding permissions.
    pub role: Role,
    /// The tenant: the organisation id (company or bureau), or the institution id for clinic
    /// staff and hub keepers; absent for admins.
    #[serde(default)]
    pub org_id: Option<String>,
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// User id.
    pub id: String,
    /// Login name.
    pub login: String,
    /// Role deciding permissions.
    pub role: Role,
    /// The tenant id (see [`UserSummary::org_id`]).
    #[serde(default)]
    pub org_id: Option<String>,
    /// Name of the tenant organisation or institution.
    #[serde(default)]
    pub org_name: Option<String>,
    /// For clinic staff and hub keepers: the institution's approval status.
    #[serde(default)]
    pub institution_status: Option<String>,
    /// Townships the user's organisation covers (bureau staff); empty means the whole county.
    #[serde(default)]
    pub townships: Vec<String>,
    /// Email address for notifications.
    #[serde(default)]
    pub email: Option<String>,
}

/// `PATCH /api/v1/me`: the caller's own settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeUpdate {
    /// Email address for notifications; `""` removes it.
    pub email: String,
}

/// `POST /api/v1/me/password`: change the caller's own password.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password in use now. A wrong one counts as a failed login (lockout, `429`).
    pub current_password: String,
    /// The new password, 10 to 256 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// `POST /api/v1/users/{id}/password`: an admin sets another user's password.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The new password, 10 to 256 characters; tell the user, who should change it.
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// A user account as an admin sees it (`/api/v1/users`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserAccount {
    /// User id.
    pub id: String,
    /// Login name.
    pub login: String,
    /// Role deciding permissions.
    pub role: Role,
    /// The tenant id (see [`UserSummary::org_id`]).
    #[serde(default)]
    pub org_id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Email address for notifications.
    #[serde(default)]
    pub email: Option<String>,
    /// `false` once deactivated: the account cannot sign in and has no live session.
    pub active: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// `POST /api/v1/users` (admin): a staff account, as `yifei user create` makes it. Bureau
/// staff belong to a health or environment bureau; dispatchers, drivers and plant operators
/// to a disposal company (`org_id`); clinic staff and hub keepers to an institution
/// (`institution_id`; a hub keeper's is a township health centre); an admin to neither.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserAccount {
    /// Login name (case-insensitive; letters, digits, `.`, `_`, `-`).
    pub login: String,
    /// Role deciding permissions.
    pub role: Role,
    /// Organisation id (bureau staff, dispatcher, driver, plant operator).
    #[serde(default)]
    pub org_id: Option<String>,
    /// Institution id (clinic staff, hub keeper).
    #[serde(default)]
    pub institution_id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Email address for notifications.
    #[serde(default)]
    pub email: Option<String>,
    /// First password, 10 to 256 characters; tell the user, who should change it.
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
}

/// An organisation: the disposal company, or a bureau (`/api/v1/organisations`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Organisation {
    /// Organisation id (the `org_id` of its staff).
    pub id: String,
    /// `disposal_company`, `health_bureau` or `eco_environment_bureau`.
    pub kind: String,
    /// Registered name.
    pub name: String,
    /// The site (a company's plant: runs start and end there).
    #[serde(default)]
    pub location: Option<crate::LatLng>,
    /// A bureau's jurisdiction; empty means the whole county.
    pub townships: Vec<String>,
    /// Active accounts that belong to it.
    pub active_users: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// One page of organisations.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrganisationPage {
    /// Organisations in creation order.
    pub items: Vec<Organisation>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// One page of user accounts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    /// Accounts in creation order.
    pub items: Vec<UserAccount>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}
