//! Who is calling: passwords, tokens, sessions, and the caller every route checks.

pub mod password;
pub mod sessions;
pub mod throttle;
pub mod tokens;

use yifei_contract::Role;

use crate::error::ApiError;

/// The authenticated caller: who a valid access token says, once its session was found live.
/// Plain data, so domain modules can check roles and tenants without knowing HTTP; the
/// request extractor lives in `http::caller`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub role: Role,
    /// Organisation id, or institution id for clinic staff and hub keepers.
    pub tenant: Option<String>,
}

impl Caller {
    /// 403 unless the caller holds one of `roles`. Checked before any lookup, so a refusal
    /// says nothing about whether the record exists.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the {} role may not do this",
                self.role.as_str()
            )))
        }
    }

    /// The tenant id, which every non-admin role has.
    pub fn tenant_id(&self) -> Result<&str, ApiError> {
        self.tenant
            .as_deref()
            .ok_or_else(|| ApiError::Forbidden("this account belongs to no organisation".into()))
    }
}
