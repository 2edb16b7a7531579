//! The report JSON as a type: [`Report`] is built once by the verb ([`crate::run`]) and serialised by serde; the
//! writers, the dossier and the terminal read its fields, never string keys.
//!
//! Field order is the key order of `report.json` (serde_json keeps it), so reordering a field changes the file.

use crate::config::{ProposeConfig, Thresholds};
use crate::propose::pipeline::Proposal;
use crate::validate::{Summary, UnitReport, Validation};
use serde::Serialize;

/// Everything `report.json` holds. `validate` writes the checks and the population source; `propose` adds the study
/// area, its settings, the proposal and the candidates compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Counts over all units.
    pub summary: Summary,
    /// One report per unit.
    pub units: Vec<UnitReport>,
    /// The thresholds used.
    pub thresholds: Thresholds,
    /// The study area (`propose` only).
    #[serde(flatten)]
    pub study: Option<StudyInfo>,
    /// The population source, as [`crate::population::source::PopulationSource::describe`] names it.
    pub population_source: Option<String>,
    /// How many blocks a plan validated by `validate --assignment` leaves in no unit (that verb only; `propose`
    /// lists its unassigned blocks in the proposal).
    #[serde(rename = "unassigned_blocks", skip_serializing_if = "Option::is_none")]
    pub plan_unassigned_blocks: Option<usize>,
    /// The proposal (`propose` only).
    #[serde(flatten)]
    pub proposal: Option<ProposalReport>,
    /// The facilities `bmu site` (or `propose --site`) proposed; `summary` and `units` then judge the plan with them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_sites: Option<crate::site::SitesReport>,
}

impl Report {
    /// The report of a validation: its summary, units and thresholds.
    pub fn of_validation(v: &Validation, population_source: Option<String>) -> Self {
        Report {
            summary: v.summary.clone(),
            units: v.units.clone(),
            thresholds: v.thresholds.clone(),
            study: None,
            population_source,
            plan_unassigned_blocks: None,
            proposal: None,
            proposed_sites: None,
        }
    }

    /// The report of a run with no units (a proposal whose every component is infeasible): the same schema, empty.
    pub fn empty(thresholds: &Thresholds, population_source: Option<String>) -> Self {
        Report {
            summary: Summary {
                units: 0,
                passing: 0,
                problems: Default::default(),
                not_evaluated: Default::default(),
            },
            units: Vec::new(),
            thresholds: thresholds.clone(),
            study: None,
            population_source,
            plan_unassigned_blocks: None,
            proposal: None,
            proposed_sites: None,
        }
    }
}

/// The study area a proposal ran on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StudyInfo {
    /// Its name (`bmu.toml`, else the folder's).
    pub study_area: String,
    /// The working CRS, as written in outputs.
    pub working_crs: String,
}

/// What `propose` adds to the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProposalReport {
    /// The `[propose]` settings used.
    pub settings: ProposeConfig,
    /// Blocks, candidates with their units, components.
    pub proposal: ProposalDetail,
    /// Blocks in no unit of the best candidate.
    pub unassigned_blocks: Vec<UnassignedBlock>,
    /// The candidates compared, best first, with their units passing.
    pub candidates: Vec<CandidateRow>,
}

/// The proposal part of the report: candidates ranked with their scores, components, unassigned blocks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProposalDetail {
    /// The blocks the units are made of.
    pub blocks: BlockCounts,
    /// p of the single-start greedy construction, what the multi-start search is measured against.
    pub greedy_baseline_p: usize,
    /// Every candidate, best first.
    pub candidates: Vec<RankedCandidate>,
    /// Connected components of the block graph.
    pub components: Vec<ComponentRow>,
    /// Blocks in no unit of the best candidate.
    pub unassigned_blocks: Vec<UnassignedBlock>,
}

/// Counts of the blocks a proposal used.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlockCounts {
    /// How many blocks.
    pub count: usize,
    /// True when cut from the town by its features rather than given.
    pub derived: bool,
    /// Segments the cleaning step added.
    pub inferred_segments: usize,
    /// Pairs of adjacent blocks.
    pub adjacent_pairs: usize,
}

/// One candidate partition with its score and units.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankedCandidate {
    /// 1 for the best.
    pub rank: usize,
    /// Number of units.
    pub p: usize,
    /// Normalised moment of inertia summed over units (4 decimals).
    pub compactness: f64,
    /// Coefficient of variation of unit populations (4 decimals).
    pub balance: f64,
    /// Its units.
    pub units: Vec<UnitRow>,
}

/// One proposed unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitRow {
    /// The unit's id.
    pub unit_id: String,
    /// Sum of its blocks' population (1 decimal).
    pub population: f64,
    /// Its area, km² (4 decimals).
    pub area_km2: f64,
    /// Its blocks' ids.
    pub blocks: Vec<String>,
}

/// One connected component of the block graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ComponentRow {
    /// How many blocks.
    pub blocks: usize,
    /// Its population (1 decimal).
    pub population: f64,
    /// Its area, km² (4 decimals).
    pub area_km2: f64,
    /// It can hold at least one unit.
    pub feasible: bool,
    /// Units it holds in the best candidate.
    pub units: usize,
    /// Why it holds none, when it holds none.
    pub reason: Option<String>,
    /// The unit an infeasible component was merged into (`exclaves = "merge"`).
    pub merged_into: Option<String>,
}

