//! Why a check failed or could not run, as data: a [`Reason`] is a code with its parameters (numbers, feature names,
//! facility types), rendered per [`Lang`] by whoever shows it. The report JSON carries the English sentence (for
//! people reading the file) beside `reason_code` and `reason_params` (for programs); the dossier renders the same
//! value in Chinese; the terminal adds its own hints ("give --blocks"), since the library knows no command line.
//!
//! The English wording is the one the report JSON has always carried, so that files stay comparable across
//! versions; only the command-line hints left it.

use crate::model::{FacilityType, FeatureClass};
use crate::report::{fmt_int, i18n, Lang};
use serde::Serialize;

/// Why a check failed, what limited it, or why it could not run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "reason_code", content = "reason_params", rename_all = "snake_case")]
pub enum Reason {
    /// No population source: population checks cannot run.
    NoPopulationSource,
    /// No linear features to follow: boundary clarity cannot run.
    NoFeatureLayers,
    /// No linear features that could be barriers.
    NoBarrierLayers,
    /// No facilities layer.
    NoFacilitiesLayer,
    /// No overlay points in the study area.
    NoOverlayLayers,
    /// No blocks layer: community integrity cannot run.
    NoBlocksLayer,
    /// A layer-wide check was asked for a unit it did not prepare.
    NotPrepared,
    /// Population below the minimum.
    PopulationBelow {
        /// The unit's population.
        population: f64,
        /// The minimum.
        min: f64,
    },
    /// Area below the minimum.
    AreaBelow {
        /// The unit's area, km².
        area_km2: f64,
        /// The minimum, km².
        min_km2: f64,
    },
    /// Too little of the boundary follows recognisable features.
    UnclearBoundary {
        /// Share of the boundary along a feature, 0–1.
        share: f64,
        /// How near a feature counts, m.
        tolerance_m: f64,
        /// The share needed, 0–1.
        needs: f64,
        /// Length of boundary along no feature, m.
        unclear_m: f64,
        /// In how many stretches.
        stretches: usize,
    },
    /// Without a town boundary or blocks, gaps and spill cannot be measured.
    NoTownBoundary,
    /// The unit overlaps other units.
    Overlaps {
        /// Overlap area, m².
        area_m2: f64,
    },
    /// The unit borders gaps in the partition.
    BordersGaps {
        /// Gap area, m².
        area_m2: f64,
    },
    /// Part of the unit lies outside the town.
    OutsideTown {
        /// Area outside, m².
        area_m2: f64,
    },
    /// The unit holds pieces of blocks no unit holds whole.
    SplitsBlocks {
        /// The blocks, by id (blocks carry no names).
        blocks: Vec<String>,
        /// The share of a block one unit must hold, 0–1.
        share: f64,
    },
    /// An expressway or railway runs through the unit.
    BarrierInside {
        /// Its class.
        class: FeatureClass,
        /// Length inside the unit's interior, m.
        length_m: f64,
        /// The features, by name (by id where nameless).
        features: Vec<String>,
    },
    /// Required facility types absent from the unit.
    MissingFacilities {
        /// The types.
        types: Vec<FacilityType>,
    },
    /// The unit is not one contiguous territory.
    SeparateParts {
        /// How many parts.
        parts: usize,
    },
    /// The unit is in several parts, and every detached part is joined to the main part by road
    /// (`thresholds.accept_exclaves_by_road`): the geometry check passes and says why.
    ExclaveJoinedByRoad {
        /// The roads, by name (by id where nameless), in part order.
        roads: Vec<String>,
    },
    /// An OGC validity violation.
    InvalidGeometry {
        /// The violation, in geo's words (English only).
        detail: String,
    },
    /// Too few residents within reach of a service type.
    ServiceBelow {
        /// The service type.
        service: FacilityType,
        /// Share of residents within reach, 0–1.
        share: f64,
        /// The service radius, m.
        radius_m: f64,
        /// The share needed, 0–1.
        needs: f64,
        /// The radius is walked along the network (`service_distance = "network"`), not a straight line.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        along_network: bool,
    },
    /// The unit has no residents, so service shares are shares of its area.
    NoResidents,
    /// New facilities proposed by `bmu site` for a unit (a finding of the plan, not a failure).
    SitesProposed {
        /// The facility type.
        service: FacilityType,
        /// The unit they were sited for.
        unit: String,
        /// The candidates they stand on.
        sites: Vec<String>,
        /// The unit's service share before, 0–1 (service types only).
        share_before: Option<f64>,
        /// And with the sites.
        share_after: Option<f64>,
        /// The radius is walked along the network.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        along_network: bool,
    },
}

