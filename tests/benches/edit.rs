//! Benchmarks of the plan editor's engine (`bmu serve`'s `POST /api/assign`): one block moved between two
//! neighbouring units, the changed units re-checked, the summary rebuilt.
//!
//! - `demo`: the demo town (`data/jiangqiao`), its derived blocks and propose's plan.
//! - `synthetic_2000_blocks`: a synthetic town (no file: built here) of 50 × 40 square blocks of 200 m, 1,000
//!   residents each, cut by a road every kilometre, in 80 units of 5 × 5 blocks.
//!
//! `cargo bench --bench edit` (the `_cpu_time` variants report the CPU time of all threads per move: the figure to
//! read on a shared machine, where wall time is mostly queueing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bmu::config::Config;
use bmu::edit::{Move, Plan, Session};
use bmu::model::{Block, FeatureClass, LineFeature, StudyArea, Town};
use criterion::{criterion_group, criterion_main, Criterion};
use geo::{LineString, MultiLineString, MultiPolygon, Rect};
use std::path::PathBuf;

fn demo_area() -> StudyArea {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/jiangqiao");
    StudyArea::load(&Config::load(&dir).unwrap()).unwrap()
}

/// The demo with propose's best plan.
fn demo() -> (Session, Vec<Option<String>>) {
    let area = demo_area();
    let session = Session::open(&area).unwrap();
    let source = bmu::run::population_source(&area).unwrap().unwrap();
    let population =
        |p: &[MultiPolygon<f64>], _: Option<&bmu::propose::pipeline::SourcePolygons>| source.population(p);
    let proposal = bmu::propose::pipeline::propose(&area, Some(&population)).unwrap();
    let labels = proposal.solution.candidates[0]
        .labels
        .iter()
        .map(|l| l.map(|l| format!("U{:02}", l + 1)))
        .collect();
    (session, labels)
}

/// The synthetic town of 2,000 blocks, placed on the demo's working CRS.
fn synthetic() -> (Session, Vec<Option<String>>) {
    let mut area = demo_area();
    let (x0, y0, side) = (330_000.0, 3_460_000.0, 200.0);
    let (nx, ny) = (50, 40);
    let rect =
        |x: f64, y: f64, w: f64, h: f64| MultiPolygon(vec![Rect::new((x, y), (x + w, y + h)).to_polygon()]);
    let mut blocks = Vec::new();
    let mut labels = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            blocks.push(Block {
                id: format!("S{j:02}{i:02}"),
                geometry: rect(x0 + i as f64 * side, y0 + j as f64 * side, side, side),
                population: Some(1000.0),
                source: None,
            });
            labels.push(Some(format!("U{:02}{:02}", j / 5, i / 5)));
        }
    }
    let (w, h) = (nx as f64 * side, ny as f64 * side);
    let road = |id: String, a: (f64, f64), b: (f64, f64)| LineFeature {
        id,
        class: FeatureClass::Road,
        name: None,
        geometry: MultiLineString(vec![LineString::from(vec![a, b])]),
        inferred: false,
    };
    area.lines = (0..=nx / 5)
        .map(|k| {
            let x = x0 + k as f64 * 1000.0;
            road(format!("x{k}"), (x, y0), (x, y0 + h))
        })
        .chain((0..=ny / 5).map(|k| {
            let y = y0 + k as f64 * 1000.0;
            road(format!("y{k}"), (x0, y), (x0 + w, y))
        }))
        .collect();
    area.town = Some(Town {
        id: "synthetic".into(),
        name: "synthetic".into(),
        geometry: rect(x0, y0, w, h),
    });
    area.blocks = Some(blocks);
    area.facilities.clear();
    area.overlays.clear();
    area.config.population = None;
    (Session::open(&area).unwrap(), labels)
}

/// A block on the border of two units, and the two units.
fn border_block(session: &Session, labels: &[Option<String>]) -> (String, String, String) {
    let graph = bmu::blocks::adjacency(&session.blocks.geometry, 1.0, &[], 30.0);
    for (b, near) in graph.neighbours.iter().enumerate() {
        for &n in near {
            if let (Some(a), Some(o)) = (&labels[b], &labels[n]) {
                if a != o {
                    return (session.blocks.ids[b].clone(), a.clone(), o.clone());
                }
            }
        }
    }
    panic!("no border block");
}

fn bench_move(c: &mut Criterion, name: &str, (session, labels): (Session, Vec<Option<String>>)) {
    let mut plan = Plan::new(&session, &labels).unwrap();
    let (block, home, other) = border_block(&session, &labels);
    let mut there = false;
    let mut step = move || {
        let to = if there { &home } else { &other };
        there = !there;
        plan.apply(&[Move {
            block_id: block.clone(),
            unit_id: Some(to.clone()),
        }])
        .unwrap()
    };
    c.bench_function(&format!("move_one_block_{name}"), |b| b.iter(&mut step));
    // The same move timed in CPU time (every thread of the process): on a shared machine the wall time above is
    // mostly time spent queueing for a core.
    c.bench_function(&format!("move_one_block_{name}_cpu_time"), |b| {
        b.iter_custom(|iters| {
            let start = cpu_time();
            for _ in 0..iters {
                criterion::black_box(step());
            }
            cpu_time().saturating_sub(start)
        })
    });
}

/// The CPU time of every thread of this process so far (Linux `schedstat`: nanoseconds on a CPU).
fn cpu_time() -> std::time::Duration {
    let ns: u64 = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    std::time::Duration::from_nanos(ns)
}

/// The whole plan validated from scratch: what every move cost before the layer-wide checks kept their pieces
/// between moves (less the dissolve of the two changed units).
fn bench_whole(c: &mut Criterion, name: &str, (session, labels): &(Session, Vec<Option<String>>)) {
    let plan = Plan::new(session, labels).unwrap();
    let units = plan.units();
    let ctx = bmu::validate::Context::new(&session.area, session.source.as_deref());
    let registry = bmu::validate::Registry::standard();
    c.bench_function(&format!("validate_whole_plan_{name}"), |b| {
        b.iter(|| bmu::validate::validate_with(&ctx, &registry, &units).unwrap())
    });
}

fn benches(c: &mut Criterion) {
    let demo = demo();
    bench_whole(c, "demo", &demo);
    bench_move(c, "demo", demo);
    let synthetic = synthetic();
    bench_whole(c, "synthetic_2000_blocks", &synthetic);
    bench_move(c, "synthetic_2000_blocks", synthetic);
}

criterion_group! {
    name = edit;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(edit);
