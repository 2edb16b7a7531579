use super::*;
use crate::model::Block;
use crate::validate::testing::{area, line, rect};
use crate::validate::{validate_with, CheckName};
use rand::{Rng, SeedableRng};

/// A 4 × 3 km town of 1 km² blocks, 9,000 people each, cut by a road at x = 2 km; two units either side of it.
fn session() -> Session {
    let mut a = area(Some(rect(0.0, 0.0, 4000.0, 3000.0)));
    a.lines.push(line(
        "mid",
        FeatureClass::Road,
        &[(2000.0, -50.0), (2000.0, 3050.0)],
    ));
    let mut blocks = Vec::new();
    for i in 0..4 {
        for j in 0..3 {
            let (x, y) = (i as f64 * 1000.0, j as f64 * 1000.0);
            blocks.push(Block {
                id: format!("b{i}{j}"),
                geometry: rect(x, y, x + 1000.0, y + 1000.0),
                population: Some(9_000.0),
                source: None,
            });
        }
    }
    a.blocks = Some(blocks);
    Session::open(&a).unwrap()
}

fn halves(s: &Session) -> Vec<Option<String>> {
    s.blocks
        .ids
        .iter()
        .map(|id| Some(if id.as_bytes()[1] < b'2' { "W" } else { "E" }.to_string()))
        .collect()
}

fn fresh(plan: &Plan) -> Validation {
    let s = plan.session();
    let ctx = Context::new(&s.area, s.source.as_deref());
    validate_with(&ctx, &Registry::standard(), &plan.units()).unwrap()
}

fn mv(block: &str, unit: Option<&str>) -> Move {
    Move {
        block_id: block.into(),
        unit_id: unit.map(String::from),
    }
}

#[test]
fn a_new_plan_validates_as_validate_does() {
    let s = session();
    let plan = Plan::new(&s, &halves(&s)).unwrap();
    let v = plan.validation().unwrap();
    assert_eq!(v, &fresh(&plan));
    assert_eq!(v.summary.units, 2);
    assert!(v.pass(), "{:#?}", v.units);
    assert_eq!(v.units[0].population, Some(54_000.0));
}

#[test]
fn a_move_reports_the_changed_units_and_follows_validate() {
    let s = session();
    let mut plan = Plan::new(&s, &halves(&s)).unwrap();
    let change = plan.apply(&[mv("b20", Some("W"))]).unwrap();
    let ids: Vec<&str> = change.units.iter().map(|u| u.unit_id.as_str()).collect();
    assert_eq!(ids, ["E", "W"]);
    assert_eq!(change.units[1].population, Some(63_000.0));
    assert_eq!(plan.validation().unwrap(), &fresh(&plan));
    // The road no longer bounds W: the move shows up in the checks, not only in the counts.
    assert_eq!(
        plan.validation().unwrap().units[1].checks[&CheckName::BoundaryClarity],
        fresh(&plan).units[1].checks[&CheckName::BoundaryClarity]
    );
}

#[test]
fn after_any_sequence_of_moves_undo_and_redo_results_equal_validate() {
    let s = session();
    let mut plan = Plan::new(&s, &halves(&s)).unwrap();
    plan.new_unit();
    let units = ["W", "E", "U01"];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    for step in 0..40 {
        match rng.random_range(0..6) {
            0 => {
                let _ = plan.undo();
            }
            1 => {
                let _ = plan.redo();
            }
            _ => {
                let b = &s.blocks.ids[rng.random_range(0..s.blocks.ids.len())];
                let u = rng.random_range(0..4);
                let _ = plan.apply(&[mv(b, units.get(u).copied())]).unwrap();
            }
        }
        if let Some(v) = plan.validation() {
            assert_eq!(v, &fresh(&plan), "step {step}");
        }
    }
}

#[test]
fn undo_restores_the_results_and_redo_replays_them() {
    let s = session();
    let mut plan = Plan::new(&s, &halves(&s)).unwrap();
    let start = plan.validation().cloned();
    plan.apply(&[mv("b20", Some("W")), mv("b21", Some("W"))]).unwrap();
    let moved = plan.validation().cloned();
    plan.undo().unwrap();
    assert_eq!(plan.validation().cloned(), start);
    plan.redo().unwrap();
    assert_eq!(plan.validation().cloned(), moved);
    assert!(matches!(plan.redo(), Err(EditError::Refused(_))));
}

