//! The OpenAPI 3.1 document, generated from the handlers and wire types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use yifei_contract as c;

use super::{
    accounts, auth, console, corrections, custody, desks, enforcement, institutions, oversight,
    roster, runs, system, tracking, watchlist,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Yifei API",
        description = "Medical-waste custody from rural clinics to licensed disposal. \
            Errors are RFC 9457 problem+json; see mobile-contract/README.md.",
        version = "1.0.0"
    ),
    paths(
        system::healthz, system::readyz, system::openapi,
        auth::login, auth::refresh, auth::logout, auth::me, auth::update_me,
        console::sign_in, console::renew, console::sign_out,
        accounts::change_own_password, accounts::list, accounts::deactivate,
        accounts::reactivate, accounts::reset_password, accounts::create, accounts::list_orgs,
        institutions::sign_up, institutions::list, institutions::get, institutions::update,
        institutions::approve, institutions::reject, institutions::suspend,
        custody::create, custody::create_batch, custody::list, custody::get,
        custody::label_svg, custody::label_pdf, custody::label_sheet_pdf, custody::audit,
        custody::nest, custody::scans,
        corrections::request, corrections::approve, corrections::refuse,
        corrections::of_container, corrections::of_manifest,
        desks::storage_clocks, desks::plant_intake,
        runs::create_vehicle, runs::list_vehicles, runs::update_vehicle, runs::list_drivers,
        runs::request_pickup, runs::list_requests, runs::due, runs::plan, runs::get_plan,
        runs::plan_progress,
        runs::list_runs, runs::my_runs, runs::get_run, runs::skip, runs::positions,
        runs::insert, runs::run_manifests, runs::manifest, runs::run_manifests_csv,
        runs::manifest_csv, runs::manifest_pdf,
        runs::send_confirmation, runs::confirm_handover, runs::sign_manifest,
        institutions::handover_settings, institutions::update_handover_settings,
        oversight::list, oversight::ack, oversight::resolve, oversight::get_epidemic,
        oversight::put_epidemic, oversight::coverage, oversight::coverage_csv, oversight::cells, oversight::record,
        oversight::list_inspections,
        roster::import, roster::list, roster::townships, roster::invite,
        watchlist::list, watchlist::strike_off,
        enforcement::rectifications, enforcement::list, enforcement::record, enforcement::upload, enforcement::download,
        tracking::run_track, tracking::vehicle_positions,
    ),
    components(schemas(c::Problem, c::FieldError, c::ExportFormat, c::AlertStatus)),
    modifiers(&Standard),
    tags(
        (name = "system", description = "Health and contract"),
        (name = "auth", description = "Sign-in and sessions"),
        (name = "console", description = "The browser console's cookie session (tokens in HttpOnly cookies)"),
        (name = "accounts", description = "Accounts and organisations: create, deactivate, reactivate, reset passwords (admin)"),
        (name = "institutions", description = "Sign-up, approval and the registry"),
        (name = "custody", description = "Containers, labels, scans and their history"),
        (name = "runs", description = "Fleet, due pickups, plans, runs and transfer manifests"),
        (name = "oversight", description = "Alerts, epidemic mode, coverage reports, inspections"),
        (name = "roster", description = "The bureau's roster of licensed institutions: the 纳入率's denominator, invitations"),
    )
)]
struct ApiDoc;

/// Adds the bearer scheme and the error responses every operation can give, so that the
/// contract documents each status a client may see.
struct Standard;

impl Modify for Standard {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        let problem = || {
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                ))))
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                if let Some(RefOr::T(body)) = op.request_body.as_mut() {
                    optional_body(body);
                }
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let mut standard: Vec<(&str, &str)> = vec![("500", "Internal error")];
                if has_body {
                    standard.extend([
                        ("400", "Malformed JSON"),
                        ("413", "Body too large"),
                        ("415", "Body is not application/json"),
                        ("422", "Invalid field; `errors` names it"),
                    ]);
                }
                if has_params && !has_body {
                    standard.push(("422", "Invalid query parameter"));
                }
                if secured {
                    standard.extend([
                        (
                            "401",
                            "Missing, invalid or expired access token, or its session has ended",
                        ),
                        ("403", "The caller's role may not do this"),
                    ]);
                }
                if op.parameters.as_ref().is_some_and(|p| {
                    p.iter().any(|p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path)))
                }) {
                    standard.push(("404", "Unknown, or not visible to the caller"));
                }
                if has_body
                    && op.operation_id.as_deref().is_some_and(|id| {
                        [
                            "approve_institution",
                            "reject_institution",
                            "suspend_institution",
                            "skip_stop",
                            "insert_stop",
                        ]
                        .contains(&id)
                    })
                {
                    standard.push(("409", "Not allowed in the current status"));
                }
                for (code, description) in standard {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| {
                            RefOr::T(
                                ResponseBuilder::new()
                                    .description(description)
                                    .content(c::PROBLEM_CONTENT_TYPE, problem())
                                    .build(),
                            )
                        });
                }
            }
        }
    }
}

/// An `Option<T>` body comes out of utoipa as `oneOf: [T, null]`, which client generators
/// read as "send `null`" (openapi-python-client then serialises its "unset" marker and
/// fails): the server takes no body at all for these, so the body is `T`, not required.
fn optional_body(body: &mut utoipa::openapi::request_body::RequestBody) {
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    let mut optional = false;
    for content in body.content.values_mut() {
        let RefOr::T(content) = content else { continue };
        let Some(RefOr::T(Schema::OneOf(one))) = &content.schema else {
            continue;
        };
        let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
        let rest: Vec<_> = one.items.iter().filter(|s| !is_null(s)).cloned().collect();
        if rest.len() == 1 && one.items.len() == 2 {
            content.schema = rest.into_iter().next();
            optional = true;
        }
    }
    if optional {
        body.required = Some(utoipa::openapi::Required::False);
    }
}

/// The document as a value.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON with a trailing newline (the form checked in).
pub fn document_json() -> String {
    let mut s = document().to_pretty_json().unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