impl Reason {
    /// The stable code, as `reason_code` in the report JSON.
    pub fn code(&self) -> &'static str {
        use Reason::*;
        match self {
            NoPopulationSource => "no_population_source",
            NoFeatureLayers => "no_feature_layers",
            NoBarrierLayers => "no_barrier_layers",
            NoFacilitiesLayer => "no_facilities_layer",
            NoOverlayLayers => "no_overlay_layers",
            NoBlocksLayer => "no_blocks_layer",
            NotPrepared => "not_prepared",
            PopulationBelow { .. } => "population_below",
            AreaBelow { .. } => "area_below",
            UnclearBoundary { .. } => "unclear_boundary",
            NoTownBoundary => "no_town_boundary",
            Overlaps { .. } => "overlaps",
            BordersGaps { .. } => "borders_gaps",
            OutsideTown { .. } => "outside_town",
            SplitsBlocks { .. } => "splits_blocks",
            BarrierInside { .. } => "barrier_inside",
            MissingFacilities { .. } => "missing_facilities",
            SeparateParts { .. } => "separate_parts",
            ExclaveJoinedByRoad { .. } => "exclave_joined_by_road",
            InvalidGeometry { .. } => "invalid_geometry",
            ServiceBelow { .. } => "service_below",
            NoResidents => "no_residents",
            SitesProposed { .. } => "sites_proposed",
        }
    }

    /// The reason in words, in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        match lang {
            Lang::English => self.english(),
            Lang::Zh => self.chinese(),
        }
    }

    fn english(&self) -> String {
        use Reason::*;
        match self {
            NoPopulationSource => "no population source".into(),
            NoFeatureLayers => "no linear feature layers (roads, rivers, railways)".into(),
            NoBarrierLayers => "no linear feature layers (expressways, railways)".into(),
            NoFacilitiesLayer => "no facilities layer".into(),
            NoOverlayLayers => "no overlay layers (e.g. metro stations, parks) in the study area".into(),
            NoBlocksLayer => "no blocks layer (residential committees / villages)".into(),
            NotPrepared => "not prepared".into(),
            PopulationBelow { population, min } => format!("population {population:.0} is below {min:.0}"),
            AreaBelow { area_km2, min_km2 } => format!("area {area_km2:.2} km² is below {min_km2} km²"),
            UnclearBoundary {
                share,
                tolerance_m,
                needs,
                unclear_m,
                stretches,
            } => format!(
                "{:.0} % of the boundary follows a recognisable feature within {tolerance_m} m (needs {:.0} %); \
                 {unclear_m:.0} m unclear in {stretches} stretches",
                share * 100.0,
                needs * 100.0,
            ),
            NoTownBoundary => "gaps and spill not evaluated: no town boundary and no blocks".into(),
            Overlaps { area_m2 } => format!("overlaps other units: {}", area(*area_m2)),
            BordersGaps { area_m2 } => format!("borders gaps: {}", area(*area_m2)),
            OutsideTown { area_m2 } => format!("lies outside the town: {}", area(*area_m2)),
            SplitsBlocks { blocks, share } => format!(
                "splits {} block(s) (no unit holds {:.0} % of them): {}",
                blocks.len(),
                share * 100.0,
                blocks.join(", ")
            ),
            BarrierInside {
                class,
                length_m,
                features,
            } => format!(
                "{class} runs {length_m:.0} m through the interior ({})",
                features.join(", ")
            ),
            MissingFacilities { types } => {
                let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
                format!("missing: {}", names.join(", "))
            }
            SeparateParts { parts } => {
                format!("{parts} separate parts; a unit must be one contiguous territory")
            }
            ExclaveJoinedByRoad { roads } => format!("exclave joined to the main part by {}", roads.join(", ")),
            InvalidGeometry { detail } => format!("invalid geometry: {detail}"),
            ServiceBelow {
                service,
                share,
                radius_m,
                needs,
                along_network,
            } => format!(
                "{:.0} % of residents within {radius_m:.0} m{} of a {service} facility (needs {:.0} %)",
                share * 100.0,
                if *along_network { " along the walking network" } else { "" },
                needs * 100.0
            ),
            NoResidents => "the unit has no residents: shares are of its area".into(),
            SitesProposed {
                service,
                unit,
                sites,
                share_before,
                share_after,
                along_network,
            } => {
                let what = match sites.len() {
                    1 => format!("one {service} facility at site {}", sites.join(", ")),
                    n => format!("{n} {service} facilities at sites {}", sites.join(", ")),
                };
                let verb = if sites.len() == 1 { "raises" } else { "raise" };
                match (share_before, share_after) {
                    (Some(b), Some(a)) => format!(
                        "{what} {verb} {unit} from {:.0} % to {:.0} %{}",
                        b * 100.0,
                        a * 100.0,
                        if *along_network { " along the walking network" } else { "" }
                    ),
                    _ => format!("{what} {}: {unit} lacked the type", if sites.len() == 1 { "fills the gap" } else { "fill the gap" }),
                }
            }
        }
    }

    fn chinese(&self) -> String {
        use Reason::*;
        match self {
            NoPopulationSource => "无人口数据来源".into(),
            NoFeatureLayers => "无线状要素图层（道路、河流、铁路）".into(),
            NoBarrierLayers => "无线状要素图层（高速公路、铁路）".into(),
            NoFacilitiesLayer => "无设施图层".into(),
            NoOverlayLayers => "研究范围内无叠加配置图层（如地铁站、公园）".into(),
            NoBlocksLayer => "无地块图层（居委/村）".into(),
            NotPrepared => "未做全图层预计算".into(),
            PopulationBelow { population, min } => {
                format!("常住人口 {} 人，低于 {} 人", fmt_int(*population), fmt_int(*min))
            }
            AreaBelow { area_km2, min_km2 } => {
                format!("面积 {area_km2:.2} km²，低于 {min_km2} km²")
            }
            UnclearBoundary {
                share,
                tolerance_m,
                needs,
                unclear_m,
                stretches,
            } => format!(
                "边界距可辨识要素 {} m 以内的部分占 {}（需 ≥ {}）；不清晰的边界共 {} m，分 {stretches} 段",
                fmt_int(*tolerance_m),
                percent(*share),
                percent(*needs),
                fmt_int(*unclear_m),
            ),
            NoTownBoundary => "无镇界和地块图层，缝隙与越界未评估".into(),
            Overlaps { area_m2 } => format!("与其他单元重叠 {}", area(*area_m2)),
            BordersGaps { area_m2 } => format!("邻接未覆盖的缝隙 {}", area(*area_m2)),
            OutsideTown { area_m2 } => format!("越出镇界 {}", area(*area_m2)),
            SplitsBlocks { blocks, share } => format!(
                "拆分了 {} 个地块（没有一个单元包含其 {} 以上）：{}",
                blocks.len(),
                percent(*share),
                blocks.join("、")
            ),
            BarrierInside {
                class,
                length_m,
                features,
            } => format!(
                "{}（{}）穿越单元内部 {} m",
                i18n::feature_class(Lang::Zh, *class),
                features.join("、"),
                fmt_int(*length_m)
            ),
            MissingFacilities { types } => {
                let names: Vec<&str> = types.iter().map(|t| i18n::facility(Lang::Zh, *t)).collect();
                format!("缺少：{}", names.join("、"))
            }
            SeparateParts { parts } => format!("由 {parts} 块互不相连的部分组成；单元应为一块连续的区域"),
            ExclaveJoinedByRoad { roads } => format!("飞地经由{}与主体相连", roads.join("、")),
            // geo states the violation in English; its place in the ring is of no use to a reviewer, who redraws.
            InvalidGeometry { .. } => "几何图形无效（边界自相交或环无面积等），需重新绘制".into(),
            ServiceBelow {
                service,
                share,
                radius_m,
                needs,
                along_network,
            } => format!(
                "{}：{}{} m 服务半径内居民占 {}（需 ≥ {}）",
                i18n::facility(Lang::Zh, *service),
                if *along_network { "沿步行路网 " } else { "" },
                fmt_int(*radius_m),
                percent(*share),
                percent(*needs)
            ),
            NoResidents => "单元内无常住人口：按面积比例计算覆盖率".into(),
            SitesProposed {
                service,
                unit,
                sites,
                share_before,
                share_after,
                along_network,
            } => {
                let count = match sites.len() {
                    1 => "一".to_string(),
                    n => n.to_string(),
                };
                let what = format!(
                    "新增{count}处{}（选址 {}）",
                    i18n::facility(Lang::Zh, *service),
                    sites.join("、")
                );
                match (share_before, share_after) {
                    (Some(b), Some(a)) => format!(
                        "{what}，{unit} 的{}覆盖率由 {} 提高到 {}",
                        if *along_network { "沿步行路网" } else { "" },
                        percent(*b),
                        percent(*a)
                    ),
                    _ => format!("{what}，补齐 {unit} 缺少的设施类型"),
                }
            }
        }
    }
}

