//! Tracking: a run's GPS track as GeoJSON (RFC 7946) and the fleet's last positions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::LatLng;

/// `GET /api/v1/runs/{id}/track` (`application/geo+json`): a GeoJSON FeatureCollection with
/// the driven track (a LineString of the fixes in time order, `kind: track`; absent before
/// the first fix), the plant (`kind: plant`) and each planned stop (`kind: stop`) as Points.
/// Coordinates are `[lng, lat]`, as GeoJSON has them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunTrack {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The track, the plant and the stops.
    pub features: Vec<TrackFeature>,
}

/// One GeoJSON Feature of a run's track.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrackFeature {
    /// Always `Feature`.
    #[serde(rename = "type")]
    pub kind: String,
    pub geometry: TrackGeometry,
    pub properties: TrackProperties,
}

/// A GeoJSON geometry: the track's LineString or a Point.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum TrackGeometry {
    /// The fixes, `[lng, lat]` each, in time order.
    LineString { coordinates: Vec<[f64; 2]> },
    /// A place, `[lng, lat]`.
    Point { coordinates: [f64; 2] },
}

/// What a feature is. Fields that do not apply to its kind are null.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrackProperties {
    /// `track`, `plant` or `stop`.
    pub kind: String,
    /// The run.
    pub run_id: String,
    /// Track: the time of each coordinate, in the same order (GeoJSON has no time axis).
    pub times: Option<Vec<DateTime<Utc>>>,
    /// Stop: its position on the run.
    pub seq: Option<i32>,
    /// Stop: the institution.
    pub institution_id: Option<String>,
    /// Stop: the institution's name; plant: the company's.
    pub name: Option<String>,
    /// Stop: `pending`, `completed` or `skipped`.
    pub status: Option<String>,
    /// Stop: planned arrival.
    pub eta: Option<DateTime<Utc>>,
}

/// A vehicle's last known position (its latest fix on any run).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VehiclePosition {
    /// Vehicle id.
    pub vehicle_id: String,
    /// Number plate.
    pub plate: String,
    /// The disposal company.
    pub org_id: String,
    /// The run the fix belongs to.
    pub run_id: String,
    /// The run's local day, `YYYY-MM-DD`.
    pub day: String,
    /// The run's driver.
    pub driver_id: Option<String>,
    /// Where.
    pub location: LatLng,
    /// When, by the device's clock.
    pub at: DateTime<Utc>,
}

/// `GET /api/v1/vehicles/positions`: the vehicles the caller may see, by plate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VehiclePositionList {
    pub items: Vec<VehiclePosition>,
}
