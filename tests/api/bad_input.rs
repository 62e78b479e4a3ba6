//! Bad-input sweep driven by the contract: for every operation of the running server's
//! OpenAPI document, every string field of its JSON body (through `$ref`s, nested objects
//! and arrays), every path parameter and every query parameter is sent holding text a
//! database cannot store (NUL; half a surrogate pair), by every role. The answer must be a
//! 4xx problem (or, for a batch judged item by item, the item refused as `invalid_text`),
//! never a 5xx. Every number, date and time of a body or query is also sent at the edges of
//! its type (overflow, the years 0001 and 9999), which may be accepted or refused but must
//! not be a server error. A field added to the contract is swept without editing this file.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde_json::{Map, Value, json};
use yifei_api::clock::Clock;
use yifei_contract::Role;

use crate::both;
use crate::common::{Res, TestApp};
use crate::custody::{ev, scan};
use crate::runs::{fleet, plan, sealed};

both!(
    the_contract_admits_no_text_a_database_cannot_store,
    nul_in_a_header_is_refused_by_http_itself,
);

/// Where a probe is put in a body: replaced by a NUL or half a surrogate pair, escaped.
const MARK: &str = "@@probe@@";
/// What replaces `MARK` in the JSON text of a body.
const BODY_PROBES: [&str; 2] = [r"\u0000x", r"\ud800x"];
/// What a path segment or query value is sent as (percent-encoded): NUL; the UTF-8 bytes
/// of a surrogate, which no string can hold; a byte that is not UTF-8.
const URL_PROBES: [&str; 3] = ["a%00b", "a%ED%A0%80b", "%FF"];

/// Follows `$ref`s to the schema they name.
fn resolve<'a>(doc: &'a Value, mut s: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(r) = s.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let name = r.trim_start_matches("#/components/schemas/");
        s = &doc["components"]["schemas"][name];
    }
    s
}

/// A plausible value of a schema, with every property (required or not) filled, so that
/// every string field has a place to be probed.
fn sample(doc: &Value, schema: &Value, depth: usize) -> Value {
    let s = resolve(doc, schema);
    if depth > 8 {
        return Value::Null;
    }
    if let Some(v) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return v.clone();
    }
    if let Some(v) = s.get("const") {
        return v.clone();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = s.get(key).and_then(Value::as_array) {
            let pick = variants
                .iter()
                .find(|v| resolve(doc, v).get("type") != Some(&json!("null")));
            return pick.map_or(Value::Null, |v| sample(doc, v, depth + 1));
        }
    }
    if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
        let mut out = Map::new();
        for p in parts {
            if let Value::Object(m) = sample(doc, p, depth + 1) {
                out.extend(m);
            }
        }
        return Value::Object(out);
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if s.get("properties").is_some() => "object",
        _ => "string",
    };
    match ty {
        "object" => {
            let mut out = Map::new();
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (k, p) in props {
                    out.insert(k.clone(), sample(doc, p, depth + 1));
                }
            }
            if let Some(extra) = s.get("additionalProperties").filter(|a| a.is_object()) {
                out.insert("key".into(), sample(doc, extra, depth + 1));
            }
            Value::Object(out)
        }
        "array" => json!([sample(doc, &s["items"], depth + 1)]),
        "integer" => s.get("minimum").cloned().unwrap_or(json!(1)),
        "number" => s.get("minimum").cloned().unwrap_or(json!(1.5)),
        "boolean" => json!(false),
        "null" => Value::Null,
        _ => match s.get("format").and_then(Value::as_str) {
            Some("date-time") => json!("2026-03-02T00:00:00Z"),
            Some("date") => json!("2026-03-02"),
            Some("uuid") => json!(uuid::Uuid::now_v7().to_string()),
            Some("email") => json!("someone@example.org"),
            _ => s.get("example").cloned().unwrap_or(json!("x")),
        },
    }
}

