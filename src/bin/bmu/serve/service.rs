//! Service radii on demand (`GET /api/service?type=T`): where facilities of one type reach, as the
//! service-coverage check measures it ([`bmu::validate::service_coverage::service_reach`]), in lon/lat.

use super::{error, lonlat, ok, App};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bmu::config::ServiceDistance;
use bmu::io::OutFeature;
use bmu::vocab::FacilityType;
use geo::{Area, Geometry};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

#[derive(Deserialize)]
pub(super) struct ServiceQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The service types the check uses, with their labels in the page's language.
pub(super) fn types(area: &bmu::model::StudyArea, lang: &str) -> Value {
    area.config
        .thresholds
        .service_types
        .iter()
        .map(|k| json!({"type": k.name(), "label": if lang == "en" { k.name() } else { k.name_zh() }}))
        .collect()
}

pub(super) async fn get_service(State(app): State<Arc<App>>, Query(q): Query<ServiceQuery>) -> Response {
    let area = &app.session.area;
    let t = &area.config.thresholds;
    let names = t
        .service_types
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ");
    let kind = match q.kind.as_deref().and_then(FacilityType::parse) {
        Some(k) if t.service_types.contains(&k) => k,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "unknown service type {:?}: the check's types are {names}",
                    q.kind.unwrap_or_default()
                ),
            )
        }
    };
    // The network's service areas take a Dijkstra per facility: built once, off the runtime's workers.
    let a = app.clone();
    let reach = tokio::task::spawn_blocking(move || {
        let network =
            (a.session.area.config.thresholds.service_distance == ServiceDistance::Network).then(|| {
                a.service_areas
                    .get_or_init(|| bmu::network::ServiceAreas::new(&a.session.area))
            });
        bmu::validate::service_coverage::service_reach(&a.session.area, kind, network)
    })
    .await;
    let reach = match reach {
        Ok(r) => r,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let properties = Map::from_iter([
        ("type".to_string(), json!(kind.name())),
        ("radius_m".to_string(), json!(t.service_radius_m)),
        ("distance".to_string(), json!(t.service_distance.name())),
        (
            "facilities".to_string(),
            json!(area.facilities.iter().filter(|f| f.kind == kind).count()),
        ),
        ("area_km2".to_string(), json!(reach.unsigned_area() / 1e6)),
    ]);
    let feature = OutFeature {
        geometry: Some(Geometry::MultiPolygon(reach)),
        properties,
    };
    match lonlat(&area.working_crs, &[feature]) {
        Ok(v) => ok(v),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
    }
}
