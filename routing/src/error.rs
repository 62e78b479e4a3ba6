//! The crate's single error type.

/// Everything that can go wrong while building a problem or reading an instance.
///
/// Solving itself never fails: demand that cannot be served comes back as
/// [`crate::Unassigned`] with a reason.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A latitude/longitude pair outside WGS-84 ranges or not finite.
    #[error("invalid coordinate lat={lat} lng={lng}")]
    InvalidCoordinate {
        /// Latitude in degrees.
        lat: f64,
        /// Longitude in degrees.
        lng: f64,
    },
    /// A matrix whose size does not match the number of locations, or with negative/NaN entries.
    #[error("invalid matrix: {0}")]
    InvalidMatrix(String),
    /// A vehicle, stop or time window that is inconsistent (e.g. window end before start).
    #[error("invalid problem: {0}")]
    InvalidProblem(String),
    /// A benchmark instance file that could not be parsed.
    #[error("cannot parse instance: {0}")]
    Parse(String),
    /// Reading an instance file failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
