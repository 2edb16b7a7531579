//! `bmu serve`: the planner's live map editor. One process holds one [`bmu::edit::Plan`] behind one mutex (every
//! state change is serialised) and answers a small JSON API on a local HTTP server (axum on tokio); the page, its
//! script and MapLibre GL JS are embedded in the binary, so nothing is fetched at run time and no path from the
//! request ever reaches the file system.
//!
//! Safety for a server on a planner's laptop: it binds 127.0.0.1 unless told otherwise; a request whose `Host`
//! header is not the bound address is refused (a page on another site cannot reach it through DNS rebinding);
//! bodies over 1 MiB are refused; a bad request is a 400 with a JSON error and changes nothing. Saves go under the
//! study area's `out/` through [`Staging`], which refuses to write over an input; Ctrl+C or SIGTERM saves the plan
//! before the process ends.

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bmu::edit::{assignment, EditError, Move, Plan, Session};
use bmu::io::atomic::Staging;
use bmu::io::OutFeature;
use bmu::report::palette;
use bmu::validate::Registry;
use clap::Args;
use geo::{Contains, Geometry, InteriorPoint};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

mod basemap;
mod compare;
mod service;

const INDEX_HTML: &str = include_str!("serve/assets/index.html");
const APP_JS: &str = include_str!("serve/assets/app.js");
const MAPLIBRE_JS: &str = include_str!("serve/assets/maplibre-gl.js");
const MAPLIBRE_CSS: &str = include_str!("serve/assets/maplibre-gl.css");
const MAPLIBRE_LICENSE: &str = include_str!("serve/assets/maplibre-gl.LICENSE.txt");
const PMTILES_JS: &str = include_str!("serve/assets/pmtiles.js");
const PMTILES_LICENSE: &str = include_str!("serve/assets/pmtiles.LICENSE.txt");

/// Requests larger than this are refused: a plan's moves are a few kilobytes.
const MAX_BODY: usize = 1 << 20;

/// `bmu serve`'s flags.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    area: super::AreaArgs,
    /// Start from drawn units (GeoJSON or Shapefile): each block joins the unit holding its interior point.
    #[arg(long, conflicts_with = "assignment")]
    units: Option<PathBuf>,
    /// Start from a saved plan: a `block_id,unit_id` CSV. Without --units or --assignment, propose's best plan.
    #[arg(long, value_name = "A.csv")]
    assignment: Option<PathBuf>,
    /// Address to bind; anything but loopback exposes the editor to the network.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port (0: any free port; the URL line says which).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Open the page in the default browser.
    #[arg(long)]
    open: bool,
    /// propose's candidates the plan can be compared with (default: bmu.toml's propose.candidates, at least 3).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=20))]
    candidates: Option<u16>,
    /// A raster basemap: an XYZ template (http(s)://…/{z}/{x}/{y}.png), a pmtiles://https://… archive, or a local
    /// .pmtiles file (served by bmu: nothing leaves the machine). Without it nothing is fetched.
    #[arg(long, value_name = "URL")]
    basemap: Option<String>,
    /// Language of the page.
    #[arg(long, default_value = "zh", value_parser = ["zh", "en"])]
    lang: String,
}

/// Everything the handlers share; the plan alone changes, behind its mutex.
struct App {
    plan: Mutex<Plan<'static>>,
    session: &'static Session,
    /// Each block's geometry in lon/lat, as GeoJSON, built once.
    block_geometry: Vec<Value>,
    /// Town, features and facilities in lon/lat, built once.
    layers: Value,
    /// `Host` header values accepted.
    hosts: Vec<String>,
    out_dir: PathBuf,
    inputs: Vec<PathBuf>,
    lang: String,
    /// The study area as read (propose runs over it, as `bmu propose` does).
    study: bmu::model::StudyArea,
    /// The proposal serve started from, until the candidates are built from it.
    seed: Mutex<Option<bmu::propose::pipeline::Proposal>>,
    /// propose's candidates, validated, built on first use.
    candidates: compare::Candidates,
    /// The network's service areas (`service_distance = "network"`), built on first use.
    service_areas: std::sync::OnceLock<bmu::network::ServiceAreas>,
    /// The basemap the page draws under the plan, if any.
    basemap: Option<basemap::Basemap>,
}