#[test]
fn unknown_block_or_unit_refuses_the_whole_request_and_changes_nothing() {
    let s = session();
    let mut plan = Plan::new(&s, &halves(&s)).unwrap();
    let before = plan.validation().cloned();
    for bad in [
        vec![mv("b20", Some("W")), mv("nope", Some("W"))],
        vec![mv("b20", Some("W")), mv("b21", Some("Z"))],
        vec![mv("b20", Some("W")), mv("b20", Some("E"))],
    ] {
        assert!(matches!(plan.apply(&bad), Err(EditError::Refused(_))));
        assert_eq!(plan.validation().cloned(), before);
        assert_eq!(plan.history(), (0, 0));
    }
}

#[test]
fn a_locked_unit_keeps_its_blocks() {
    let s = session();
    let mut plan = Plan::new(&s, &halves(&s)).unwrap();
    plan.lock("E", true).unwrap();
    let e = plan.apply(&[mv("b20", Some("W"))]).unwrap_err();
    assert!(e.to_string().contains("locked"), "{e}");
    let e = plan.apply(&[mv("b00", Some("E"))]).unwrap_err();
    assert!(e.to_string().contains("locked"), "{e}");
    plan.lock("E", false).unwrap();
    plan.apply(&[mv("b20", Some("W"))]).unwrap();
}

#[test]
fn an_emptied_unit_leaves_the_validation_and_unassigned_blocks_are_gaps() {
    let s = session();
    let mut plan = Plan::new(&s, &halves(&s)).unwrap();
    let u = plan.new_unit();
    let change = plan.apply(&[mv("b00", Some(&u))]).unwrap();
    assert!(change.units.iter().any(|r| r.unit_id == u));
    let change = plan.apply(&[mv("b00", None)]).unwrap();
    assert!(change.empty.contains(&u));
    assert_eq!(change.unassigned, 1);
    let v = plan.validation().unwrap();
    assert_eq!(v, &fresh(&plan));
    assert_eq!(v.summary.units, 2);
    assert_eq!(v.units[1].checks[&CheckName::Partition].pass(), Some(false));
}

/// The layer-wide checks keep their pieces between moves: on a town of 32 units (four gap tiles), moves that open
/// gaps across tile borders, empty units and undo them must still give what `validate` gives from scratch.
#[test]
fn after_random_moves_on_a_town_of_several_gap_tiles_results_equal_validate() {
    let mut a = area(Some(rect(0.0, 0.0, 2000.0, 2000.0)));
    let mut blocks = Vec::new();
    let mut labels = Vec::new();
    for i in 0..8 {
        for j in 0..8 {
            let (x, y) = (i as f64 * 250.0, j as f64 * 250.0);
            blocks.push(Block {
                id: format!("b{i}{j}"),
                geometry: rect(x, y, x + 250.0, y + 250.0),
                population: Some(1_000.0),
                source: None,
            });
            labels.push(Some(format!("U{i}{}", j / 2)));
        }
    }
    a.blocks = Some(blocks);
    let s = Session::open(&a).unwrap();
    let mut plan = Plan::new(&s, &labels).unwrap();
    let units: Vec<String> = plan.unit_ids().into_iter().map(|(id, _)| id).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for step in 0..30 {
        if rng.random_range(0..5) == 0 {
            let _ = plan.undo();
        } else {
            let b = &s.blocks.ids[rng.random_range(0..s.blocks.ids.len())];
            let u = rng.random_range(0..units.len() + 1);
            plan.apply(&[mv(b, units.get(u).map(String::as_str))]).unwrap();
        }
        if let Some(v) = plan.validation() {
            assert_eq!(v, &fresh(&plan), "step {step}");
        }
    }
}

