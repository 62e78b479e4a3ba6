//! The `yifei` command line, run as a real process as an operator would.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::common::{Backend, TestApp, TestDb};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn yifei(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Out {
    yifei_with(db, args, stdin, &[])
}

fn yifei_with(db: &TestDb, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yifei-under-test"))
        .args(args)
        .envs(env.iter().copied())
        .env("YIFEI_DATABASE_URL", &db.url)
        .env("YIFEI_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn yifei");
    if let Some(input) = stdin {
        // The command may refuse and exit before reading: a broken pipe is fine then.
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes());
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("yifei ran");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn operator_commands(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    let help = yifei(&db, &["--help"], None);
    assert_eq!(help.code, 0);
    for cmd in ["serve", "migrate", "demo", "org", "user"] {
        assert!(help.stdout.contains(cmd), "{cmd} in {}", help.stdout);
    }
    assert_eq!(yifei(&db, &["migrate"], None).code, 0);

    let org = yifei(
        &db,
        &[
            "org",
            "create",
            "--kind",
            "health_bureau",
            "--name",
            "北片监管组",
            "--townships",
            "北山乡,石门镇",
        ],
        None,
    );
    assert_eq!(org.code, 0, "{}", org.stderr);
    let org_id = org.stdout.split_whitespace().last().expect("id").to_owned();
    assert_eq!(org_id.len(), 36, "{}", org.stdout);

    let user = yifei(
        &db,
        &[
            "user",
            "create",
            "--login",
            "North1",
            "--role",
            "bureau_staff",
            "--org",
            &org_id,
            "--email",
            "n@example.org",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    assert_eq!(user.code, 0, "{}", user.stderr);

    // Refusals explain themselves and change nothing.
    let bad = yifei(
        &db,
        &[
            "user",
            "create",
            "--login",
            "xx1",
            "--role",
            "pilot",
            "--password-stdin",
        ],
        Some("a long enough password"),
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("role"), "{}", bad.stderr);
    let short = yifei(
        &db,
        &[
            "user",
            "create",
            "--login",
            "xx2",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("short"),
    );
    assert!(
        short.code == 2 && short.stderr.contains("password"),
        "{}",
        short.stderr
    );
    let wrong_org = yifei(
        &db,
        &[
            "user",
            "create",
            "--login",
            "xx3",
            "--role",
            "driver",
            "--org",
            &org_id,
            "--password-stdin",
        ],
        Some("a long enough password"),
    );
    assert!(
        wrong_org.code == 2 && wrong_org.stderr.contains("disposal_company"),
        "{}",
        wrong_org.stderr
    );
    let dup = yifei(
        &db,
        &[
            "user",
            "create",
            "--login",
            "north1",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("a long enough password"),
    );
    assert!(
        dup.code == 2 && dup.stderr.contains("taken"),
        "{}",
        dup.stderr
    );
    let no_stdin_flag = yifei(
        &db,
        &["user", "create", "--login", "xx4", "--role", "admin"],
        None,
    );
    assert_ne!(no_stdin_flag.code, 0);

    // The demo loads only into an empty registry.
    let demo = yifei(&db, &["demo"], None);
    assert_eq!(demo.code, 0, "{}", demo.stderr);
    assert!(demo.stdout.contains("not loaded"), "{}", demo.stdout);

    // The account works through the API.
    let app = TestApp::start(TestDb::reuse(&db));
    let r = app.post(
        "/api/v1/auth/login",
        None,
        &json!({"login": "north1", "password": "a long enough password"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["org_id"], org_id.as_str());
    let me = app.get("/api/v1/me", Some(&r.str("access_token")));
    assert_eq!(me.body["townships"], json!(["北山乡", "石门镇"]));
    assert_eq!(me.body["email"], "n@example.org");
}

#[test]
fn operator_commands_sqlite() {
    operator_commands(Backend::Sqlite);
}

#[test]
fn operator_commands_postgres() {
    operator_commands(Backend::Postgres);
}

/// `yifei plan --horizon N` over the demo county: a week whose first day is runs and whose
/// later days are provisional, progress on stderr, and a horizon out of 1-7 refused before
/// anything is read.
fn plan_command(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        return;
    };
    for bad in ["0", "8", "-1"] {
        let out = yifei(&db, &["plan", &format!("--horizon={bad}")], None);
        assert_eq!(out.code, 2, "--horizon {bad}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("error: --horizon: must be 1 to 7 days, not {bad}")),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    let out = yifei(&db, &["plan", "--horizon", "seven"], None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--horizon"), "{}", out.stderr);
    assert_eq!(yifei(&db, &["demo"], None).code, 0);
    let iterations = [("YIFEI_PLAN_ITERATIONS", "300")];
    let out = yifei_with(&db, &["plan", "--horizon", "7"], None, &iterations);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for phase in [
        "reading the due stops and the fleet",
        "choosing the visit days of",
        "over 7 days (no database lock held)",
        "horizon chosen: ",
        "solving ",
        "solved: best ",
        "writing the runs",
    ] {
        assert!(out.stderr.contains(phase), "{phase}: {}", out.stderr);
    }
    let days: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("day "))
        .collect();
    assert_eq!(days.len(), 7, "{}", out.stdout);
    assert!(!days[0].contains("provisional"), "{}", out.stdout);
    assert!(
        days[1..].iter().all(|l| l.contains("(provisional)")),
        "{}",
        out.stdout
    );
    // One day, the default: no day lines, no horizon phase.
    let out = yifei_with(&db, &["plan"], None, &iterations);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stderr.contains("choosing the visit days"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("provisional"), "{}", out.stdout);
}

#[test]
fn plan_command_sqlite() {
    plan_command(Backend::Sqlite);
}

#[test]
fn plan_command_postgres() {
    plan_command(Backend::Postgres);
}

#[test]
fn demo_county_loads_and_signs_in() {
    let db = TestDb::create(Backend::Sqlite).expect("sqlite");
    let demo = yifei(&db, &["demo"], None);
    assert_eq!(demo.code, 0, "{}", demo.stderr);
    assert!(
        demo.stdout.contains(yifei_seed::DEMO_PASSWORD),
        "{}",
        demo.stdout
    );
    let app = TestApp::start(TestDb::reuse(&db));
    let login = |l: &str| {
        let r = app.post(
            "/api/v1/auth/login",
            None,
            &json!({"login": l, "password": yifei_seed::DEMO_PASSWORD}),
        );
        assert_eq!(r.status, 200, "{l}: {}", r.text);
        r.str("access_token")
    };
    let bureau = login("bureau");
    let pending = app.get("/api/v1/institutions?status=pending", Some(&bureau));
    assert_eq!(
        pending.body["items"].as_array().map(Vec::len),
        Some(3),
        "{}",
        pending.text
    );
    let room = login("room");
    let page = app.get("/api/v1/institutions", Some(&room));
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page.body["items"][0]["service_mode"], "via_hub");
    let hub = login("hub");
    let served = app.get("/api/v1/institutions?limit=200", Some(&hub));
    assert!(
        served.body["items"].as_array().map_or(0, Vec::len) > 1,
        "the hub sees its villages"
    );
}