/// A block left out of every unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnassignedBlock {
    /// The block's id.
    pub block_id: String,
    /// Why (its component cannot reach the bounds).
    pub reason: String,
    /// Its component's population (1 decimal).
    pub component_population: f64,
    /// Its component's area, km² (4 decimals).
    pub component_area_km2: f64,
}

/// One candidate as the comparison lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CandidateRow {
    /// 1 for the best.
    pub rank: usize,
    /// Number of units.
    pub p: usize,
    /// Units passing every check.
    pub passing: usize,
    /// The solver's score.
    pub score: Score,
    /// Its units layer's file name.
    pub units: Option<String>,
}

/// The solver's score of a candidate, rounded to 4 decimals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Score {
    /// Number of units.
    pub p: usize,
    /// Normalised moment of inertia summed over units.
    pub compactness: f64,
    /// Coefficient of variation of unit populations.
    pub balance: f64,
}

fn round(v: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (v * m).round() / m
}

/// Blocks left out of every unit of candidate `k`, with the reason (their component cannot reach the bounds).
pub fn unassigned_blocks(p: &Proposal, k: usize) -> Vec<UnassignedBlock> {
    let Some(c) = p.solution.candidates.get(k) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for comp in &p.solution.components {
        for &b in &comp.blocks {
            if c.labels.get(b).copied().flatten().is_none() {
                out.push(UnassignedBlock {
                    block_id: p.blocks.ids[b].clone(),
                    reason: comp.reason.clone().unwrap_or_else(|| "not assigned".into()),
                    component_population: round(comp.population, 1),
                    component_area_km2: round(comp.area / 1e6, 4),
                });
            }
        }
    }
    out
}

impl ProposalDetail {
    /// The proposal part of the report of `p`.
    pub fn of(p: &Proposal) -> Self {
        ProposalDetail {
            blocks: BlockCounts {
                count: p.blocks.ids.len(),
                derived: p.blocks.derived,
                inferred_segments: p.blocks.inferred.len(),
                adjacent_pairs: p.adjacency.pairs().count(),
            },
            greedy_baseline_p: p.baseline_p,
            candidates: p
                .solution
                .candidates
                .iter()
                .enumerate()
                .map(|(k, c)| RankedCandidate {
                    rank: k + 1,
                    p: c.p,
                    compactness: round(c.score.compactness, 4),
                    balance: round(c.score.balance, 4),
                    units: p
                        .units
                        .get(k)
                        .map(|units| {
                            units
                                .iter()
                                .map(|u| UnitRow {
                                    unit_id: u.id.clone(),
                                    population: round(u.population, 1),
                                    area_km2: round(u.area / 1e6, 4),
                                    blocks: u.members.iter().map(|&b| p.blocks.ids[b].clone()).collect(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect(),
            components: p
                .solution
                .components
                .iter()
                .map(|c| ComponentRow {
                    blocks: c.blocks.len(),
                    population: round(c.population, 1),
                    area_km2: round(c.area / 1e6, 4),
                    feasible: c.feasible,
                    units: c.units,
                    reason: c.reason.clone(),
                    merged_into: c
                        .merged_into
                        .and_then(|l| p.units.first().and_then(|u| u.get(l as usize)))
                        .map(|u| u.id.clone()),
                })
                .collect(),
            unassigned_blocks: unassigned_blocks(p, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &serde_json::Value) -> Vec<&str> {
        v.as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn empty_proposal_report_has_the_validate_schema() {
        // A proposal with no units once wrote a summary without `not_evaluated`; readers of report.json get one schema.
        let r = Report::empty(&Thresholds::default(), None);
        let v = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(keys(&v), ["summary", "units", "thresholds", "population_source"]);
        assert_eq!(
            keys(&v["summary"]),
            ["units", "passing", "problems", "not_evaluated"]
        );
    }

    #[test]
    fn propose_fields_sit_around_the_population_source_in_file_order() {
        let mut r = Report::empty(&Thresholds::default(), Some("grid".into()));
        r.study = Some(StudyInfo {
            study_area: "t".into(),
            working_crs: "EPSG:32651".into(),
        });
        r.proposal = Some(ProposalReport {
            settings: ProposeConfig::default(),
            proposal: ProposalDetail {
                blocks: BlockCounts {
                    count: 0,
                    derived: true,
                    inferred_segments: 0,
                    adjacent_pairs: 0,
                },
                greedy_baseline_p: 0,
                candidates: Vec::new(),
                components: Vec::new(),
                unassigned_blocks: Vec::new(),
            },
            unassigned_blocks: Vec::new(),
            candidates: Vec::new(),
        });
        let v = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(
            keys(&v),
            [
                "summary",
                "units",
                "thresholds",
                "study_area",
                "working_crs",
                "population_source",
                "settings",
                "proposal",
                "unassigned_blocks",
                "candidates"
            ]
        );
    }
}
