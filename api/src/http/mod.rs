//! HTTP surface: routes, extractors, middleware, OpenAPI. Handlers stay thin: parse,
//! authorise, call the domain module, map errors.

pub mod accounts;
pub mod auth;
pub mod caller;
pub mod console;
pub mod corrections;
pub mod custody;
pub mod desks;
pub mod enforcement;
pub mod extract;
pub mod hygiene;
pub mod institutions;
pub mod limits;
pub mod middleware;
pub mod openapi;
pub mod oversight;
pub mod roster;
pub mod runs;
pub mod system;
pub mod tracking;
pub mod watchlist;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, web};

use crate::error::ApiError;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(extract::query_error))
        .app_data(web::PathConfig::default().error_handler(extract::path_error))
        .service(web::resource("/healthz").route(web::get().to(system::healthz)))
        .service(web::resource("/readyz").route(web::get().to(system::readyz)))
        .service(web::resource("/").route(web::get().to(console::index)))
        .service(web::resource("/assets/{path:.*}").route(web::get().to(console::asset)))
        .service(web::resource("/sw.js").route(web::get().to(console::asset)))
        .service(web::resource("/manifest.webmanifest").route(web::get().to(console::asset)))
        .service(
            web::scope("/api/v1")
                .service(web::resource("/openapi.json").route(web::get().to(system::openapi)))
                .service(
                    web::resource("/auth/login")
                        .wrap(from_fn(limits::auth))
                        .route(web::post().to(auth::login)),
                )
                .service(
                    web::resource("/console/session")
                        .wrap(from_fn(limits::auth))
                        .route(web::post().to(console::sign_in))
                        .route(web::delete().to(console::sign_out)),
                )
                .service(
                    web::resource("/console/session/refresh")
                        .wrap(from_fn(limits::auth))
                        .route(web::post().to(console::renew)),
                )
                .service(
                    web::resource("/auth/refresh")
                        .wrap(from_fn(limits::auth))
                        .route(web::post().to(auth::refresh)),
                )
                .service(
                    web::resource("/auth/logout")
                        .wrap(from_fn(limits::auth))
                        .route(web::post().to(auth::logout)),
                )
                .service(
                    web::resource("/me/password")
                        .wrap(from_fn(limits::auth))
                        .route(web::post().to(accounts::change_own_password)),
                )
                .service(
                    web::resource("/users")
                        .route(web::get().to(accounts::list))
                        .route(web::post().to(accounts::create).wrap(from_fn(limits::auth))),
                )
                .service(web::resource("/organisations").route(web::get().to(accounts::list_orgs)))
                .service(
                    web::resource("/users/{id}/deactivate")
                        .wrap(from_fn(limits::auth))
                        .route(web::post().to(accounts::deactivate)),
                )
                .service(
                    web::resource("/users/{id}/reactivate")
                        .wrap(from_fn(limits::auth))
                        .route(web::post().to(accounts::reactivate)),
                )
                .service(
                    web::resource("/users/{id}/password")
                        .wrap(from_fn(limits::auth))
                        .route(web::post().to(accounts::reset_password)),
                )
                .service(
                    web::resource("/me")
                        .route(web::get().to(auth::me))
                        .route(web::patch().to(auth::update_me)),
                )
                .service(
                    web::resource("/institutions")
                        .route(web::get().to(institutions::list))
                        .route(
                            web::post()
                                .to(institutions::sign_up)
                                .wrap(from_fn(limits::sign_up)),
                        ),
                )
                .service(
                    web::resource("/institutions/{id}")
                        .route(web::get().to(institutions::get))
                        .route(web::patch().to(institutions::update)),
                )
                .service(
                    web::resource("/institutions/{id}/handover")
                        .route(web::get().to(institutions::handover_settings))
                        .route(web::put().to(institutions::update_handover_settings)),
                )
                .service(
                    web::resource("/institutions/{id}/approve")
                        .route(web::post().to(institutions::approve)),
                )
                .service(
                    web::resource("/institutions/{id}/reject")
                        .route(web::post().to(institutions::reject)),
                )
                .service(
                    web::resource("/institutions/{id}/suspend")
                        .route(web::post().to(institutions::suspend)),
                )
                .service(
                    web::resource("/containers")
                        .route(web::get().to(custody::list))
                        .route(web::post().to(custody::create)),
                )
                .service(
                    web::resource("/containers/batch").route(web::post().to(custody::create_batch)),
                )
                // Before `/containers/{code}`, which would take `labels.pdf` as a code.
                .service(
                    web::resource("/containers/labels.pdf")
                        .route(web::get().to(custody::label_sheet_pdf)),
                )
                .service(web::resource("/containers/{code}").route(web::get().to(custody::get)))
                .service(
                    web::resource("/containers/{code}/label.pdf")
                        .route(web::get().to(custody::label_pdf)),
                )
                .service(
                    web::resource("/containers/{code}/label.svg")
                        .route(web::get().to(custody::label_svg)),
                )
                .service(
                    web::resource("/containers/{code}/audit").route(web::get().to(custody::audit)),
                )
                .service(
                    web::resource("/containers/{code}/children")
                        .route(web::post().to(custody::nest)),
                )
                .service(
                    web::resource("/containers/{code}/corrections")
                        .route(web::get().to(corrections::of_container))
                        .route(web::post().to(corrections::request)),
                )
                .service(
                    web::resource("/corrections/{id}/approve")
                        .route(web::post().to(corrections::approve)),
                )
                .service(
                    web::resource("/corrections/{id}/refuse")
                        .route(web::post().to(corrections::refuse)),
                )
                .service(web::resource("/scans").route(web::post().to(custody::scans)))
                .service(
                    web::resource("/storage-clocks").route(web::get().to(desks::storage_clocks)),
                )
                .service(web::resource("/plant/intake").route(web::get().to(desks::plant_intake)))
                .service(
                    web::resource("/vehicles")
                        .route(web::get().to(runs::list_vehicles))
                        .route(web::post().to(runs::create_vehicle)),
                )
                // Before `/vehicles/{id}`, which would take `positions` as an id.
                .service(
                    web::resource("/vehicles/positions")
                        .route(web::get().to(tracking::vehicle_positions)),
                )
                .service(
                    web::resource("/vehicles/{id}").route(web::patch().to(runs::update_vehicle)),
                )
                .service(web::resource("/drivers").route(web::get().to(runs::list_drivers)))
                .service(
                    web::resource("/pickup-requests")
                        .route(web::get().to(runs::list_requests))
                        .route(web::post().to(runs::request_pickup)),
                )
                .service(web::resource("/pickups/due").route(web::get().to(runs::due)))
                .service(web::resource("/plans").route(web::post().to(runs::plan)))
                .service(web::resource("/plans/progress").route(web::get().to(runs::plan_progress)))
                .service(web::resource("/plans/{id}").route(web::get().to(runs::get_plan)))
                .service(web::resource("/runs").route(web::get().to(runs::list_runs)))
                .service(web::resource("/me/runs").route(web::get().to(runs::my_runs)))
                .service(web::resource("/runs/{id}").route(web::get().to(runs::get_run)))
                .service(
                    web::resource("/runs/{id}/stops/{seq}/skip").route(web::post().to(runs::skip)),
                )
                .service(
                    web::resource("/runs/{id}/positions").route(web::post().to(runs::positions)),
                )
                .service(
                    web::resource("/runs/{id}/track").route(web::get().to(tracking::run_track)),
                )
                .service(web::resource("/runs/{id}/insert").route(web::post().to(runs::insert)))
                .service(
                    web::resource("/runs/{id}/manifests").route(web::get().to(runs::run_manifests)),
                )
                .service(
                    web::resource("/runs/{id}/manifests.csv")
                        .route(web::get().to(runs::run_manifests_csv)),
                )
                // Before `/manifests/{number}`, which would take `N.csv` (`N.pdf`) as a number.
                .service(
                    web::resource("/manifests/{number}.csv")
                        .route(web::get().to(runs::manifest_csv)),
                )
                .service(
                    web::resource("/manifests/{number}.pdf")
                        .route(web::get().to(runs::manifest_pdf)),
                )
                .service(
                    web::resource("/manifests/{number}/corrections")
                        .route(web::get().to(corrections::of_manifest)),
                )
                .service(
                    web::resource("/manifests/{number}/confirmations")
                        .route(web::post().to(runs::send_confirmation)),
                )
                .service(
                    web::resource("/manifests/{number}/confirm")
                        .route(web::post().to(runs::confirm_handover)),
                )
                .service(
                    web::resource("/manifests/{number}/signatures")
                        .route(web::post().to(runs::sign_manifest)),
                )
                .service(web::resource("/manifests/{number}").route(web::get().to(runs::manifest)))
                .service(web::resource("/watch-list").route(web::get().to(watchlist::list)))
                .service(
                    web::resource("/watch-list/{id}/strike-off")
                        .route(web::post().to(watchlist::strike_off)),
                )
                .service(
                    web::resource("/rectifications")
                        .route(web::get().to(enforcement::rectifications)),
                )
                .service(
                    web::resource("/enforcement")
                        .route(web::get().to(enforcement::list))
                        .route(web::post().to(enforcement::record)),
                )
                .service(
                    web::resource("/enforcement/documents/{id}")
                        .route(web::get().to(enforcement::download)),
                )
                .service(
                    web::resource("/enforcement/{id}/documents")
                        .route(web::post().to(enforcement::upload)),
                )
                .service(web::resource("/roster").route(web::get().to(roster::list)))
                .service(web::resource("/roster/import").route(web::post().to(roster::import)))
                .service(web::resource("/roster/townships").route(web::get().to(roster::townships)))
                .service(web::resource("/roster/{id}/invite").route(web::post().to(roster::invite)))
                .service(web::resource("/alerts").route(web::get().to(oversight::list)))
                .service(web::resource("/alerts/{id}/ack").route(web::post().to(oversight::ack)))
                .service(
                    web::resource("/alerts/{id}/resolve").route(web::post().to(oversight::resolve)),
                )
                .service(
                    web::resource("/settings/epidemic-mode")
                        .route(web::get().to(oversight::get_epidemic))
                        .route(web::put().to(oversight::put_epidemic)),
                )
                .service(
                    web::resource("/reports/coverage").route(web::get().to(oversight::coverage)),
                )
                .service(
                    web::resource("/reports/coverage.csv")
                        .route(web::get().to(oversight::coverage_csv)),
                )
                .service(
                    web::resource("/reports/coverage/cells").route(web::get().to(oversight::cells)),
                )
                .service(
                    web::resource("/inspections")
                        .route(web::get().to(oversight::list_inspections))
                        .route(web::post().to(oversight::record)),
                ),
        )
        .default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
