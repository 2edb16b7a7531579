use super::*;
use crate::validate::testing::line;
use approx::assert_relative_eq;

fn roads(lines: &[&[(f64, f64)]]) -> Network {
    let lines: Vec<LineFeature> = lines
        .iter()
        .enumerate()
        .map(|(i, c)| line(&format!("r{i}"), FeatureClass::Road, c))
        .collect();
    Network::build(&lines, &[FeatureClass::Road])
}

#[test]
fn distance_is_access_plus_path_plus_access() {
    // An L: east 1,000 m, then north 1,000 m; the points stand 10 m and 20 m off it.
    let n = roads(&[&[(0.0, 0.0), (1000.0, 0.0)], &[(1000.0, 0.0), (1000.0, 1000.0)]]);
    let d = n
        .between(Point::new(100.0, 10.0), Point::new(980.0, 900.0), 300.0, 5000.0)
        .unwrap();
    assert_relative_eq!(d, 10.0 + 900.0 + 900.0 + 20.0, epsilon = 1e-9);
}

#[test]
fn lines_crossing_without_a_shared_vertex_do_not_connect() {
    // A road bridging over another: they cross at (500, 0) but share no vertex.
    let n = roads(&[&[(0.0, 0.0), (1000.0, 0.0)], &[(500.0, -500.0), (500.0, 500.0)]]);
    assert_eq!(
        n.between(Point::new(0.0, 1.0), Point::new(500.0, 499.0), 300.0, 1e6),
        None
    );
    // With the shared vertex, they do.
    let n = roads(&[
        &[(0.0, 0.0), (500.0, 0.0), (1000.0, 0.0)],
        &[(500.0, -500.0), (500.0, 0.0), (500.0, 500.0)],
    ]);
    let d = n
        .between(Point::new(0.0, 1.0), Point::new(500.0, 499.0), 300.0, 1e6)
        .unwrap();
    assert_relative_eq!(d, 1.0 + 500.0 + 499.0, epsilon = 1e-9);
}

#[test]
fn points_on_one_segment_are_reached_along_it() {
    let n = roads(&[&[(0.0, 0.0), (1000.0, 0.0)]]);
    let d = n
        .between(Point::new(400.0, 5.0), Point::new(600.0, -5.0), 300.0, 1e6)
        .unwrap();
    assert_relative_eq!(d, 5.0 + 200.0 + 5.0, epsilon = 1e-9);
}

#[test]
fn beyond_max_access_is_unreachable() {
    let n = roads(&[&[(0.0, 0.0), (1000.0, 0.0)]]);
    assert!(n.access(Point::new(500.0, 300.0), 300.0).is_some());
    assert!(n.access(Point::new(500.0, 300.5), 300.0).is_none());
}

#[test]
fn the_cutoff_bounds_the_search() {
    let n = roads(&[&[(0.0, 0.0), (500.0, 0.0), (1000.0, 0.0), (1500.0, 0.0)]]);
    let a = n.access(Point::new(0.0, 0.0), 0.0).unwrap();
    let r = n.reach(&[a], 700.0);
    // (0,0) and (500,0) are within 700 m; (1000,0) and beyond are not searched.
    assert_eq!(r.nodes_reached(), 2);
    let far = n.access(Point::new(1500.0, 0.0), 0.0).unwrap();
    assert_eq!(n.distance(&r, &far), None);
}

#[test]
fn non_walkable_classes_are_not_in_the_network() {
    let lines = vec![
        line("canal", FeatureClass::Canal, &[(0.0, 0.0), (1000.0, 0.0)]),
        line("road", FeatureClass::Road, &[(0.0, 100.0), (1000.0, 100.0)]),
    ];
    let n = Network::build(&lines, &[FeatureClass::Road]);
    assert_eq!(n.segment_count(), 1);
}
