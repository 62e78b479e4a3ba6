//! What every request handler shares.

use crate::auth::sessions::SessionCache;
use crate::auth::throttle::{LoginThrottle, RateLimiter};
use crate::auth::tokens::JwtKeys;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::db::Db;

/// Application state behind `web::Data`.
pub struct AppState {
    pub db: Db,
    pub config: Config,
    pub keys: JwtKeys,
    pub clock: SharedClock,
    pub throttle: LoginThrottle,
    /// Requests per client address to `/auth/*` and the account endpoints.
    pub auth_limit: RateLimiter,
    /// Public sign-ups per client address.
    pub sign_up_limit: RateLimiter,
    /// Recently checked sessions (the `sid` of access tokens).
    pub sessions: SessionCache,
    /// The alert evaluator: the only place rules are evaluated (periodically, and on request
    /// after uploads), one evaluation at a time, never on a read.
    pub alerts: crate::oversight::evaluator::Evaluator,
    /// Told of each phase of a `POST /plans` (tests use it to act while the solver thinks).
    pub plan_progress: PlanProgress,
    /// The plans being solved now, per company (`GET /plans/progress`).
    pub plans_solving: crate::runs::progress::Board,
}

/// A listener for planning's phases, set at run time.
pub type PlanProgress =
    std::sync::RwLock<Option<std::sync::Arc<dyn Fn(crate::runs::planning::Phase) + Send + Sync>>>;
