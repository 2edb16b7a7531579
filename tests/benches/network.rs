//! Network coverage for the demo town (issue 13: ≤ 0.5 s): the `service_coverage` check itself, along the walking
//! network, on the whole town as one unit — the graph built once, one Dijkstra per service facility, the town's
//! 50 m squares snapped through the R-tree and measured, the residents of the covered part counted by the
//! population source and the uncovered parts cut out. `cargo bench --bench network`.

use bmu::validate::service_coverage::service_coverage;
use bmu::validate::Unit;
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;

fn network(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Ok(config) = bmu::Config::load(&root.join("data/jiangqiao")) else {
        return;
    };
    let Ok(mut area) = bmu::StudyArea::load(&config) else {
        return;
    };
    area.config.thresholds.service_distance = bmu::config::ServiceDistance::Network;
    let Some(town) = area.town.as_ref().map(|t| t.geometry.clone()) else {
        return;
    };
    let Ok(Some(source)) = bmu::run::population_source(&area) else {
        return;
    };
    let Some(total) = source
        .population(std::slice::from_ref(&town))
        .ok()
        .and_then(|v| v.first().copied())
    else {
        return;
    };
    let unit = Unit::new("town", town);
    let t = area.config.thresholds.clone();
    let mut g = c.benchmark_group("network");
    g.sample_size(10);
    g.bench_function("demo town: network service coverage", |b| {
        b.iter(|| service_coverage(&unit, &area, Some(source.as_ref()), Some(total), &t, None))
    });
    g.finish();
}

criterion_group!(benches, network);
criterion_main!(benches);
