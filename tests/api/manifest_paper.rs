//! The manifest on paper: `Accept: application/pdf` answers the A4 联单 in Chinese. Its text is
//! read back with poppler's `pdftotext`, its fonts checked with `pdffonts` (embedded,
//! subset) and page 1 rendered with `pdftoppm`, so the test sees what a printer would get.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::both;
use crate::common::TestApp;
use crate::custody::{county, ev, scan};
use crate::runs::{fleet, plan, sealed};

both!(
    a_manifest_prints_as_a_pdf_in_chinese,
    labels_print_at_their_real_size,
    disposal_methods_come_from_a_list,
);

/// GET as raw bytes (the shared client reads bodies as text).
pub fn get_bytes(
    app: &TestApp,
    path: &str,
    token: &str,
    accept: Option<&str>,
) -> (u16, String, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .get(format!("{}{path}", app.base))
        .header("authorization", format!("Bearer {token}"));
    if let Some(a) = accept {
        r = r.header("accept", a);
    }
    let mut res = r.call().expect("GET");
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = res
        .body_mut()
        .with_config()
        .limit(10 * 1024 * 1024)
        .read_to_vec()
        .expect("body");
    (status, ct, body)
}

/// Runs a poppler tool; a missing tool fails the test with the package to install.
pub fn poppler(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("{tool} not runnable ({e}): install Debian's poppler-utils (apt-get install poppler-utils)")
    });
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn scratch_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("yifei-paper-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn a_manifest_prints_as_a_pdf_in_chinese(app: &TestApp) {
    // Arrange: two containers of A collected on a planned run; the plant weighs one in and
    // disposes of it, and refuses the other.
    let f = fleet(app);
    let one = sealed(app, &f.c.clinic_a, 40, 2.5);
    let two = sealed(app, &f.c.clinic_a, 39, 1.2);
    let p = plan(app, &f.dispatcher);
    let run_id = p["runs"][0]["id"].as_str().expect("run").to_owned();
    for (code, kg) in [(&one, 2.6), (&two, 1.2)] {
        let mut pickup = ev(code, "collect", -20, Some(kg));
        pickup["run_id"] = json!(run_id);
        assert_eq!(scan(app, &f.c.driver, &[pickup])[0]["status"], "accepted");
    }
    let list = app.get(
        &format!("/api/v1/runs/{run_id}/manifests"),
        Some(&f.dispatcher),
    );
    let number = list.body["items"][0]["number"]
        .as_str()
        .expect("number")
        .to_owned();
    let on_truck = app.get(&format!("/api/v1/manifests/{number}"), Some(&f.c.clinic_a));
    assert_eq!(on_truck.status, 200, "{}", on_truck.text);
    let digest_on_truck = on_truck.str("custody_digest");
    assert_eq!(digest_on_truck.len(), 64);
    assert_eq!(on_truck.body["shipper"]["licence_no"], "PDY-T-0001");
    let r = scan(
        app,
        &f.c.plant,
        &[
            ev(&one, "receive", -10, Some(2.55)),
            ev(&two, "reject", -9, None),
            ev(&one, "dispose", -5, None),
        ],
    );
    assert!(r.iter().all(|e| e["status"] == "accepted"), "{r:?}");

    // JSON stays the default, also for `*/*` and types the API does not serve (no 406).
    for accept in [
        None,
        Some("*/*"),
        Some("text/html"),
        Some("application/json, application/pdf;q=0.5"),
    ] {
        let (status, ct, _) = get_bytes(
            app,
            &format!("/api/v1/manifests/{number}"),
            &f.c.clinic_a,
            accept,
        );
        assert_eq!(status, 200);
        assert!(ct.starts_with("application/json"), "{accept:?}: {ct}");
    }
    let m = app.get(&format!("/api/v1/manifests/{number}"), Some(&f.c.clinic_a));
    let digest = m.str("custody_digest");
    assert_ne!(
        digest, digest_on_truck,
        "the digest follows the custody chains"
    );

    // Act: the PDF, by content negotiation and by its own path.
    let (status, ct, pdf) = get_bytes(
        app,
        &format!("/api/v1/manifests/{number}"),
        &f.c.clinic_a,
        Some("application/pdf"),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(ct, "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    // The font is subset: the embedded one is 1.5 MB, the document a few tens of KB.
    assert!(pdf.len() < 150_000, "{} bytes", pdf.len());
    let (status, ct, by_path) = get_bytes(
        app,
        &format!("/api/v1/manifests/{}.pdf", number.to_lowercase()),
        &f.dispatcher,
        None,
    );
    assert_eq!((status, ct.as_str()), (200, "application/pdf"));
    assert!(by_path.starts_with(b"%PDF-"));

    // Assert: what a reader of the paper sees.
    let dir = scratch_dir();
    let file = dir.join("manifest.pdf");
    std::fs::write(&file, &pdf).expect("write pdf");
    if let Ok(out) = std::env::var("YIFEI_PAPER_OUT") {
        let _ = std::fs::copy(&file, Path::new(&out).join(format!("{number}.pdf")));
    }
    let path = file.to_str().expect("path");
    let text = poppler("pdftotext", &["-layout", path, "-"]);
    for want in [
        "医疗废物转移联单",
        number.as_str(),
        "测试村卫生室 1",
        "PDY-T-0001",
        "处置公司",
        "鲁J·A1234",
        "driver1",
        one.as_str(),
        two.as_str(),
        "感染性废物",
        "2.50",
        "2.60",
        "2.55",
        "-0.05",
        "拒收 1 件，未到 0 件",
        "差 -0.05 kg",
        "包装袋",
        "leaking",
        "焚烧",
        "plant1",
        &digest[..16],
    ] {
        assert!(
            text.contains(want),
            "{want:?} not in the PDF's text:\n{text}"
        );
    }
    // Times print in the deployment's zone: the collect at 00:10 UTC is 08:10 local.
    assert!(text.contains("2026-03-02 08:10"), "{text}");
    let fonts = poppler("pdffonts", &[path]);
    let font_line = fonts
        .lines()
        .find(|l| l.contains("NotoSansCJKsc"))
        .unwrap_or_else(|| panic!("no CJK font:\n{fonts}"));
    let cols: Vec<&str> = font_line.split_whitespace().collect();
    // name, type..., encoding, emb, sub, uni, object id
    let n = cols.len();
    assert_eq!(
        (cols[n - 5], cols[n - 4], cols[n - 3]),
        ("yes", "yes", "yes"),
        "embedded, subset, with a text map:\n{fonts}"
    );
    assert_eq!(fonts.lines().count(), 3, "one font only:\n{fonts}");
    let info = poppler("pdfinfo", &[path]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Page size:") && l.contains("595.28 x 841.89")),
        "A4:\n{info}"
    );
    poppler(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            path,
            dir.join("page").to_str().expect("p"),
        ],
    );
    let png = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().ends_with(".png"))
        .expect("page 1 rendered");
    assert!(png.metadata().expect("png").len() > 5_000);

    // Tenants: another clinic gets 404 as for the JSON, whichever way it asks.
    let (status, ct, _) = get_bytes(
        app,
        &format!("/api/v1/manifests/{number}"),
        &f.c.clinic_b,
        Some("application/pdf"),
    );
    assert_eq!((status, ct.as_str()), (404, "application/problem+json"));
    let (status, _, _) = get_bytes(
        app,
        &format!("/api/v1/manifests/{number}.pdf"),
        &f.c.clinic_b,
        None,
    );
    assert_eq!(status, 404);
    let (status, _, _) = get_bytes(app, "/api/v1/manifests/NOPE.pdf", &f.c.admin, None);
    assert_eq!(status, 404);
    app.get(&format!("/api/v1/manifests/{number}.pdf"), None)
        .problem(401);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `pdfinfo`'s page count and first page size.
fn pages_and_size(path: &str) -> (usize, String) {
    let info = poppler("pdfinfo", &[path]);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name} in\n{info}"))
    };
    (field("Pages:").parse().expect("pages"), field("Page size:"))
}