/// JSON pointers of the string leaves of a value.
fn strings(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::String(_) => out.push(at),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                strings(item, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// JSON pointers of the number leaves and date-like string leaves of a value, with their kind.
fn scalars(v: &Value, at: String, out: &mut Vec<(String, &'static str)>) {
    match v {
        Value::Number(n) if n.is_i64() => out.push((at, "integer")),
        Value::Number(_) => out.push((at, "number")),
        Value::String(s) if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') => {
            out.push((at, "date"))
        }
        Value::String(s) if s.len() == 20 && s.as_bytes().get(10) == Some(&b'T') => {
            out.push((at, "date-time"))
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                scalars(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                scalars(item, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// Values at the edges of what a field's type admits: overflow, the first and last days a
/// date can name.
fn extremes(kind: &str) -> Vec<Value> {
    match kind {
        "integer" => vec![
            json!(i32::MAX),
            json!(i32::MIN),
            json!(i64::MAX),
            json!(-1),
            json!(0),
        ],
        "number" => vec![json!(1e300), json!(-1e300), json!(0.0), json!(5e-324)],
        "date" => vec![
            json!("0001-01-01"),
            json!("9999-12-31"),
            json!("+262143-01-01"),
        ],
        "date-time" => vec![
            json!("0001-01-01T00:00:00Z"),
            json!("9999-12-31T23:59:59Z"),
            json!("9999-12-31T23:59:59-23:59"),
        ],
        _ => Vec::new(),
    }
}

/// A request of the sweep.
struct Probe {
    method: String,
    path: String,
    body: Option<String>,
    what: String,
    /// Text a database cannot store: must be refused. Otherwise an extreme value, which
    /// may be accepted but must not be a server error.
    strict: bool,
}

/// Every probe of one operation.
fn probes(
    doc: &Value,
    method: &str,
    template: &str,
    op: &Value,
    known: &BTreeMap<(&str, &str), String>,
) -> Vec<Probe> {
    let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
    // A path parameter takes a real id where the sweep made one (so that a probe in the
    // body or query reaches as far as it can), else a placeholder.
    let path_value = |name: &str| -> String {
        let before = template
            .split('/')
            .take_while(|s| *s != format!("{{{name}}}"))
            .last()
            .unwrap_or_default();
        known
            .get(&(before, name))
            .cloned()
            .unwrap_or_else(|| "x".into())
    };
    let fill = |probe: Option<(&str, &str)>| -> String {
        let mut path = template.to_owned();
        for p in params.iter().filter(|p| p["in"] == "path") {
            let name = p["name"].as_str().unwrap_or_default();
            let value = match probe {
                Some((n, v)) if n == name => v.to_owned(),
                _ => path_value(name),
            };
            path = path.replace(&format!("{{{name}}}"), &value);
        }
        path
    };
    let query_sample = |p: &Value| -> Option<String> {
        match sample(doc, &p["schema"], 0) {
            Value::String(s) => Some(s),
            Value::Null => None,
            v => Some(v.to_string()),
        }
    };
    // Required query parameters keep sample values while another is probed.
    let required_query: Vec<(String, String)> = params
        .iter()
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .filter_map(|p| Some((p["name"].as_str()?.to_owned(), query_sample(p)?)))
        .collect();
    let body_schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
    let base_body = (!body_schema.is_null()).then(|| sample(doc, &body_schema, 0));
    let base_text = base_body.as_ref().map(Value::to_string);
    let mut out = Vec::new();
    let query_of = |extra: Option<(&str, &str)>| -> String {
        let mut pairs: Vec<String> = required_query
            .iter()
            .filter(|(k, _)| extra.is_none_or(|(n, _)| n != k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if let Some((k, v)) = extra {
            pairs.push(format!("{k}={v}"));
        }
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    };
    for p in &params {
        let name = p["name"].as_str().unwrap_or_default();
        for v in URL_PROBES {
            match p["in"].as_str() {
                Some("path") => out.push(Probe {
                    method: method.into(),
                    path: format!("{}{}", fill(Some((name, v))), query_of(None)),
                    body: base_text.clone(),
                    what: format!("path parameter {name} = {v}"),
                    strict: true,
                }),
                Some("query") => out.push(Probe {
                    method: method.into(),
                    path: format!("{}{}", fill(None), query_of(Some((name, v)))),
                    body: base_text.clone(),
                    what: format!("query parameter {name} = {v}"),
                    strict: true,
                }),
                _ => {}
            }
        }
    }
    if let Some(body) = &base_body {
        let mut leaves = Vec::new();
        scalars(body, String::new(), &mut leaves);
        for (leaf, kind) in leaves {
            for extreme in extremes(kind) {
                let mut probed = body.clone();
                if let Some(v) = probed.pointer_mut(&leaf) {
                    *v = extreme.clone();
                }
                out.push(Probe {
                    method: method.into(),
                    path: format!("{}{}", fill(None), query_of(None)),
                    body: Some(probed.to_string()),
                    what: format!("body field {leaf} = {extreme}"),
                    strict: false,
                });
            }
        }
    }
    for p in params.iter().filter(|p| p["in"] == "query") {
        let name = p["name"].as_str().unwrap_or_default();
        let kind = match sample(doc, &p["schema"], 0) {
            Value::Number(n) if n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(s) if s.len() == 10 && s.as_bytes()[4] == b'-' => "date",
            _ => continue,
        };
        for extreme in extremes(kind) {
            let v = extreme
                .as_str()
                .map_or_else(|| extreme.to_string(), str::to_owned);
            out.push(Probe {
                method: method.into(),
                path: format!("{}{}", fill(None), query_of(Some((name, &v)))),
                body: base_text.clone(),
                what: format!("query parameter {name} = {v}"),
                strict: false,
            });
        }
    }
    if let Some(body) = &base_body {
        let mut leaves = Vec::new();
        strings(body, String::new(), &mut leaves);
        for leaf in leaves {
            let mut marked = body.clone();
            if let Some(Value::String(s)) = marked.pointer_mut(&leaf) {
                s.push_str(MARK);
            }
            let text = marked.to_string();
            for probe in BODY_PROBES {
                out.push(Probe {
                    method: method.into(),
                    path: format!("{}{}", fill(None), query_of(None)),
                    body: Some(text.replace(MARK, probe)),
                    what: format!("body field {leaf} with {probe}"),
                    strict: true,
                });
            }
        }
    }
    out
}

fn send(agent: &ureq::Agent, base: &str, p: &Probe, token: Option<&str>) -> Res {
    let mut req = ureq::http::Request::builder()
        .method(p.method.as_str())
        .uri(format!("{base}{}", p.path));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = match &p.body {
        Some(body) => {
            let req = req
                .header("content-type", "application/json")
                .body(body.clone().into_bytes())
                .expect("request");
            agent.run(req)
        }
        None => agent.run(req.body(()).expect("request")),
    };
    Res::from(res.unwrap_or_else(|e| panic!("{} {}: {e}", p.method, p.path)))
}

/// Whether an answer refuses the probe properly: a 4xx problem, or a batch answered item by
/// item with the probed item refused as `invalid_text`.
fn refused(r: &Res) -> bool {
    if (400..500).contains(&r.status) {
        return r
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/problem+json"))
            && r.body["status"] == r.status;
    }
    r.status == 200
        && r.body["results"].as_array().is_some_and(|items| {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| i["status"] == "rejected" && i["reason"] == "invalid_text")
        })
}

fn the_contract_admits_no_text_a_database_cannot_store(app: &TestApp) {
    // Every role, with a real object of each kind for the path parameters.
    let f = fleet(app);
    let code = sealed(app, &f.c.clinic_a, 40, 2.5);
    let run = plan(app, &f.dispatcher)["runs"][0]["id"]
        .as_str()
        .expect("run")
        .to_owned();
    let mut pickup = ev(&code, "collect", -20, Some(2.5));
    pickup["run_id"] = json!(run);
    assert_eq!(scan(app, &f.c.driver, &[pickup])[0]["status"], "accepted");
    let number = app
        .get(
            &format!("/api/v1/runs/{run}/manifests"),
            Some(&f.dispatcher),
        )
        .body["items"][0]["number"]
        .as_str()
        .expect("manifest")
        .to_owned();
    sealed(app, &f.c.clinic_b, 40, 1.0);
    let now = app.clock.now();
    let alert: String = app.with_conn(|conn| {
        yifei_api::oversight::alerts::evaluate(conn, now, &Default::default()).expect("alerts");
        use yifei_api::db::schema::alerts;
        alerts::table
            .select(alerts::id)
            .first(conn)
            .expect("an alert")
    });
    let bureau_org = app.org("health_bureau", "县卫生健康局", &[]);
    app.user("bureau1", Role::BureauStaff, Some(&bureau_org));
    app.with_conn(|conn| {
        use yifei_api::db::schema::institutions;
        diesel::update(institutions::table.find(&f.c.inst_b))
            .set(institutions::kind.eq("township_health_centre"))
            .execute(conn)
            .expect("a hub")
    });
    app.user("hub1", Role::HubKeeper, Some(&f.c.inst_b));
    let callers: Vec<(String, Option<String>)> = [
        ("admin", Some(f.c.admin.clone())),
        ("bureau", Some(app.login("bureau1").0)),
        ("dispatcher", Some(f.dispatcher.clone())),
        ("driver", Some(f.c.driver.clone())),
        ("plant", Some(f.c.plant.clone())),
        ("clinic", Some(f.c.clinic_a.clone())),
        ("hub keeper", Some(app.login("hub1").0)),
        ("anonymous", None),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_owned(), t))
    .collect();
    let known: BTreeMap<(&str, &str), String> = [
        (("institutions", "id"), f.c.inst_a.clone()),
        (("containers", "code"), code.clone()),
        (("runs", "id"), run.clone()),
        (("stops", "seq"), "1".to_owned()),
        (("vehicles", "id"), f.vehicle.clone()),
        (("manifests", "number"), number),
        (("alerts", "id"), alert),
    ]
    .into_iter()
    .collect();

    let doc = app.get("/api/v1/openapi.json", None).body.clone();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let (mut sent, mut failures) = (0, Vec::new());
    let mut swept = std::collections::BTreeSet::new();
    for (template, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            for p in probes(&doc, &method.to_uppercase(), template, op, &known) {
                swept.insert(format!("{} {template}", method.to_uppercase()));
                for (who, token) in &callers {
                    let r = send(&agent, &app.base, &p, token.as_deref());
                    sent += 1;
                    if (p.strict && !refused(&r)) || r.status >= 500 {
                        failures.push(format!(
                            "{} {} ({}) as {who}: {} {}",
                            p.method,
                            p.path,
                            p.what,
                            r.status,
                            r.text.chars().take(200).collect::<String>()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} probes not refused:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The sweep reached what it must: bodies, ids and filters.
    for op in [
        "POST /api/v1/scans",
        "POST /api/v1/auth/login",
        "GET /api/v1/institutions/{id}",
        "GET /api/v1/institutions",
        "POST /api/v1/runs/{id}/positions",
    ] {
        assert!(swept.contains(op), "{op} was not swept: {swept:?}");
    }
    assert!(sent > 3000, "only {sent} probes");
    // A NUL in an id names the parameter.
    app.get("/api/v1/institutions/%00", Some(&f.c.admin))
        .invalid_field("id");
    app.get("/api/v1/institutions?township=%00", Some(&f.c.admin))
        .invalid_field("township");
    // Nothing the sweep sent was stored: the manifest's container has its two events.
    let got = app.get(&format!("/api/v1/containers/{code}"), Some(&f.c.admin));
    assert_eq!(got.body["events"].as_array().map(Vec::len), Some(2));
}

/// Header values cannot carry a NUL: HTTP's parser refuses the request (400) before the
/// server reads any header as text.
fn nul_in_a_header_is_refused_by_http_itself(app: &TestApp) {
    use std::io::{Read, Write};
    let addr = app.base.trim_start_matches("http://");
    for header in [
        "Authorization: Bearer a\0b",
        "X-Forwarded-For: 10.0.0.1\0",
        "Content-Type: application/json\0",
    ] {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("timeout");
        let req = format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\n{header}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        s.write_all(req.as_bytes()).expect("write");
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        let status: u16 = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(
            (400..500).contains(&status),
            "{header:?} answered {answer:?}"
        );
    }
}
