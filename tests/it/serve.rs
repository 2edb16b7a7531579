//! `bmu serve` (the live plan editor) and its CLI counterpart `bmu validate --assignment`.

use super::{assert_error, bmu};
use serde_json::Value;
use std::path::Path;

/// A copy of the demo study area in a temp dir (serve and propose write under its `out/`).
fn demo_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    crate::copy_demo_files(dir.path());
    dir
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// propose's blocks layer as an assignment table.
pub(crate) fn assignment_of(blocks: &Path) -> String {
    let mut csv = String::from("block_id,unit_id\n");
    for f in json(blocks)["features"].as_array().unwrap() {
        let p = &f["properties"];
        csv += &format!(
            "{},{}\n",
            p["block_id"].as_str().unwrap(),
            p["unit_id"].as_str().unwrap_or("")
        );
    }
    csv
}

#[test]
fn validate_assignment_of_proposes_plan_gives_proposes_results() {
    let dir = demo_copy();
    let out = bmu(&["propose", "."], dir.path());
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = dir.path().join("plan.csv");
    std::fs::write(&table, assignment_of(&dir.path().join("out/blocks.geojson"))).unwrap();
    let out = bmu(
        &["validate", ".", "--assignment", "plan.csv", "--report", "va.json"],
        dir.path(),
    );
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (va, proposed) = (
        json(&dir.path().join("va.json")),
        json(&dir.path().join("out/report.json")),
    );
    assert_eq!(va["units"], proposed["units"]);
    assert_eq!(va["summary"], proposed["summary"]);
}

#[test]
fn validate_assignment_with_an_unknown_block_is_refused_naming_it() {
    let dir = demo_copy();
    // B001 exists in the demo's derived blocks; the second row does not.
    std::fs::write(
        dir.path().join("plan.csv"),
        "block_id,unit_id\nB001,U01\nB999,U01\n",
    )
    .unwrap();
    let out = bmu(&["validate", ".", "--assignment", "plan.csv"], dir.path());
    assert_error(&out, &["plan.csv", "feature 2 (id B999)", "no such block"]);
}

