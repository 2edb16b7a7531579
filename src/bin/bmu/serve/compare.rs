//! Comparing the plan with each `propose` candidate (`GET /api/candidates`, `GET /api/compare`, `POST /api/adopt`).
//!
//! The candidates are the town's own: those of the propose run serve started from, else one propose run over the
//! session's blocks on the first request (the plan's locks are not applied). Each is validated once, with the same
//! checks as the plan, and kept for the session. What depends on the plan (the candidate's ids relabelled to the
//! plan's, the blocks that differ) is worked out again on each request, from [`bmu::edit::compare::relabel`].

use super::{error, locked, lonlat, ok, parse, refused, App};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bmu::edit::compare::{candidate_label, relabel, Relabelled};
use bmu::edit::{Move, Plan};
use bmu::io::OutFeature;
use bmu::propose::pipeline::{self, Proposal};
use bmu::validate::{UnitReport, Validation};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One candidate partition, validated.
pub(super) struct Candidate {
    /// Its p (units the solver formed).
    p: usize,
    /// Each session block's unit, under the candidate's own ids.
    own: Vec<Option<String>>,
    /// Its validation under its own ids (None: no unit holds a block).
    validation: Option<Validation>,
    /// Each unit's border in lon/lat (GeoJSON geometry), by its own id.
    outlines: Vec<(String, Value)>,
}

/// The candidates, built on first use; an error is kept too (asking again would only fail again).
pub(super) type Candidates = std::sync::OnceLock<Result<Vec<Candidate>, String>>;

/// The session's candidates, building them on first use (seconds: run off the runtime's workers).
async fn candidates(app: &Arc<App>) -> Result<(), Response> {
    let a = app.clone();
    let built = tokio::task::spawn_blocking(move || a.candidates.get_or_init(|| build(&a)).is_ok())
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    match (built, app.candidates.get()) {
        (true, _) => Ok(()),
        (false, Some(Err(e))) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
        (false, _) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "no candidates")),
    }
}

fn list(app: &App) -> &[Candidate] {
    match app.candidates.get() {
        Some(Ok(c)) => c,
        _ => &[],
    }
}