/// A share 0–1 as a whole percentage: 80 %.
fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// An area in m² as the dossier states areas: km² with two decimals from a hundredth of a km² up, m² below (where
/// "0.00 km²" would hide a real overlap).
pub(crate) fn area(m2: f64) -> String {
    if m2 >= 10_000.0 {
        format!("{:.2} km²", m2 / 1e6)
    } else {
        format!("{} m²", fmt_int(m2))
    }
}

/// A reason as the report JSON writes it: the English sentence, the code and the parameters.
#[derive(Serialize)]
pub(crate) struct Written<'a> {
    reason: String,
    #[serde(flatten)]
    data: &'a Reason,
}

impl<'a> Written<'a> {
    pub(crate) fn new(data: &'a Reason) -> Self {
        Written {
            reason: data.text(Lang::English),
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_serialise_as_code_and_parameters_beside_the_english_sentence() {
        let r = Reason::PopulationBelow {
            population: 19_000.4,
            min: 20_000.0,
        };
        let v = serde_json::to_value(Written::new(&r)).unwrap();
        assert_eq!(v["reason"], "population 19000 is below 20000");
        assert_eq!(v["reason_code"], "population_below");
        assert_eq!(v["reason_params"]["min"], 20_000.0);
        let v = serde_json::to_value(Written::new(&Reason::NoBlocksLayer)).unwrap();
        assert_eq!(v["reason_code"], "no_blocks_layer");
        assert_eq!(v["reason_code"], Reason::NoBlocksLayer.code());
    }

    /// Every reason the checks can give, with parameters a real run could produce.
    pub(crate) fn every_reason() -> Vec<Reason> {
        use Reason::*;
        vec![
            NoPopulationSource,
            NoFeatureLayers,
            NoBarrierLayers,
            NoFacilitiesLayer,
            NoOverlayLayers,
            NoBlocksLayer,
            NotPrepared,
            PopulationBelow {
                population: 29.0,
                min: 20_000.0,
            },
            AreaBelow {
                area_km2: 1.5,
                min_km2: 2.0,
            },
            UnclearBoundary {
                share: 0.5,
                tolerance_m: 30.0,
                needs: 0.8,
                unclear_m: 1200.0,
                stretches: 3,
            },
            NoTownBoundary,
            Overlaps { area_m2: 150.0 },
            BordersGaps { area_m2: 2e6 },
            OutsideTown { area_m2: 300.0 },
            SplitsBlocks {
                blocks: vec!["B-12".into()],
                share: 0.95,
            },
            BarrierInside {
                class: FeatureClass::Expressway,
                length_m: 301.0,
                features: vec!["嘉闵高架".into()],
            },
            MissingFacilities {
                types: vec![FacilityType::Affairs, FacilityType::Police],
            },
            SeparateParts { parts: 2 },
            ExclaveJoinedByRoad {
                roads: vec!["华翔路".into()],
            },
            InvalidGeometry {
                detail: "exterior ring is not closed".into(),
            },
            ServiceBelow {
                service: FacilityType::Health,
                share: 0.42,
                radius_m: 1000.0,
                needs: 0.8,
                along_network: true,
            },
            NoResidents,
            SitesProposed {
                service: FacilityType::Health,
                unit: "U02".into(),
                sites: vec!["S12".into()],
                share_before: Some(0.0),
                share_after: Some(0.86),
                along_network: false,
            },
            SitesProposed {
                service: FacilityType::Police,
                unit: "U02".into(),
                sites: vec!["S12".into(), "S13".into()],
                share_before: None,
                share_after: None,
                along_network: true,
            },
        ]
    }

    #[test]
    fn gap_overlap_and_spill_areas_read_in_km2_from_a_hundredth_of_a_km2_not_raw_m2() {
        // Regression: "borders gaps: 2000000 m²" in the English dossier and the report JSON's sentences.
        assert_eq!(
            Reason::BordersGaps { area_m2: 2e6 }.text(Lang::English),
            "borders gaps: 2.00 km²"
        );
        assert_eq!(
            Reason::OutsideTown { area_m2: 1_234_567.0 }.text(Lang::English),
            "lies outside the town: 1.23 km²"
        );
        assert_eq!(
            Reason::Overlaps { area_m2: 150.0 }.text(Lang::English),
            "overlaps other units: 150 m²"
        );
        assert_eq!(
            Reason::Overlaps { area_m2: 150.0 }.text(Lang::Zh),
            "与其他单元重叠 150 m²"
        );
    }

    #[test]
    fn partition_value_column_reads_in_km2_for_large_pieces() {
        // Regression: the dossier's partition column printed "2,000,000 m²" for a unit spilling 2 km² outside town.
        use crate::validate::check::Check;
        let value = |v: f64| {
            crate::validate::partition_check::PartitionCheck.value_text(&crate::validate::Evaluated {
                pass: false,
                value: v,
                threshold: Some(100.0),
                reasons: Vec::new(),
                detail: Default::default(),
            })
        };
        assert_eq!(value(2e6), "2.00 km²");
        assert_eq!(value(0.0), "0 m²");
        assert_eq!(value(450.0), "450 m²");
    }

    #[test]
    fn site_findings_name_each_proposal_in_both_languages() {
        let r = Reason::SitesProposed {
            service: FacilityType::Health,
            unit: "U02".into(),
            sites: vec!["S12".into()],
            share_before: Some(0.0),
            share_after: Some(0.86),
            along_network: false,
        };
        assert_eq!(
            r.text(Lang::English),
            "one health facility at site S12 raises U02 from 0 % to 86 %"
        );
        assert_eq!(
            r.text(Lang::Zh),
            "新增一处社区卫生服务中心（选址 S12），U02 的覆盖率由 0% 提高到 86%"
        );
        assert_eq!(r.code(), "sites_proposed");
    }

    #[test]
    fn no_reason_names_a_command_line_flag_in_any_language() {
        for r in every_reason() {
            for lang in [Lang::Zh, Lang::English] {
                let t = r.text(lang);
                assert!(!t.contains("--"), "{t}");
            }
        }
    }

    #[test]
    fn chinese_reasons_have_no_latin_words_but_ids_and_units() {
        for r in every_reason() {
            let t = r.text(Lang::Zh);
            let stripped = t
                .replace("km²", "")
                .replace("m²", "")
                .replace("B-12", "")
                .replace("U02", "")
                .replace("S12", "")
                .replace("S13", "");
            let latin: Vec<&str> = stripped
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| !w.is_empty() && *w != "m")
                .collect();
            assert!(latin.is_empty(), "{t}: {latin:?}");
        }
    }
}