/// Runs the server until Ctrl+C or SIGTERM, then saves the plan.
pub fn run(mut args: ServeArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let basemap = match &args.basemap {
        Some(v) => Some(basemap::parse(v).map_err(|e| anyhow::anyhow!("--basemap: {e}"))?),
        None => None,
    };
    let id_field = args.area.id_field.take();
    let mut config = args.area.config()?;
    config.propose.candidates = args
        .candidates
        .map_or(config.propose.candidates.max(3), usize::from);
    let study = super::load_study(&config, quiet)?;
    let base = args
        .area
        .dir
        .clone()
        .or_else(|| {
            args.area
                .config
                .as_ref()
                .and_then(|c| c.parent().map(Path::to_path_buf))
        })
        .unwrap_or_default();
    // The session lives as long as the process: leaking it lets the plan borrow it from every handler.
    let session: &'static Session = Box::leak(Box::new(Session::open(&study)?));
    let mut seed = None;
    let start = match (&args.assignment, &args.units) {
        (Some(a), _) => assignment::read(a, &session.blocks.ids)?,
        (None, Some(u)) => from_units(session, &study, u, id_field.as_deref())?,
        (None, None) => {
            let proposal = proposed(&study, session)?;
            let start = best_of(&proposal, session);
            seed = Some(proposal);
            start
        }
    };
    let plan = Plan::new(session, &start)?;
    let mut inputs = super::run_inputs(&study, &args.area, args.units.as_deref());
    inputs.extend(args.assignment.clone());
    let app = App {
        plan: Mutex::new(plan),
        session,
        block_geometry: block_geometry(session)?,
        layers: static_layers(&study, &args.lang)?,
        hosts: Vec::new(),
        out_dir: base.join("out"),
        inputs,
        lang: args.lang.clone(),
        study,
        seed: Mutex::new(seed),
        candidates: Default::default(),
        service_areas: Default::default(),
        basemap,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    runtime.block_on(serve(app, &args))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(mut app: App, args: &ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("{}:{}: bind", args.host, args.port))?;
    let addr = listener.local_addr().context("local address")?;
    let loopback = addr.ip().is_loopback();
    app.hosts = vec![addr.to_string()];
    if loopback {
        app.hosts.push(format!("localhost:{}", addr.port()));
    }
    if !loopback {
        eprintln!("bmu: warning: serving on {addr}: anyone on the network can edit this plan");
    }
    let url = format!("http://{addr}/");
    super::to_stdout(&format!("{url}\n"))?;
    if args.open {
        open_browser(&url);
    }
    let app = Arc::new(app);
    let router = Router::new()
        .route(
            "/",
            get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/maplibre-gl.js",
            get(|| async { page(MAPLIBRE_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/maplibre-gl.css",
            get(|| async { page(MAPLIBRE_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/maplibre-gl.LICENSE.txt",
            get(|| async { page(MAPLIBRE_LICENSE, "text/plain; charset=utf-8") }),
        )
        .route(
            "/pmtiles.js",
            get(|| async { page(PMTILES_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/pmtiles.LICENSE.txt",
            get(|| async { page(PMTILES_LICENSE, "text/plain; charset=utf-8") }),
        )
        .route("/basemap.pmtiles", get(basemap::get_archive))
        .route("/api/plan", get(get_plan))
        .route("/api/layers", get(get_layers))
        .route("/api/assign", post(post_assign))
        .route("/api/undo", post(post_undo))
        .route("/api/redo", post(post_redo))
        .route("/api/lock", post(post_lock))
        .route("/api/units", post(post_new_unit))
        .route("/api/export", get(get_export))
        .route("/api/save", post(post_save))
        .route("/api/reoptimise", post(post_reoptimise))
        .route("/api/dossier", get(get_dossier))
        .route("/api/outlines", get(get_outlines))
        .route("/api/candidates", get(compare::get_candidates))
        .route("/api/compare", get(compare::get_compare))
        .route("/api/adopt", post(compare::post_adopt))
        .route("/api/service", get(service::get_service))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such page") })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(app.clone(), host_check))
        .with_state(app.clone());
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving")?;
    match save(&app) {
        Ok(written) => eprintln!("bmu: stopped; plan saved: {}", written.join(", ")),
        Err(e) => eprintln!("bmu: error: saving the plan on exit: {e:#}"),
    }
    Ok(())
}

/// Resolves on Ctrl+C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if std::process::Command::new(opener).arg(url).spawn().is_err() {
        eprintln!("bmu: warning: could not open a browser; open {url}");
    }
}

/// Refuses requests addressed to another host name (DNS rebinding).
async fn host_check(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    if host.is_some_and(|h| app.hosts.iter().any(|a| a.eq_ignore_ascii_case(h))) {
        next.run(req).await
    } else {
        error(
            StatusCode::FORBIDDEN,
            "the Host header is not the address bmu serve is bound to",
        )
    }
}

fn page(body: &'static str, kind: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn refused(e: EditError) -> Response {
    match e {
        EditError::Refused(m) => error(StatusCode::BAD_REQUEST, &m),
        other => error(StatusCode::INTERNAL_SERVER_ERROR, &other.to_string()),
    }
}

fn ok(value: Value) -> Response {
    axum::Json(value).into_response()
}

/// The plan, or a 500 when a previous handler panicked while holding it (it cannot here, but a poisoned lock must
/// not take the server down).
fn locked(app: &App) -> Result<std::sync::MutexGuard<'_, Plan<'static>>, Response> {
    app.plan
        .lock()
        .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "the plan's lock is poisoned"))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, &format!("malformed JSON: {e}")))
}

async fn get_plan(State(app): State<Arc<App>>) -> Response {
    let plan = match locked(&app) {
        Ok(p) => p,
        Err(r) => return r,
    };
    ok(plan_json(&app, &plan))
}

async fn get_layers(State(app): State<Arc<App>>) -> Response {
    ok(app.layers.clone())
}

#[derive(Deserialize)]
struct AssignRequest {
    moves: Vec<Move>,
}

async fn post_assign(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: AssignRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut plan = match locked(&app) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match plan.apply(&request.moves) {
        Ok(change) => ok(json!(change)),
        Err(e) => refused(e),
    }
}

async fn post_undo(State(app): State<Arc<App>>) -> Response {
    let mut plan = match locked(&app) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match plan.undo() {
        Ok(change) => ok(json!(change)),
        Err(e) => refused(e),
    }
}

async fn post_redo(State(app): State<Arc<App>>) -> Response {
    let mut plan = match locked(&app) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match plan.redo() {
        Ok(change) => ok(json!(change)),
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
struct LockRequest {
    unit_id: String,
    locked: bool,
}

async fn post_lock(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: LockRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut plan = match locked(&app) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match plan.lock(&request.unit_id, request.locked) {
        Ok(()) => ok(json!({ "unit_id": request.unit_id, "locked": request.locked })),
        Err(e) => refused(e),
    }
}

async fn post_new_unit(State(app): State<Arc<App>>) -> Response {
    let mut plan = match locked(&app) {
        Ok(p) => p,
        Err(r) => return r,
    };
    ok(json!({ "unit_id": plan.new_unit() }))
}

#[derive(Deserialize)]
struct ExportQuery {
    format: Option<String>,
}

async fn get_export(State(app): State<Arc<App>>, Query(q): Query<ExportQuery>) -> Response {
    let plan = match locked(&app) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ids = &app.session.blocks.ids;
    match q.format.as_deref().unwrap_or("csv") {
        "csv" => match assignment::to_csv(ids, &plan.assignment()) {
            Ok(bytes) => {
                let mut r = bytes.into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                );
                r
            }
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        "geojson" => ok(blocks_json(&app, &plan)),
        other => error(
            StatusCode::BAD_REQUEST,
            &format!("unknown export format {other:?} (csv or geojson)"),
        ),
    }
}

async fn post_reoptimise(State(app): State<Arc<App>>) -> Response {
    // Minutes of max-p on a large town must not stall the runtime's two workers.
    match tokio::task::spawn_blocking(move || reoptimise(&app)).await {
        Ok(Ok(change)) => ok(change),
        Ok(Err(r)) => r,
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Proposes the blocks outside locked units with the locked units fixed, and applies the result as one step (one
/// undo restores the plan). Proposed units take the ids of the plan's unlocked units first, so a re-optimised plan
/// keeps familiar names, then new ids.
fn reoptimise(app: &App) -> Result<Value, Response> {
    let mut plan = locked(app)?;
    let ids = &app.session.blocks.ids;
    let members = plan.members();
    let mut pairs = Vec::new();
    let mut reusable = Vec::new();
    for (unit, locked) in plan.unit_ids() {
        match members.get(unit.as_str()) {
            Some(blocks) if locked => pairs.extend(blocks.iter().map(|&b| (ids[b].clone(), unit.clone()))),
            _ if !locked => reusable.push(unit),
            _ => {}
        }
    }
    let constraints = bmu::propose::pipeline::Constraints {
        lock: Some(bmu::propose::pipeline::Plan::Pairs(pairs.clone())),
        initial: None,
    };
    let proposal =
        bmu::propose::pipeline::propose_over(&app.session.area, app.session.blocks.clone(), &constraints)
            .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("re-optimise: {e}")))?;
    let Some(best) = proposal.units.first() else {
        return Err(error(StatusCode::BAD_REQUEST, "re-optimise: no plan found"));
    };
    let locked_ids: BTreeSet<&str> = pairs.iter().map(|(_, u)| u.as_str()).collect();
    let mut reusable = reusable.into_iter();
    let mut unit_of: Vec<Option<String>> = vec![None; ids.len()];
    for unit in best {
        let id = if locked_ids.contains(unit.id.as_str()) {
            unit.id.clone()
        } else {
            reusable.next().unwrap_or_else(|| plan.new_unit())
        };
        for &b in &unit.members {
            unit_of[b] = Some(id.clone());
        }
    }
    let locked_blocks: BTreeSet<&str> = pairs.iter().map(|(b, _)| b.as_str()).collect();
    let moves: Vec<Move> = ids
        .iter()
        .zip(unit_of)
        .filter(|(b, _)| !locked_blocks.contains(b.as_str()))
        .map(|(b, u)| Move {
            block_id: b.clone(),
            unit_id: u,
        })
        .collect();
    plan.apply(&moves).map(|c| json!(c)).map_err(refused)
}

/// `GET /api/dossier`: the dossier of the current plan, written by the same report writer as `--html`.
async fn get_dossier(State(app): State<Arc<App>>) -> Response {
    let html = (|| -> anyhow::Result<String> {
        let lang: bmu::report::Lang = app.lang.parse().map_err(anyhow::Error::msg)?;
        let outcome = {
            let plan = locked(&app).map_err(|_| anyhow::anyhow!("the plan's lock is poisoned"))?;
            outcome(&plan)?
        };
        Ok(bmu::report::dossier(&app.session.area, &outcome, lang)?)
    })();
    match html {
        Ok(text) => {
            let mut r = text.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
    }
}

/// The plan as a validate run's outcome, for the report writer.
fn outcome(plan: &Plan) -> anyhow::Result<bmu::run::Outcome> {
    let validation = plan
        .validation()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no unit holds a block: nothing to report"))?;
    let unassigned = plan.assignment().iter().filter(|u| u.is_none()).count();
    let mut report =
        bmu::report::Report::of_validation(&validation, plan.session().source.as_ref().map(|s| s.describe()));
    report.plan_unassigned_blocks = Some(unassigned);
    Ok(bmu::run::Outcome {
        all_pass: validation.pass() && unassigned == 0,
        report,
        units: plan.units(),
        validation: Some(validation),
        proposal: None,
        notes: Vec::new(),
        problem_files: Vec::new(),
        other_candidates: Vec::new(),
        unassigned_blocks: unassigned,
        population_source: plan.session().source.as_ref().map(|s| s.describe()),
    })
}

/// Each unit of `plan` as its boundary lines (exterior and holes), with its `unit_id`: the bold borders of the map.
fn outlines(plan: &Plan) -> impl Iterator<Item = OutFeature> {
    plan.units().into_iter().map(|u| OutFeature {
        geometry: Some(Geometry::MultiLineString(geo::MultiLineString(
            u.geometry
                .0
                .iter()
                .flat_map(|p| std::iter::once(p.exterior().clone()).chain(p.interiors().iter().cloned()))
                .collect(),
        ))),
        properties: [("unit_id".to_string(), json!(u.id))].into_iter().collect(),
    })
}

/// `GET /api/outlines`: the dissolved units as lines (the page draws them bold over the blocks) and the current
/// problem geometries, in lon/lat.
async fn get_outlines(State(app): State<Arc<App>>) -> Response {
    let (units, problems) = {
        let plan = match locked(&app) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let units: Vec<OutFeature> = outlines(&plan).collect();
        let problems = plan
            .validation()
            .map(bmu::validate::problem_features)
            .unwrap_or_default();
        (units, problems)
    };
    let crs = &app.session.area.working_crs;
    match (lonlat(crs, &units), lonlat(crs, &problems)) {
        (Ok(u), Ok(p)) => ok(json!({ "units": u, "problems": p })),
        (Err(e), _) | (_, Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
    }
}

async fn post_save(State(app): State<Arc<App>>) -> Response {
    match save(&app) {
        Ok(written) => ok(json!({ "written": written })),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
    }
}

/// Writes the plan under `out/` (assignment CSV, blocks and units GeoJSON, report JSON), all or nothing.
fn save(app: &App) -> anyhow::Result<Vec<String>> {
    let plan = app
        .plan
        .lock()
        .map_err(|_| anyhow::anyhow!("the plan's lock is poisoned"))?;
    let area = &app.session.area;
    let ids = &app.session.blocks.ids;
    let path = |name: &str| app.out_dir.join(name);
    let (csv, blocks, units, report) = (
        path("plan.csv"),
        path("plan.blocks.geojson"),
        path("plan.units.geojson"),
        path("plan.report.json"),
    );
    let mut staging = Staging::new(&app.inputs);
    staging.claim(&csv, "the plan (assignment)")?;
    staging.claim(&blocks, "the plan's blocks")?;
    staging.claim(&units, "the plan's units")?;
    staging.claim(&report, "the plan's report")?;
    assignment::stage(&csv, ids, &plan.assignment(), &mut staging)?;
    let units_of = plan.assignment();
    let block_features: Vec<OutFeature> = (0..ids.len())
        .map(|b| OutFeature {
            geometry: Some(Geometry::MultiPolygon(app.session.blocks.geometry[b].clone())),
            properties: block_properties(app, b, units_of[b]),
        })
        .collect();
    bmu::io::geojson::write(&blocks, &area.working_crs, &block_features, &mut staging)?;
    let validation = plan.validation();
    let unit_features: Vec<OutFeature> = plan
        .units()
        .into_iter()
        .map(|u| {
            let report = validation.and_then(|v| v.units.iter().find(|r| r.unit_id == u.id));
            let mut p = Map::new();
            p.insert("unit_id".into(), json!(u.id));
            p.insert("population".into(), json!(u.population));
            p.insert("pass".into(), json!(report.map(|r| r.pass)));
            OutFeature {
                geometry: Some(Geometry::MultiPolygon(u.geometry)),
                properties: p,
            }
        })
        .collect();
    bmu::io::geojson::write(&units, &area.working_crs, &unit_features, &mut staging)?;
    let mut text = serde_json::to_string_pretty(&json!({
        "summary": plan.summary(),
        "units": validation.map(|v| &v.units),
        "thresholds": &area.config.thresholds,
    }))?;
    text.push('\n');
    staging.write(&report, text.as_bytes())?;
    staging.commit()?;
    Ok([csv, blocks, units, report]
        .iter()
        .map(|p| p.display().to_string())
        .collect())
}

fn block_properties(app: &App, b: usize, unit: Option<&str>) -> Map<String, Value> {
    let blocks = &app.session.blocks;
    let mut p = Map::new();
    p.insert("block_id".into(), json!(blocks.ids[b]));
    p.insert("unit_id".into(), json!(unit));
    p.insert(
        "population".into(),
        json!((blocks.population[b] * 10.0).round() / 10.0),
    );
    p.insert("area_km2".into(), json!((blocks.area[b] / 1e4).round() / 100.0));
    p
}

/// The blocks with their current unit, in lon/lat.
fn blocks_json(app: &App, plan: &Plan) -> Value {
    let units = plan.assignment();
    let features: Vec<Value> = app
        .block_geometry
        .iter()
        .enumerate()
        .map(|(b, g)| json!({"type": "Feature", "properties": block_properties(app, b, units[b]), "geometry": g}))
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

/// `GET /api/plan`: blocks, units with every check result and their colour, summary, history, check labels.
fn plan_json(app: &App, plan: &Plan) -> Value {
    let colours = colour_units(plan);
    let reports: BTreeMap<&str, &bmu::validate::UnitReport> = plan
        .validation()
        .map(|v| v.units.iter().map(|u| (u.unit_id.as_str(), u)).collect())
        .unwrap_or_default();
    let units: Vec<Value> = plan
        .unit_ids()
        .into_iter()
        .map(|(id, locked)| {
            let mut v = match reports.get(id.as_str()) {
                Some(r) => json!(r),
                None => json!({ "unit_id": id, "pass": Value::Null, "checks": {} }),
            };
            v["locked"] = json!(locked);
            v["colour"] = json!(colours.get(&id).copied().unwrap_or(palette::PALETTE[0]));
            v
        })
        .collect();
    let registry = Registry::standard();
    let checks: Vec<Value> = registry
        .iter()
        .map(|c| {
            let (zh, en) = c.label();
            json!({"name": c.name(), "label": if app.lang == "en" { en } else { zh }, "required": c.required()})
        })
        .collect();
    let (undo, redo) = plan.history();
    json!({
        "lang": app.lang,
        "blocks": blocks_json(app, plan),
        "units": units,
        "summary": plan.summary(),
        "unassigned": plan.assignment().iter().filter(|u| u.is_none()).count(),
        "history": {"undo": undo, "redo": redo},
        "checks": checks,
        "basemap": basemap::describe(app.basemap.as_ref()),
    })
}

/// The dossier's colours (DSatur over the dissolved units in plan order, `bmu::report::palette`), so that a unit
/// has the same colour on the page as in the dossier of the same plan; an empty unit has none to show.
fn colour_units(plan: &Plan) -> BTreeMap<String, &'static str> {
    let units = plan.units();
    let fills = palette::unit_fills(&units.iter().map(|u| &u.geometry).collect::<Vec<_>>());
    units.into_iter().map(|u| u.id).zip(fills).collect()
}

/// Each block's geometry as lon/lat GeoJSON, through the library's GeoJSON writer (the crate's [`Transformer`]).
///
/// [`Transformer`]: bmu::crs::Transformer
fn block_geometry(session: &Session) -> anyhow::Result<Vec<Value>> {
    let features: Vec<OutFeature> = session
        .blocks
        .geometry
        .iter()
        .map(|g| OutFeature {
            geometry: Some(Geometry::MultiPolygon(g.clone())),
            properties: Map::new(),
        })
        .collect();
    Ok(lonlat(&session.area.working_crs, &features)?["features"]
        .as_array()
        .map(|fs| fs.iter().map(|f| f["geometry"].clone()).collect())
        .unwrap_or_default())
}

fn lonlat(crs: &bmu::crs::Crs, features: &[OutFeature]) -> anyhow::Result<Value> {
    let text = bmu::io::geojson::to_string(Path::new("<map>"), crs, features)?;
    Ok(serde_json::from_str(&text)?)
}

/// The town, the features with their class and name, and the facilities with type and status, in lon/lat.
fn static_layers(area: &bmu::model::StudyArea, lang: &str) -> anyhow::Result<Value> {
    let crs = &area.working_crs;
    let town: Vec<OutFeature> = area
        .town
        .iter()
        .map(|t| OutFeature {
            geometry: Some(Geometry::MultiPolygon(t.geometry.clone())),
            properties: Map::from_iter([("name".to_string(), json!(t.name))]),
        })
        .collect();
    let features: Vec<OutFeature> = area
        .lines
        .iter()
        .filter(|l| !l.inferred)
        .map(|l| OutFeature {
            geometry: Some(Geometry::MultiLineString(l.geometry.clone())),
            properties: Map::from_iter([
                (
                    "class".to_string(),
                    json!(format!("{:?}", l.class).to_lowercase()),
                ),
                ("name".to_string(), json!(l.name)),
            ]),
        })
        .collect();
    let facilities: Vec<OutFeature> = area
        .facilities
        .iter()
        .map(|f| OutFeature {
            geometry: Some(Geometry::Point(f.location)),
            properties: Map::from_iter([
                ("id".to_string(), json!(f.id)),
                ("type".to_string(), json!(format!("{:?}", f.kind).to_lowercase())),
                (
                    "status".to_string(),
                    json!(format!("{:?}", f.status).to_lowercase()),
                ),
                ("name".to_string(), json!(f.name)),
            ]),
        })
        .collect();
    Ok(json!({
        "services": service::types(area, lang),
        "town": lonlat(crs, &town)?,
        "features": lonlat(crs, &features)?,
        "facilities": lonlat(crs, &facilities)?,
    }))
}

/// propose's run over the session's blocks (prepared once, as `bmu propose` prepares them).
fn proposed(
    study: &bmu::model::StudyArea,
    session: &Session,
) -> anyhow::Result<bmu::propose::pipeline::Proposal> {
    Ok(bmu::propose::pipeline::propose_over(
        study,
        session.blocks.clone(),
        &Default::default(),
    )?)
}

/// The best candidate's units (as `bmu propose` writes them), as the starting assignment.
fn best_of(proposal: &bmu::propose::pipeline::Proposal, session: &Session) -> Vec<Option<String>> {
    let index = session.block_index();
    let mut start = vec![None; session.blocks.ids.len()];
    for unit in proposal.units.first().into_iter().flatten() {
        for &b in &unit.members {
            if let Some(&i) = proposal.blocks.ids.get(b).and_then(|id| index.get(id)) {
                start[i] = Some(unit.id.clone());
            }
        }
    }
    start
}

/// Each block joins the drawn unit holding its interior point.
fn from_units(
    session: &Session,
    study: &bmu::model::StudyArea,
    path: &Path,
    id_field: Option<&str>,
) -> anyhow::Result<Vec<Option<String>>> {
    let mut notes = Vec::new();
    let units = bmu::validate::read_units(path, id_field, study, &mut notes)?;
    Ok(session
        .blocks
        .geometry
        .iter()
        .map(|g| {
            let p = g.interior_point()?;
            units
                .iter()
                .find(|u| u.geometry.contains(&p))
                .map(|u| u.id.clone())
        })
        .collect())
}
