//! Email notifications through an outbox (being written).