/// Issue #16: on blocks that tile their town, a move reads the partition check from the assignment (no overlay of
/// whole units), a block left in no unit sends it back to the overlay (the gap is measured and reported), and
/// assigning the block again returns to the blocks — each step equal to `validate` from scratch.
#[test]
fn a_move_on_blocks_that_tile_the_town_reads_the_partition_from_the_blocks() {
    let s = session();
    let mut plan = Plan::new(&s, &halves(&s)).unwrap();
    assert!(plan.partition_from_blocks);
    assert_eq!(plan.validation().unwrap(), &fresh(&plan));
    plan.apply(&[mv("b20", Some("W"))]).unwrap();
    assert!(plan.partition_from_blocks);
    assert_eq!(plan.validation().unwrap(), &fresh(&plan));
    plan.apply(&[mv("b21", None)]).unwrap();
    assert!(!plan.partition_from_blocks);
    let v = plan.validation().unwrap();
    assert_eq!(v, &fresh(&plan));
    assert!(v
        .problems
        .iter()
        .any(|p| p.kind == crate::validate::ProblemKind::Gap));
    plan.apply(&[mv("b21", Some("E"))]).unwrap();
    assert!(plan.partition_from_blocks);
    assert_eq!(plan.validation().unwrap(), &fresh(&plan));
    plan.undo().unwrap();
    assert!(!plan.partition_from_blocks);
    assert_eq!(plan.validation().unwrap(), &fresh(&plan));
}

/// Blocks with a crack between them (the east half shifted 0.5 m: a 1,500 m² gap along the road and as much spill)
/// do not tile the town: the partition check keeps the overlay, and finds both.
#[test]
fn blocks_with_a_crack_between_them_keep_the_overlay_for_the_partition_check() {
    let mut a = area(Some(rect(0.0, 0.0, 4000.0, 3000.0)));
    let mut blocks = Vec::new();
    for i in 0..4 {
        for j in 0..3 {
            let (x, y) = (
                i as f64 * 1000.0 + if i >= 2 { 0.5 } else { 0.0 },
                j as f64 * 1000.0,
            );
            blocks.push(Block {
                id: format!("b{i}{j}"),
                geometry: rect(x, y, x + 1000.0, y + 1000.0),
                population: Some(9_000.0),
                source: None,
            });
        }
    }
    a.blocks = Some(blocks);
    let s = Session::open(&a).unwrap();
    let mut plan = Plan::new(&s, &halves(&s)).unwrap();
    assert!(!plan.partition_from_blocks);
    let v = plan.validation().unwrap();
    assert_eq!(v, &fresh(&plan));
    assert!(v
        .units
        .iter()
        .all(|u| u.checks[&CheckName::Partition].pass() == Some(false)));
    plan.apply(&[mv("b20", Some("W"))]).unwrap();
    assert!(!plan.partition_from_blocks);
    assert_eq!(plan.validation().unwrap(), &fresh(&plan));
}

/// A unit whose dissolve fills an enclave (a 5 m block of another unit, under the 100 m² hole size the dissolve
/// fills) overlaps that unit by more than its blocks do: the drift sends the partition check back to the overlay.
#[test]
fn a_dissolve_that_fills_an_enclave_keeps_the_overlay_for_the_partition_check() {
    let mut a = area(Some(rect(0.0, 0.0, 100.0, 100.0)));
    let poly = |outer: &[(f64, f64)], hole: &[(f64, f64)]| {
        MultiPolygon(vec![geo::Polygon::new(
            outer.to_vec().into(),
            vec![hole.to_vec().into()],
        )])
    };
    let blocks = vec![
        Block {
            id: "ring".into(),
            geometry: poly(
                &[(0.0, 0.0), (50.0, 0.0), (50.0, 100.0), (0.0, 100.0)],
                &[(20.0, 20.0), (29.0, 20.0), (29.0, 29.0), (20.0, 29.0)],
            ),
            population: Some(100.0),
            source: None,
        },
        Block {
            id: "enclave".into(),
            geometry: rect(20.0, 20.0, 29.0, 29.0),
            population: Some(10.0),
            source: None,
        },
        Block {
            id: "east".into(),
            geometry: rect(50.0, 0.0, 100.0, 100.0),
            population: Some(100.0),
            source: None,
        },
    ];
    a.blocks = Some(blocks);
    a.config.thresholds.partition_tolerance_m2 = 50.0;
    let s = Session::open(&a).unwrap();
    let labels = vec![
        Some("A".to_string()),
        Some("B".to_string()),
        Some("B".to_string()),
    ];
    let plan = Plan::new(&s, &labels).unwrap();
    assert!(!plan.partition_from_blocks);
    let v = plan.validation().unwrap();
    assert_eq!(v, &fresh(&plan));
    assert_eq!(v.units[0].checks[&CheckName::Partition].pass(), Some(false));
}
