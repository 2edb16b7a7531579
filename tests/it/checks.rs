//! Issue "Adding a check means editing seven files": a check written here, as one value, appears in the report
//! JSON, the units layer and the dossier with no other edit; and `propose --candidates 3 --report-html` validates
//! each candidate exactly once.

use crate::demo;
use bmu::config::{Config, Thresholds};
use bmu::report::Lang;
use bmu::run::{self, Outputs};
use bmu::validate::check::{Basis, Check, Context, Evaluation, LayerResult, Subject};
use bmu::validate::{CheckName, CheckResult, Evaluated, Registry};
use geo::Intersects;

/// "A unit holds at most N facility points": a rule no policy states, written only in this test.
struct MaxFacilities(usize);

impl Check for MaxFacilities {
    fn name(&self) -> CheckName {
        CheckName("max_facilities")
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("设施上限", "Facility cap")
    }
    fn column(&self) -> Option<&'static str> {
        Some("cap")
    }
    fn legend(&self, _t: &Thresholds) -> String {
        format!("≤ {} facilities", self.0)
    }
    fn basis(&self) -> Basis {
        Basis {
            clause: "test",
            text: "",
            verbatim: false,
            translation: "",
            rule: (
                "单元设施不多于上限",
                "The unit holds no more facilities than the cap",
            ),
            source: ("测试", "test"),
        }
    }
    fn threshold(&self, _t: &Thresholds, _lang: Lang) -> String {
        format!("≤ {} facilities", self.0)
    }
    fn short_threshold(&self, _t: &Thresholds) -> String {
        format!("≤ {}", self.0)
    }
    fn value_text(&self, e: &Evaluated) -> String {
        format!("{:.0} facilities", e.value)
    }
    fn evaluate(
        &self,
        unit: &Subject,
        ctx: &Context,
        _layer: Option<&LayerResult>,
    ) -> bmu::Result<Evaluation> {
        let n = ctx
            .area
            .facilities
            .iter()
            .filter(|f| unit.unit.geometry.intersects(&f.location))
            .count();
        Ok(CheckResult::evaluated(n <= self.0, n as f64, Some(self.0 as f64)).into())
    }
}

fn demo_area(candidates: usize) -> bmu::model::StudyArea {
    let mut config = Config::load(&demo()).unwrap();
    config.propose.candidates = candidates;
    bmu::model::StudyArea::load(&config).unwrap()
}

fn outputs(dir: &std::path::Path) -> Outputs {
    Outputs {
        units: dir.join("units.geojson"),
        report: Some(dir.join("report.json")),
        ..Default::default()
    }
}

/// Runs `f` with a fresh staging and commits what it wrote.
fn staged<T>(f: impl FnOnce(&mut bmu::Staging) -> bmu::Result<T>) -> T {
    let mut staging = bmu::Staging::new::<&std::path::Path>(&[]);
    let value = f(&mut staging).unwrap();
    staging.commit().unwrap();
    value
}

#[test]
fn propose_with_three_candidates_and_a_dossier_validates_three_times() {
    let dir = tempfile::tempdir().unwrap();
    let area = demo_area(3);
    let before = bmu::validate::runs_on_this_thread();
    let outcome = staged(|st| run::propose(&area, &outputs(dir.path()), st));
    assert_eq!(outcome.other_candidates.len(), 2, "the demo has three candidates");
    staged(|st| bmu::report::write_html(&dir.path().join("d.html"), &area, &outcome, Lang::Zh, st));
    staged(|st| bmu::report::write_map(&dir.path().join("m.svg"), &area, &outcome, Lang::Zh, st));
    assert_eq!(bmu::validate::runs_on_this_thread() - before, 3);
    // The dossier's comparison still shows every candidate's own count.
    let html = std::fs::read_to_string(dir.path().join("d.html")).unwrap();
    for c in &outcome.other_candidates {
        assert!(c.validation.is_some());
        assert!(html.contains(&format!("{}", c.passing)));
    }
}

#[test]
fn a_check_added_as_one_value_appears_in_the_report_and_the_dossier() {
    let dir = tempfile::tempdir().unwrap();
    let area = demo_area(1);
    let mut outcome = staged(|st| run::propose(&area, &outputs(dir.path()), st));
    let source = run::population_source(&area).unwrap();
    let ctx = Context::new(&area, source.as_deref());
    let registry = Registry::standard().with(MaxFacilities(3));
    let v = bmu::validate::validate_with(&ctx, &registry, &outcome.units).unwrap();

    // Report JSON: a key per unit, after the standard checks.
    let json = serde_json::to_value(&v).unwrap();
    let checks = json["units"][0]["checks"].as_object().unwrap();
    assert_eq!(
        checks.keys().next_back().map(String::as_str),
        Some("max_facilities")
    );
    assert!(checks["max_facilities"]["value"].is_number());
    // A required check that fails makes the unit fail.
    let failing = v
        .units
        .iter()
        .find(|u| u.checks[&CheckName("max_facilities")].pass() == Some(false))
        .expect("some demo unit holds more than three facilities");
    assert!(!failing.pass);

    // The dossier: its column, its cell values and its policy card.
    outcome.validation = Some(v);
    let page = dir.path().join("d.html");
    staged(|st| bmu::report::write_html(&page, &area, &outcome, Lang::English, st));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<a href=\"#rule-max_facilities\">Facility cap</a><small>≤ 3</small>"));
    assert!(html.contains("<article class=\"basis\" id=\"rule-max_facilities\">"));
    assert!(html.contains("The unit holds no more facilities than the cap"));
    assert!(html.contains(" facilities</span></td>"));
}