#[test]
fn validate_with_both_units_and_assignment_is_refused() {
    let dir = demo_copy();
    let out = bmu(
        &[
            "validate",
            ".",
            "--assignment",
            "plan.csv",
            "--units",
            "u.geojson",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
}

/// A running `bmu serve` on a free port, killed when dropped (a failing test leaves no server behind).
pub(crate) struct Server {
    child: std::process::Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl Server {
    pub(crate) fn start(extra: &[&str]) -> Server {
        Server::start_in(demo_copy(), extra)
    }

    /// A server over a study area prepared by the test.
    pub(crate) fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bmu"))
            .args(["serve", ".", "--port", "0"])
            .args(extra)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("http://")
            .and_then(|a| a.strip_suffix('/'))
            .unwrap_or_else(|| panic!("first stdout line is not the URL: {line:?}"))
            .to_string();
        Server { child, addr, dir }
    }

    /// One request with the right Host header.
    pub(crate) fn call(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let (status, text) = self.raw(method, path, &self.addr, body.as_bytes());
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// One HTTP/1.1 request over a plain socket. Hand-written rather than a client crate because the tests must
    /// forge what clients normalise: a foreign Host header, garbage bodies.
    fn raw(&self, method: &str, path: &str, host: &str, body: &[u8]) -> (u16, String) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        // The server may answer (413) before reading a large body, and close: a failed write is not the test's point.
        let _ = s.write_all(body);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    pub(crate) fn plan(&self) -> Value {
        let (status, plan) = self.call("GET", "/api/plan", "");
        assert_eq!(status, 200);
        plan
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The units as validate reports them: without the page's own fields.
fn checked_units(plan: &Value) -> Vec<Value> {
    plan["units"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["checks"].as_object().is_some_and(|c| !c.is_empty()))
        .map(|u| {
            let mut u = u.clone();
            let o = u.as_object_mut().unwrap();
            o.remove("locked");
            o.remove("colour");
            u
        })
        .collect()
}

/// A block of U01 that borders U02 is not needed: any block of U01 moved to U02 changes both units' results.
fn first_block_of(plan: &Value, unit: &str) -> String {
    plan["blocks"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["unit_id"] == unit)
        .map(|f| f["properties"]["block_id"].as_str().unwrap().to_string())
        .unwrap()
}

#[test]
fn serve_moves_a_block_and_undo_redo_follow_the_history() {
    let server = Server::start(&[]);
    let start = server.plan();
    let block = first_block_of(&start, "U01");
    let (status, change) = server.call(
        "POST",
        "/api/assign",
        &format!(r#"{{"moves": [{{"block_id": "{block}", "unit_id": "U02"}}]}}"#),
    );
    assert_eq!(status, 200, "{change}");
    let changed: Vec<&str> = change["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["unit_id"].as_str().unwrap())
        .collect();
    assert!(
        changed.contains(&"U01") && changed.contains(&"U02"),
        "{changed:?}"
    );
    let moved = server.plan();
    assert_ne!(checked_units(&moved), checked_units(&start));
    assert_eq!(server.call("POST", "/api/undo", "").0, 200);
    assert_eq!(checked_units(&server.plan()), checked_units(&start));
    assert_eq!(server.call("POST", "/api/redo", "").0, 200);
    assert_eq!(checked_units(&server.plan()), checked_units(&moved));
    assert_eq!(
        server.call("POST", "/api/redo", "").0,
        400,
        "nothing left to redo"
    );
}

#[test]
fn serve_refuses_unknown_blocks_units_and_malformed_json_with_400_and_no_change() {
    let server = Server::start(&[]);
    let start = server.plan();
    let block = first_block_of(&start, "U01");
    for body in [
        r#"{"moves": [{"block_id": "NOPE", "unit_id": "U02"}]}"#.to_string(),
        format!(r#"{{"moves": [{{"block_id": "{block}", "unit_id": "U99"}}]}}"#),
        format!(
            r#"{{"moves": [{{"block_id": "{block}", "unit_id": "U02"}}, {{"block_id": "NOPE", "unit_id": "U02"}}]}}"#
        ),
        "{not json".to_string(),
        r#"{"moves": 3}"#.to_string(),
    ] {
        let (status, answer) = server.call("POST", "/api/assign", &body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    assert_eq!(
        server
            .call("POST", "/api/lock", r#"{"unit_id": "U99", "locked": true}"#)
            .0,
        400
    );
    assert_eq!(server.call("GET", "/api/export?format=shp", "").0, 400);
    let after = server.plan();
    assert_eq!(checked_units(&after), checked_units(&start));
    assert_eq!(after["history"]["undo"], 0);
}

#[test]
fn serve_refuses_a_foreign_host_header_and_oversized_bodies() {
    let server = Server::start(&[]);
    let (status, _) = server.raw("GET", "/api/plan", "attacker.example:80", b"");
    assert_eq!(status, 403);
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    assert_eq!(
        server
            .raw(
                "GET",
                "/api/summary-does-not-exist",
                &format!("localhost:{port}"),
                b""
            )
            .0,
        404
    );
    assert_eq!(server.raw("GET", "/../Cargo.toml", &server.addr, b"").0, 404);
    let big = vec![b' '; 2 << 20];
    assert_eq!(server.raw("POST", "/api/assign", &server.addr, &big).0, 413);
}

#[test]
fn serve_survives_a_burst_of_1000_requests_and_garbage_bodies() {
    let server = Server::start(&[]);
    let start = checked_units(&server.plan());
    std::thread::scope(|s| {
        for t in 0..4 {
            let server = &server;
            s.spawn(move || {
                for i in 0..250 {
                    let (status, _) = match (t + i) % 3 {
                        0 => server.raw(
                            "POST",
                            "/api/assign",
                            &server.addr,
                            &[0xff, 0x00, b'{', (i % 256) as u8],
                        ),
                        1 => server.raw("POST", "/api/lock", &server.addr, b"[]"),
                        _ => server.raw("GET", "/api/export?format=csv", &server.addr, b""),
                    };
                    assert!(status == 200 || status == 400, "status {status}");
                }
            });
        }
    });
    assert_eq!(checked_units(&server.plan()), start);
}

#[test]
fn serve_save_then_validate_assignment_gives_the_results_the_page_showed() {
    let server = Server::start(&[]);
    let block = first_block_of(&server.plan(), "U01");
    let body = format!(r#"{{"moves": [{{"block_id": "{block}", "unit_id": "U02"}}]}}"#);
    assert_eq!(server.call("POST", "/api/assign", &body).0, 200);
    let shown = checked_units(&server.plan());
    let report = save_and_validate(&server);
    assert_eq!(report["units"], Value::Array(shown));
    // The inputs are untouched: only out/ gained files.
    assert!(server.dir.path().join("out/plan.units.geojson").is_file());
}

/// Saves the plan through the API, then runs `bmu validate --assignment` on the saved CSV; its report.
fn save_and_validate(server: &Server) -> Value {
    let (status, saved) = server.call("POST", "/api/save", "");
    assert_eq!(status, 200, "{saved}");
    let dir = server.dir.path();
    let out = bmu(
        &[
            "validate",
            ".",
            "--assignment",
            "out/plan.csv",
            "--report",
            "va.json",
        ],
        dir,
    );
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&dir.join("va.json"))
}

/// The editor reads the partition check from the block assignment while every block is in a unit; a block left in
/// no unit opens a gap, measured by the overlay: after moves that do both, saving and `validate --assignment` still
/// give the results the page showed, gap included.
#[test]
fn serve_a_block_left_in_no_unit_is_a_gap_as_validate_assignment_finds_it() {
    let server = Server::start(&[]);
    let moved = first_block_of(&server.plan(), "U01");
    let body = format!(r#"{{"moves": [{{"block_id": "{moved}", "unit_id": "U02"}}]}}"#);
    assert_eq!(server.call("POST", "/api/assign", &body).0, 200);
    let left = first_block_of(&server.plan(), "U03");
    let body = format!(r#"{{"moves": [{{"block_id": "{left}", "unit_id": null}}]}}"#);
    assert_eq!(server.call("POST", "/api/assign", &body).0, 200);
    let shown = checked_units(&server.plan());
    assert!(
        shown.iter().any(|u| u["checks"]["partition"]["pass"] == false),
        "no unit borders the gap: {shown:?}"
    );
    let report = save_and_validate(&server);
    assert_eq!(report["units"], Value::Array(shown));
    assert!(report["summary"]["problems"]["gap"].as_u64().unwrap() > 0);
}

#[test]
fn serve_reopens_a_saved_plan_and_sigterm_saves_it() {
    let first = Server::start(&[]);
    let block = first_block_of(&first.plan(), "U01");
    let body = format!(r#"{{"moves": [{{"block_id": "{block}", "unit_id": "U02"}}]}}"#);
    assert_eq!(first.call("POST", "/api/assign", &body).0, 200);
    let shown = checked_units(&first.plan());
    let status = std::process::Command::new("kill")
        .args(["-TERM", &first.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut first = first;
    assert!(first.child.wait().unwrap().success());
    let saved = first.dir.path().join("out/plan.csv");
    assert!(saved.is_file(), "SIGTERM saved nothing");
    let copy = tempfile::tempdir().unwrap();
    let table = copy.path().join("plan.csv");
    std::fs::copy(&saved, &table).unwrap();
    let again = Server::start(&["--assignment", table.to_str().unwrap()]);
    assert_eq!(checked_units(&again.plan()), shown);
}

/// A headless Chromium driven over the DevTools protocol: one websocket to the browser, one page session.
struct Browser {
    child: std::process::Child,
    socket: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    session: String,
    next: u64,
    /// Console errors and uncaught exceptions seen so far.
    errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(chromium: &Path) -> Browser {
        use std::io::BufRead;
        let profile = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(chromium)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--use-angle=swiftshader",
            ])
            .args([
                "--enable-unsafe-swiftshader",
                "--window-size=1200,800",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut url = None;
        for line in stderr.lines() {
            let line = line.unwrap();
            if let Some(u) = line.strip_prefix("DevTools listening on ") {
                url = Some(u.trim().to_string());
                break;
            }
        }
        let url = url.expect("Chromium printed its DevTools URL");
        let (socket, _) = tungstenite::connect(url.as_str()).unwrap();
        let mut b = Browser {
            child,
            socket,
            session: String::new(),
            next: 0,
            errors: Vec::new(),
            _profile: profile,
        };
        let target = b.send(
            None,
            "Target.createTarget",
            serde_json::json!({"url": "about:blank"}),
        );
        let id = target["targetId"].as_str().unwrap().to_string();
        let attached = b.send(
            None,
            "Target.attachToTarget",
            serde_json::json!({"targetId": id, "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            b.call(domain, serde_json::json!({}));
        }
        b
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
    }

    /// Sends a command and waits for its answer, noting console errors and exceptions that arrive meanwhile.
    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = serde_json::json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = Value::String(s.to_string());
        }
        self.socket
            .send(tungstenite::Message::text(msg.to_string()))
            .unwrap();
        loop {
            let m = self.socket.read().unwrap();
            let Ok(text) = m.to_text() else { continue };
            let Ok(v) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            match v["method"].as_str() {
                Some("Runtime.exceptionThrown") => {
                    self.errors.push(v["params"]["exceptionDetails"].to_string())
                }
                Some("Runtime.consoleAPICalled") if v["params"]["type"] == "error" => {
                    self.errors.push(v["params"]["args"].to_string())
                }
                Some("Log.entryAdded") if v["params"]["entry"]["level"] == "error" => {
                    self.errors.push(v["params"]["entry"].to_string())
                }
                _ => {}
            }
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluates an expression in the page (promises awaited) and returns its value.
    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            serde_json::json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        r["result"]["value"].clone()
    }

    /// Polls an expression until it is true.
    fn wait_for(&mut self, expression: &str) {
        for _ in 0..300 {
            if self.eval(expression) == Value::Bool(true) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("timed out waiting for {expression}; errors: {:?}", self.errors);
    }

    fn click(&mut self, x: f64, y: f64) {
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                serde_json::json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_page_in_chromium_moves_a_block_on_click_and_undo_restores_it() {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.is_file() {
        super::skip("/usr/bin/chromium is absent");
        return;
    }
    let server = Server::start(&["--lang", "en"]);
    let mut b = Browser::start(chromium);
    b.call(
        "Page.navigate",
        serde_json::json!({"url": format!("http://{}/", server.addr)}),
    );
    b.wait_for("document.body && document.body.dataset.ready === '1' && map.loaded()");
    let table_before = b.eval("document.getElementById('table').innerText");
    // Road names from the layer's `name` field are on the map as HTML labels (no glyphs are fetched): one per name.
    let labels = b.eval("[...document.querySelectorAll('.feature-label')].map(e => e.textContent)");
    let labels: Vec<&str> = labels
        .as_array()
        .expect("labels")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(labels.contains(&"曹安公路"), "{labels:?}");
    assert_eq!(
        labels.len(),
        labels.iter().collect::<std::collections::BTreeSet<_>>().len(),
        "one label per name: {labels:?}"
    );
    // Select U02 in the table, then find a pixel of a U01 block on the map.
    b.eval("document.querySelector('tr[data-unit=\"U02\"]').click(); true");
    let target = b.eval(
        "(() => { const c = map.getCanvas(); for (let y = 10; y < c.clientHeight; y += 8) for (let x = 10; x < c.clientWidth; x += 8) { \
           const f = map.queryRenderedFeatures([x, y], {layers: ['blocks']}); \
           if (f.length && f[0].properties.unit_id === 'U01') return [x, y, f[0].properties.block_id]; } return null; })()",
    );
    let (x, y, block) = (
        target[0].as_f64().expect("a U01 block on screen"),
        target[1].as_f64().unwrap(),
        target[2].as_str().unwrap().to_string(),
    );
    let unit_of =
        format!("plan.blocks.features.find(f => f.properties.block_id === '{block}').properties.unit_id");
    b.click(x, y);
    b.wait_for(&format!("{unit_of} === 'U02'"));
    let table_moved = b.eval("document.getElementById('table').innerText");
    assert_ne!(table_moved, table_before, "the table did not change");
    // Ctrl+Z undoes.
    for kind in ["keyDown", "keyUp"] {
        b.call(
            "Input.dispatchKeyEvent",
            serde_json::json!({"type": kind, "key": "z", "code": "KeyZ", "windowsVirtualKeyCode": 90, "modifiers": 2}),
        );
    }
    b.wait_for(&format!("{unit_of} === 'U01'"));
    assert_eq!(b.eval("document.getElementById('table').innerText"), table_before);
    let shot = b.call("Page.captureScreenshot", serde_json::json!({"format": "png"}));
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(&bytes))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    reader.next_frame(&mut pixels).unwrap();
    let distinct: std::collections::BTreeSet<&[u8]> = pixels.chunks(4).take(200_000).collect();
    assert!(
        distinct.len() > 20,
        "screenshot looks blank: {} colours",
        distinct.len()
    );
    // The README's screenshot is rewritten only on request, so a test run never edits the source tree.
    if std::env::var("BMU_SCREENSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(super::root().join("data/screenshots/serve.png"), &bytes).unwrap();
    }
    // Names show from zoom 12 on and hide below it.
    let shown = "getComputedStyle(document.querySelector('.feature-label')).display !== 'none'";
    assert_eq!(
        b.eval(&format!("map.jumpTo({{zoom: 13}}); {shown}")),
        Value::Bool(true)
    );
    assert_eq!(
        b.eval(&format!("map.jumpTo({{zoom: 10}}); {shown}")),
        Value::Bool(false)
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// Each unit's blocks in a plan answer.
fn members(plan: &Value) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for f in plan["blocks"]["features"].as_array().unwrap() {
        let p = &f["properties"];
        if let Some(u) = p["unit_id"].as_str() {
            m.entry(u.to_string())
                .or_default()
                .push(p["block_id"].as_str().unwrap().to_string());
        }
    }
    m
}

#[test]
fn serve_reoptimise_keeps_locked_units_and_is_one_undoable_step() {
    let server = Server::start(&[]);
    // Edit the plan first: a block of U02 moved into U01, then U01 locked, so it must keep that block.
    let start = server.plan();
    let before = members(&start);
    let u02 = &before["U02"];
    let moves: Vec<String> = u02
        .iter()
        .take(1)
        .map(|b| format!(r#"{{"block_id": "{b}", "unit_id": "U01"}}"#))
        .collect();
    let body = format!(r#"{{"moves": [{}]}}"#, moves.join(","));
    assert_eq!(server.call("POST", "/api/assign", &body).0, 200);
    let edited = server.plan();
    let locked_blocks = members(&edited)["U01"].clone();
    let (status, answer) = server.call("POST", "/api/lock", r#"{"unit_id": "U01", "locked": true}"#);
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = server.call("POST", "/api/reoptimise", "");
    assert_eq!(status, 200, "{answer}");
    let after = server.plan();
    assert_eq!(
        members(&after)["U01"],
        locked_blocks,
        "the locked unit kept exactly its blocks"
    );
    assert_eq!(
        after["history"]["undo"], 2,
        "re-optimising is one step: {}",
        after["history"]
    );
    assert!(
        after["units"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["unit_id"] == "U01" && u["locked"] == true),
        "U01 still locked"
    );
    assert_eq!(server.call("POST", "/api/undo", "").0, 200);
    assert_eq!(
        members(&server.plan()),
        members(&edited),
        "one undo restores the plan"
    );
}

#[test]
fn serve_dossier_and_outlines_describe_the_current_plan() {
    let server = Server::start(&["--lang", "en"]);
    let plan = server.plan();
    let (status, page) = server.call("GET", "/api/dossier", "");
    assert_eq!(status, 200);
    let page = page.as_str().unwrap_or_default().to_string();
    assert!(
        page.starts_with("<!DOCTYPE html>"),
        "{}",
        &page[..page.len().min(200)]
    );
    let some_unit = members(&plan).into_keys().next().unwrap();
    assert!(page.contains(&some_unit), "the dossier names the plan's units");
    let (status, o) = server.call("GET", "/api/outlines", "");
    assert_eq!(status, 200, "{o}");
    let outlines = o["units"]["features"].as_array().unwrap();
    assert_eq!(
        outlines.len(),
        members(&plan).len(),
        "one outline per unit holding blocks"
    );
    assert!(outlines
        .iter()
        .all(|f| f["geometry"]["type"] == "MultiLineString"));
    assert!(o["problems"]["features"].is_array());
}

/// The plan exported as `block_id,unit_id` CSV, byte for byte.
fn export_csv(server: &Server) -> String {
    let (status, csv) = server.call("GET", "/api/export?format=csv", "");
    assert_eq!(status, 200);
    csv.as_str().unwrap().to_string()
}

fn differing(server: &Server, k: usize) -> Vec<String> {
    let (status, c) = server.call("GET", &format!("/api/compare?candidate={k}"), "");
    assert_eq!(status, 200, "{c}");
    c["differing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_string())
        .collect()
}

/// Started from propose, the plan is candidate 0: relabelled to the plan's ids it differs in no block (the
/// candidates list and the comparison agree), and every unit's verdicts are the same on both sides.
#[test]
fn serve_candidate_0_of_the_propose_run_it_started_from_differs_in_no_block() {
    let server = Server::start(&[]);
    let (status, list) = server.call("GET", "/api/candidates", "");
    assert_eq!(status, 200, "{list}");
    let rows = list["candidates"].as_array().unwrap();
    assert!(rows.len() >= 2, "serve asks propose for 3 candidates: {list}");
    assert_eq!(rows[0]["differing"], 0, "{list}");
    assert!(rows[0]["label"].as_str().unwrap().contains("排名 1"));
    assert_eq!(differing(&server, 0), Vec::<String>::new());
    let (_, c) = server.call("GET", "/api/compare?candidate=0", "");
    for u in c["units"].as_array().unwrap() {
        assert_eq!(u["current"], u["candidate"], "{u}");
    }
    assert_eq!(
        c["outlines"]["features"].as_array().unwrap().len(),
        members(&server.plan()).len()
    );
}

#[test]
fn serve_compare_after_one_move_lists_exactly_the_moved_block() {
    let server = Server::start(&[]);
    let block = first_block_of(&server.plan(), "U01");
    let body = format!(r#"{{"moves": [{{"block_id": "{block}", "unit_id": "U02"}}]}}"#);
    assert_eq!(server.call("POST", "/api/assign", &body).0, 200);
    assert_eq!(differing(&server, 0), vec![block.clone()]);
    let (_, c) = server.call("GET", "/api/compare?candidate=0", "");
    let row = c["assignment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["block_id"] == block.as_str())
        .cloned()
        .unwrap();
    assert_eq!(row["unit_id"], "U01", "the candidate keeps the block in U01");
    let (_, list) = server.call("GET", "/api/candidates", "");
    assert_eq!(list["candidates"][0]["differing"], 1);
}

#[test]
fn serve_adopt_a_candidate_then_undo_restores_the_plan_byte_for_byte() {
    let server = Server::start(&[]);
    let block = first_block_of(&server.plan(), "U01");
    let body = format!(r#"{{"moves": [{{"block_id": "{block}", "unit_id": "U02"}}]}}"#);
    assert_eq!(server.call("POST", "/api/assign", &body).0, 200);
    let before = export_csv(&server);
    let (_, list) = server.call("GET", "/api/candidates", "");
    let last = list["candidates"].as_array().unwrap().len() - 1;
    let expected = differing(&server, last).len();
    assert!(expected > 0);
    let (status, change) = server.call("POST", "/api/adopt", &format!(r#"{{"candidate": {last}}}"#));
    assert_eq!(status, 200, "{change}");
    assert!(
        differing(&server, last).is_empty(),
        "the plan is now the candidate"
    );
    assert_ne!(export_csv(&server), before);
    assert_eq!(server.plan()["history"]["undo"], 2, "adopting is one step");
    assert_eq!(server.call("POST", "/api/undo", "").0, 200);
    assert_eq!(export_csv(&server), before);
    assert_eq!(differing(&server, last).len(), expected);
}

#[test]
fn serve_unknown_candidate_is_refused_with_400_and_nothing_changes() {
    let server = Server::start(&[]);
    let before = export_csv(&server);
    for path in [
        "/api/compare?candidate=99",
        "/api/compare?candidate=x",
        "/api/compare",
    ] {
        let (status, answer) = server.call("GET", path, "");
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    for body in [r#"{"candidate": 99}"#, r#"{"candidate": -1}"#, "{nope"] {
        let (status, answer) = server.call("POST", "/api/adopt", body);
        assert_eq!(status, 400, "{body}: {answer}");
    }
    assert_eq!(export_csv(&server), before);
    assert_eq!(server.plan()["history"]["undo"], 0);
}

/// Adopting a candidate that would change a locked unit is refused naming the unit; one that keeps the locked unit's
/// blocks exactly is adopted.
#[test]
fn serve_adopt_is_refused_when_the_candidate_changes_a_locked_unit() {
    let server = Server::start(&[]);
    let block = first_block_of(&server.plan(), "U01");
    let body = format!(r#"{{"moves": [{{"block_id": "{block}", "unit_id": "U02"}}]}}"#);
    assert_eq!(server.call("POST", "/api/assign", &body).0, 200);
    let before = export_csv(&server);
    let lock = |unit: &str, on: bool| {
        let body = format!(r#"{{"unit_id": "{unit}", "locked": {on}}}"#);
        assert_eq!(server.call("POST", "/api/lock", &body).0, 200);
    };
    lock("U02", true);
    let (status, answer) = server.call("POST", "/api/adopt", r#"{"candidate": 0}"#);
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("U02"), "{answer}");
    assert_eq!(export_csv(&server), before);
    // Candidate 0 leaves U03 as it is: locking U03 does not stand in its way.
    lock("U02", false);
    lock("U03", true);
    let (status, answer) = server.call("POST", "/api/adopt", r#"{"candidate": 0}"#);
    assert_eq!(status, 200, "{answer}");
    assert!(differing(&server, 0).is_empty());
}

/// With 500 m radii the demo's health centres (1.7 km apart at least) have disjoint discs: the reach the page draws
/// holds every health centre and measures n·π·r² (the check's 128-gons are within 0.04 % of a circle).
#[test]
fn serve_service_reach_holds_every_facility_of_the_type_and_measures_n_discs() {
    use geo::Contains;
    let dir = demo_copy();
    let toml = dir.path().join("bmu.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace("[thresholds]\n", "[thresholds]\nservice_radius_m = 500\n"),
    )
    .unwrap();
    let server = Server::start_in(dir, &[]);
    let (status, reach) = server.call("GET", "/api/service?type=health", "");
    assert_eq!(status, 200, "{reach}");
    let feature = &reach["features"][0];
    let geometry: geojson::Geometry = serde_json::from_value(feature["geometry"].clone()).unwrap();
    let polygon: geo::Geometry<f64> = geometry.try_into().unwrap();
    let (_, layers) = server.call("GET", "/api/layers", "");
    let health: Vec<geo::Point<f64>> = layers["facilities"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["type"] == "health")
        .map(|f| {
            let c = &f["geometry"]["coordinates"];
            geo::Point::new(c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
        })
        .collect();
    assert!(health.len() >= 2);
    assert!(health.iter().all(|p| polygon.contains(p)));
    assert_eq!(feature["properties"]["facilities"], health.len());
    let expected = health.len() as f64 * std::f64::consts::PI * 0.5 * 0.5;
    let area = feature["properties"]["area_km2"].as_f64().unwrap();
    assert!(
        (area / expected - 1.0).abs() < 1e-3,
        "{area} km² against {expected}"
    );
    assert!(layers["services"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["type"] == "health"));
    for bad in [
        "/api/service?type=spaceport",
        "/api/service?type=police",
        "/api/service",
    ] {
        let (status, answer) = server.call("GET", bad, "");
        assert_eq!(status, 400, "{bad}: {answer}");
    }
}

/// A basemap value that is neither an XYZ template, a pmtiles:// URL nor a local .pmtiles file is refused before
/// anything starts, in one line naming the flag; the invocation is otherwise one that serves.
#[test]
fn serve_basemap_without_tile_placeholders_is_refused_naming_the_flag() {
    let dir = demo_copy();
    for (value, why) in [
        ("https://tile.example.org/tiles.png", "{z}"),
        ("ftp://tile.example.org/{z}/{x}/{y}.png", "not an XYZ template"),
        ("missing.pmtiles", "missing.pmtiles"),
    ] {
        let out = bmu(&["serve", ".", "--port", "0", "--basemap", value], dir.path());
        assert_error(&out, &["--basemap", why]);
    }
    std::fs::write(dir.path().join("vector.pmtiles"), {
        let mut head = vec![0u8; 127];
        head[..7].copy_from_slice(b"PMTiles");
        head[7] = 3;
        head[99] = 1;
        head
    })
    .unwrap();
    let out = bmu(
        &["serve", ".", "--port", "0", "--basemap", "vector.pmtiles"],
        dir.path(),
    );
    assert_error(&out, &["--basemap", "vector.pmtiles", "raster"]);
}

/// A local tile server: answers every request with one 256 × 256 PNG (CORS open, as public tile servers are) and
/// counts the tile requests it saw.
fn tile_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut tile = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut tile, 256, 256);
        encoder.set_color(png::ColorType::Rgb);
        let mut w = encoder.write_header().unwrap();
        w.write_image_data(&vec![200u8; 256 * 256 * 3]).unwrap();
    }
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            if String::from_utf8_lossy(&head).contains(".png ") {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    tile.len()
                )
                .as_bytes(),
            );
            let _ = s.write_all(&tile);
        }
    });
    (addr, count)
}

fn chromium_or_skip() -> Option<&'static Path> {
    let chromium = Path::new("/usr/bin/chromium");
    if chromium.is_file() {
        Some(chromium)
    } else {
        super::skip("/usr/bin/chromium is absent");
        None
    }
}

#[test]
fn serve_page_in_chromium_draws_the_basemap_from_the_given_xyz_url() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let (tiles, count) = tile_server();
    let template = format!("http://{tiles}/{{z}}/{{x}}/{{y}}.png");
    let server = Server::start(&["--lang", "en", "--basemap", &template]);
    let mut b = Browser::start(chromium);
    b.call(
        "Page.navigate",
        serde_json::json!({"url": format!("http://{}/", server.addr)}),
    );
    b.wait_for(
        "document.body && document.body.dataset.ready === '1' && map.loaded() && !!map.getLayer('basemap')",
    );
    b.wait_for("map.areTilesLoaded()");
    assert!(
        count.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the page fetched no tile from the basemap"
    );
    let attribution = b.eval("document.querySelector('.maplibregl-ctrl-attrib').innerText");
    assert!(
        attribution.as_str().unwrap_or_default().contains(&tiles),
        "attribution {attribution} does not name {tiles}"
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// Without --basemap the page asks for nothing outside bmu: no basemap layer, no attribution.
#[test]
fn serve_without_basemap_the_plan_names_none() {
    let server = Server::start(&[]);
    assert_eq!(server.plan()["basemap"], Value::Null);
}

#[test]
fn serve_page_in_chromium_compare_highlights_the_blocks_that_differ() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let server = Server::start(&["--lang", "en"]);
    let block = first_block_of(&server.plan(), "U01");
    let body = format!(r#"{{"moves": [{{"block_id": "{block}", "unit_id": "U02"}}]}}"#);
    assert_eq!(server.call("POST", "/api/assign", &body).0, 200);
    let mut b = Browser::start(chromium);
    b.call(
        "Page.navigate",
        serde_json::json!({"url": format!("http://{}/", server.addr)}),
    );
    b.wait_for("document.body && document.body.dataset.ready === '1' && map.loaded()");
    b.eval("document.getElementById('compare-open').click(); true");
    b.wait_for(
        "!document.getElementById('compare').hidden && document.getElementById('compare').options.length > 1",
    );
    let choose = |k: &str| {
        format!("(() => {{ const s = document.getElementById('compare'); s.value = '{k}'; s.dispatchEvent(new Event('change')); return true; }})()")
    };
    b.eval(&choose("0"));
    b.wait_for("compared !== null && !!map.getSource('compare-diff')");
    let highlighted = b.eval("compared.highlight.features.map(f => f.properties.block_id)");
    assert_eq!(highlighted, serde_json::json!([block]));
    b.wait_for("map.loaded() && map.queryRenderedFeatures({layers: ['compare-diff']}).length > 0");
    let rendered = b.eval(
        "[...new Set(map.queryRenderedFeatures({layers: ['compare-diff']}).map(f => f.properties.block_id))]",
    );
    assert_eq!(rendered, serde_json::json!([block]));
    assert!(b.eval("map.queryRenderedFeatures({layers: ['compare-units']}).length > 0") == Value::Bool(true));
    let table = b.eval("document.getElementById('compare-table').innerText");
    assert!(table.as_str().unwrap_or_default().contains("U01"), "{table}");
    // Adopting candidate 0 takes the block back: nothing differs, one undo brings the move back.
    b.eval("document.getElementById('adopt').click(); true");
    b.wait_for("compared.differing.length === 0");
    // Off restores the normal view.
    b.eval(&choose(""));
    b.wait_for("compared === null && document.getElementById('compare-table').innerHTML === ''");
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// A local raster PMTiles archive is served by bmu itself, byte range by byte range, and the page is told to read
/// it from there (nothing leaves the machine).
#[test]
fn serve_local_pmtiles_basemap_is_served_with_byte_ranges() {
    use std::io::{Read, Write};
    let dir = demo_copy();
    let mut archive = vec![0u8; 4096];
    archive[..7].copy_from_slice(b"PMTiles");
    archive[7] = 3;
    archive[99] = 2; // PNG tiles
    for (i, b) in archive.iter_mut().enumerate().skip(127) {
        *b = (i % 251) as u8;
    }
    std::fs::write(dir.path().join("base.pmtiles"), &archive).unwrap();
    let server = Server::start_in(dir, &["--basemap", "base.pmtiles"]);
    let basemap = &server.plan()["basemap"];
    assert_eq!(basemap["kind"], "pmtiles", "{basemap}");
    assert_eq!(basemap["url"], "/basemap.pmtiles");
    let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
    write!(
        s,
        "GET /basemap.pmtiles HTTP/1.1\r\nHost: {}\r\nRange: bytes=1000-1999\r\nConnection: close\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-range: bytes 1000-1999/4096"),
        "{head}"
    );
    assert_eq!(&out[split + 4..], &archive[1000..2000]);
}

/// Started from a saved plan, serve has no propose run of its own: the first request for candidates runs one.
#[test]
fn serve_from_an_assignment_runs_propose_for_the_candidates_on_first_request() {
    let first = Server::start(&[]);
    let csv = export_csv(&first);
    let dir = demo_copy();
    std::fs::write(dir.path().join("plan.csv"), &csv).unwrap();
    let server = Server::start_in(dir, &["--assignment", "plan.csv"]);
    let (status, list) = server.call("GET", "/api/candidates", "");
    assert_eq!(status, 200, "{list}");
    assert!(!list["candidates"].as_array().unwrap().is_empty());
    assert_eq!(
        list["candidates"][0]["differing"], 0,
        "propose's best is the saved plan: {list}"
    );
}