fn labels_print_at_their_real_size(app: &TestApp) {
    let c = county(app);
    let r = app.post(
        "/api/v1/containers/batch",
        Some(&c.clinic_a),
        &json!({"count": 9, "category": "sharps", "packaging": "sharps_box"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let codes: Vec<String> = r.body["containers"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["code"].as_str().map(str::to_owned))
        .collect();
    let list = codes.join(",");
    let dir = scratch_dir();

    // Nine labels on A4: eight to a page, so two pages; every code and the producer read back.
    let (status, ct, pdf) = get_bytes(
        app,
        &format!("/api/v1/containers/labels.pdf?codes={list}"),
        &c.clinic_a,
        None,
    );
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/pdf"),
        "{}",
        String::from_utf8_lossy(&pdf)
    );
    let a4 = dir.join("a4.pdf");
    std::fs::write(&a4, &pdf).expect("write");
    if let Ok(out) = std::env::var("YIFEI_PAPER_OUT") {
        let _ = std::fs::copy(&a4, Path::new(&out).join("labels-a4.pdf"));
    }
    let a4 = a4.to_str().expect("path");
    assert_eq!(
        pages_and_size(a4),
        (2, "595.28 x 841.89 pts (A4)".to_owned())
    );
    let text = poppler("pdftotext", &[a4, "-"]);
    for code in &codes {
        let shown: Vec<String> = code
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        assert!(text.contains(&shown.join("-")), "{code} not in:\n{text}");
    }
    for want in [
        "医疗废物",
        "测试村卫生室 1",
        "损伤性废物",
        "利器盒",
        "841-002-01",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    assert!(poppler("pdffonts", &[a4]).contains("yes yes yes"));
    assert!(pdf.len() < 150_000, "{} bytes", pdf.len());

    // One to a 100 x 70 mm page for a roll printer; and a single label.
    let (status, _, pdf) = get_bytes(
        app,
        &format!("/api/v1/containers/labels.pdf?codes={list}&sheet=label"),
        &c.clinic_a,
        None,
    );
    assert_eq!(status, 200);
    let roll = dir.join("roll.pdf");
    std::fs::write(&roll, &pdf).expect("write");
    let (pages, size) = pages_and_size(roll.to_str().expect("path"));
    assert_eq!(pages, 9);
    let dims: Vec<f64> = size
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let mm = |pt: f64| pt * 25.4 / 72.0;
    assert!(
        (mm(dims[0]) - 100.0).abs() < 0.01 && (mm(dims[1]) - 70.0).abs() < 0.01,
        "100 x 70 mm: {size}"
    );
    let (status, ct, one) = get_bytes(
        app,
        &format!("/api/v1/containers/{}/label.pdf", codes[0]),
        &c.clinic_a,
        None,
    );
    assert_eq!((status, ct.as_str()), (200, "application/pdf"));
    let single = dir.join("one.pdf");
    std::fs::write(&single, &one).expect("write");
    assert_eq!(pages_and_size(single.to_str().expect("path")).0, 1);

    // Another clinic's code is not found, whichever way; bad parameters are 422s.
    let (status, ct, _) = get_bytes(
        app,
        &format!("/api/v1/containers/labels.pdf?codes={list}"),
        &c.clinic_b,
        None,
    );
    assert_eq!((status, ct.as_str()), (404, "application/problem+json"));
    let (status, _, _) = get_bytes(
        app,
        &format!("/api/v1/containers/{}/label.pdf", codes[0]),
        &c.clinic_b,
        None,
    );
    assert_eq!(status, 404);
    app.get("/api/v1/containers/labels.pdf?codes=,,", Some(&c.clinic_a))
        .invalid_field("codes");
    app.get(
        &format!("/api/v1/containers/labels.pdf?codes={}&sheet=a3", codes[0]),
        Some(&c.clinic_a),
    )
    .invalid_field("sheet");
    let too_many: Vec<String> = (0..501).map(|i| format!("C{i}")).collect();
    app.get(
        &format!("/api/v1/containers/labels.pdf?codes={}", too_many.join(",")),
        Some(&c.clinic_a),
    )
    .invalid_field("codes");
    app.get("/api/v1/containers/labels.pdf", Some(&c.clinic_a))
        .problem(422);
    app.get("/api/v1/containers/labels.pdf?codes=X", None)
        .problem(401);
    let _ = std::fs::remove_dir_all(&dir);
}

fn disposal_methods_come_from_a_list(app: &TestApp) {
    let c = county(app);
    let code = crate::runs::sealed(app, &c.clinic_a, 30, 2.0);
    let r = scan(app, &c.plant, &[ev(&code, "receive", -60, Some(2.0))]);
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
    let dispose = |method: &str, minutes: i64| {
        let mut e = ev(&code, "dispose", minutes, None);
        e["method"] = json!(method);
        e
    };
    // Not in the list, or "other" without saying what: refused per event, nothing stored.
    let r = scan(
        app,
        &c.plant,
        &[
            dispose("burning", -50),
            dispose("other:  ", -49),
            dispose("other", -48),
        ],
    );
    for e in &r {
        assert_eq!(
            (e["status"].as_str(), e["reason"].as_str()),
            (Some("rejected"), Some("unknown_method")),
            "{r:?}"
        );
    }
    let state = app.get(&format!("/api/v1/containers/{code}"), Some(&c.plant));
    assert_eq!(state.body["state"], "received", "{}", state.text);
    // `other: <text>` says what it was.
    let r = scan(app, &c.plant, &[dispose("other: 等离子体气化", -40)]);
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
    let state = app.get(&format!("/api/v1/containers/{code}"), Some(&c.plant));
    assert_eq!(state.body["state"], "disposed");
    let _ = c.admin;
}