fn build(app: &App) -> Result<Vec<Candidate>, String> {
    let seed = app
        .seed
        .lock()
        .map_err(|_| "the seed's lock is poisoned".to_string())?
        .take();
    let proposal: Proposal = match seed {
        Some(p) => p,
        None => pipeline::propose_over(&app.study, app.session.blocks.clone(), &Default::default())
            .map_err(|e| format!("propose: {e}"))?,
    };
    let index = app.session.block_index();
    let n = app.session.blocks.ids.len();
    let mut out = Vec::with_capacity(proposal.units.len());
    for (k, units) in proposal.units.iter().enumerate() {
        let mut own = vec![None; n];
        for u in units {
            for &b in &u.members {
                if let Some(&i) = proposal.blocks.ids.get(b).and_then(|id| index.get(id)) {
                    own[i] = Some(u.id.clone());
                }
            }
        }
        let plan = Plan::new(app.session, &own).map_err(|e| format!("candidate {k}: {e}"))?;
        let features: Vec<OutFeature> = super::outlines(&plan).collect();
        let fc = lonlat(&app.session.area.working_crs, &features).map_err(|e| format!("{e:#}"))?;
        let outlines = fc["features"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .map(|f| {
                        (
                            f["properties"]["unit_id"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                            f["geometry"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Candidate {
            p: proposal.solution.candidates.get(k).map_or(units.len(), |c| c.p),
            validation: plan.validation().cloned(),
            own,
            outlines,
        });
    }
    Ok(out)
}

/// A candidate relabelled to the plan's ids.
fn relabelled(plan: &Plan, c: &Candidate) -> Relabelled {
    let blocks = &plan.session().blocks;
    let taken: BTreeSet<String> = plan.unit_ids().into_iter().map(|(id, _)| id).collect();
    let own: Vec<Option<&str>> = c.own.iter().map(Option::as_deref).collect();
    relabel(&plan.assignment(), &own, &blocks.population, &blocks.area, &taken)
}

fn lang(app: &App) -> bmu::report::Lang {
    app.lang.parse().unwrap_or(bmu::report::Lang::Zh)
}

/// `GET /api/candidates`: the candidates, best first, with how many blocks each would change in the plan.
pub(super) async fn get_candidates(State(app): State<Arc<App>>) -> Response {
    if let Err(r) = candidates(&app).await {
        return r;
    }
    let plan = match locked(&app) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let rows: Vec<Value> = list(&app)
        .iter()
        .enumerate()
        .map(|(k, c)| {
            json!({
                "candidate": k,
                "label": candidate_label(k, lang(&app)),
                "p": c.p,
                "units": c.validation.as_ref().map_or(0, |v| v.summary.units),
                "passing": c.validation.as_ref().map_or(0, |v| v.summary.passing),
                "differing": relabelled(&plan, c).differing.len(),
            })
        })
        .collect();
    ok(json!({ "candidates": rows }))
}

#[derive(Deserialize)]
pub(super) struct CompareQuery {
    candidate: Option<String>,
}

/// The candidate a request names, or a 400 naming what is wrong.
fn chosen(app: &App, k: Option<&str>) -> Result<usize, Response> {
    let n = list(app).len();
    let k = k.ok_or_else(|| error(StatusCode::BAD_REQUEST, "name a candidate: ?candidate=K"))?;
    match k.trim().parse::<usize>() {
        Ok(k) if k < n => Ok(k),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("no candidate {k:?}: there are {n} (0 to {})", n.saturating_sub(1)),
        )),
    }
}

/// A unit's overall and per-check pass/fail (null: not evaluated).
fn verdict(r: Option<&UnitReport>) -> Value {
    match r {
        None => Value::Null,
        Some(r) => json!({
            "pass": r.pass,
            "checks": r.checks.iter().map(|(name, c)| (name.to_string(), json!(c.pass()))).collect::<Map<_, _>>(),
        }),
    }
}

/// `GET /api/compare?candidate=K`: the candidate under the plan's ids, the blocks that differ, its unit borders and
/// each unit's pass/fail per check in the plan and in the candidate.
pub(super) async fn get_compare(State(app): State<Arc<App>>, Query(q): Query<CompareQuery>) -> Response {
    if let Err(r) = candidates(&app).await {
        return r;
    }
    let k = match chosen(&app, q.candidate.as_deref()) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let plan = match locked(&app) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let c = &list(&app)[k];
    let r = relabelled(&plan, c);
    let ids = &app.session.blocks.ids;
    let assignment: Vec<Value> = ids
        .iter()
        .zip(&r.assignment)
        .map(|(b, u)| json!({"block_id": b, "unit_id": u}))
        .collect();
    let differing: Vec<&str> = r.differing.iter().map(|&b| ids[b].as_str()).collect();
    let outlines: Vec<Value> = c
        .outlines
        .iter()
        .map(|(own, g)| json!({"type": "Feature", "properties": {"unit_id": r.ids.get(own)}, "geometry": g}))
        .collect();
    let now: BTreeMap<&str, &UnitReport> = plan
        .validation()
        .map(|v| v.units.iter().map(|u| (u.unit_id.as_str(), u)).collect())
        .unwrap_or_default();
    let then: BTreeMap<&str, &UnitReport> = c
        .validation
        .as_ref()
        .map(|v| {
            v.units
                .iter()
                .filter_map(|u| r.ids.get(&u.unit_id).map(|id| (id.as_str(), u)))
                .collect()
        })
        .unwrap_or_default();
    let every: BTreeSet<&str> = now.keys().chain(then.keys()).copied().collect();
    let units: Vec<Value> = every
        .into_iter()
        .map(|id| {
            json!({"unit_id": id, "current": verdict(now.get(id).copied()), "candidate": verdict(then.get(id).copied())})
        })
        .collect();
    let summary = |v: Option<&Validation>| json!({"units": v.map_or(0, |v| v.summary.units), "passing": v.map_or(0, |v| v.summary.passing)});
    ok(json!({
        "candidate": k,
        "label": candidate_label(k, lang(&app)),
        "assignment": assignment,
        "differing": differing,
        "outlines": {"type": "FeatureCollection", "features": outlines},
        "units": units,
        "summary": {"current": summary(plan.validation()), "candidate": summary(c.validation.as_ref())},
    }))
}

#[derive(Deserialize)]
struct AdoptRequest {
    candidate: usize,
}

/// `POST /api/adopt {"candidate": K}`: the plan becomes the (relabelled) candidate, as one undoable step. Refused
/// when it would change a locked unit.
pub(super) async fn post_adopt(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: AdoptRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    if let Err(r) = candidates(&app).await {
        return r;
    }
    let k = match chosen(&app, Some(&request.candidate.to_string())) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let mut plan = match locked(&app) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let r = relabelled(&plan, &list(&app)[k]);
    let members = plan.members();
    for (unit, is_locked) in plan.unit_ids() {
        let kept: Vec<usize> = (0..r.assignment.len())
            .filter(|&b| r.assignment[b].as_deref() == Some(unit.as_str()))
            .collect();
        if is_locked && members.get(unit.as_str()).map(Vec::as_slice).unwrap_or_default() != kept.as_slice() {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("candidate {k} changes locked unit {unit}: unlock it to adopt the candidate"),
            );
        }
    }
    drop(members);
    // Units the plan has no partner for get the ids `new_unit` hands out, in the same order (see `relabel`).
    let known: BTreeSet<String> = plan.unit_ids().into_iter().map(|(id, _)| id).collect();
    let mut fresh: Vec<&String> = r.ids.values().filter(|id| !known.contains(*id)).collect();
    fresh.sort_by_key(|id| (id.len(), id.as_str()));
    for id in fresh {
        let made = plan.new_unit();
        if &made != id {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("new unit {made} is not the expected {id}"),
            );
        }
    }
    let ids = &app.session.blocks.ids;
    let moves: Vec<Move> = r
        .differing
        .iter()
        .map(|&b| Move {
            block_id: ids[b].clone(),
            unit_id: r.assignment[b].clone(),
        })
        .collect();
    match plan.apply(&moves) {
        Ok(change) => ok(json!(change)),
        Err(e) => refused(e),
    }
}
