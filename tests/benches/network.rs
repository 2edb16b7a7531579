//! Network coverage for the demo town (issue 13: ≤ 0.5 s): the walking graph built once, one Dijkstra per service
//! facility, and every unit's 50 m squares measured. `cargo bench --bench network`.

use bmu::network::{reached_cells, Cells, ServiceAreas};
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
    let t = area.config.thresholds.clone();
    let mut g = c.benchmark_group("network");
    g.sample_size(10);
    g.bench_function("demo town: graph, Dijkstras, covered squares", |b| {
        b.iter(|| {
            let areas = ServiceAreas::new(&area);
            let cells = Cells::new(&areas.network, &town, &t);
            t.service_types
                .iter()
                .filter_map(|&k| areas.reach(k))
                .map(|r| {
                    reached_cells(&areas.network, &cells, r, &town, t.service_radius_m)
                        .0
                        .len()
                })
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, network);
criterion_main!(benches);
