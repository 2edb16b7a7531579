//! The vocabulary `bmu` speaks: feature classes, facility types and facility statuses.
//!
//! One module that both the configuration (`bmu.toml` names classes and types in its thresholds) and the study-area
//! model (every line has a class, every facility a type) use, so neither imports the other. Each word is parsed from
//! `bmu`'s own names, OSM values and the Chinese terms of 沪民区划〔2018〕6号 (`shared/policy/RULES.md`); in
//! `bmu.toml` an unknown word is a deserialisation error that names it and lists the words allowed.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// Classes of linear features, from the most to the least prominent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureClass {
    /// Expressways and motorways (barriers by default).
    Expressway,
    /// Trunk and primary roads.
    Arterial,
    /// Secondary, tertiary and other roads.
    Road,
    /// Service roads, footways, cycleways and tracks.
    Path,
    /// Rivers.
    River,
    /// Canals, streams and ditches.
    Canal,
    /// Railways (barriers by default).
    Railway,
}

impl FeatureClass {
    /// Every class.
    pub const ALL: [FeatureClass; 7] = [
        FeatureClass::Expressway,
        FeatureClass::Arterial,
        FeatureClass::Road,
        FeatureClass::Path,
        FeatureClass::River,
        FeatureClass::Canal,
        FeatureClass::Railway,
    ];

    /// `bmu`'s own class names, OSM `highway`/`waterway`/`railway` values, and common Chinese terms.
    ///
    /// OSM's `motorway_link` and `trunk_link` are ramps: short one-way links that end on ordinary streets. As
    /// expressways they would be barriers, and a ramp's stub would cut the block it descends into, so they are
    /// arterials. Elevated `trunk` roads (Shanghai's 高架) are arterials here too; `elevated_barriers` in a
    /// `[[features]]` layer makes them expressways.
    pub fn parse(value: &str) -> Option<FeatureClass> {
        use FeatureClass::*;
        let v = value.trim().to_ascii_lowercase();
        Some(match v.as_str() {
            "expressway" | "motorway" | "高速公路" | "快速路" | "高架" => Expressway,
            "arterial" | "trunk" | "trunk_link" | "motorway_link" | "primary" | "primary_link" | "主干路"
            | "主干道" => Arterial,
            "road" | "secondary" | "secondary_link" | "tertiary" | "tertiary_link" | "unclassified"
            | "residential" | "living_street" | "次干路" | "支路" | "道路" => Road,
            "path" | "service" | "footway" | "cycleway" | "track" | "pedestrian" | "steps" | "小路" => Path,
            "river" | "riverbank" | "河流" | "江" => River,
            "canal" | "stream" | "ditch" | "drain" | "河道" | "河" | "港" | "浜" => Canal,
            "railway" | "rail" | "light_rail" | "narrow_gauge" | "铁路" => Railway,
            _ => return None,
        })
    }

    /// The class as written in `bmu.toml` and outputs.
    pub fn name(self) -> &'static str {
        match self {
            FeatureClass::Expressway => "expressway",
            FeatureClass::Arterial => "arterial",
            FeatureClass::Road => "road",
            FeatureClass::Path => "path",
            FeatureClass::River => "river",
            FeatureClass::Canal => "canal",
            FeatureClass::Railway => "railway",
        }
    }
}

impl fmt::Display for FeatureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The facility vocabulary of `RULES.md`: the "3+3" types and the overlays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityType {
    /// Community affairs service centre.
    Affairs,
    /// Community health service centre.
    Health,
    /// Community culture centre.
    Culture,
    /// Police station.
    Police,
    /// Urban management team.
    UrbanManagement,
    /// Market supervision office.
    MarketSupervision,
    /// Grid management centre.
    GridCenter,
    /// Housing management station.
    HousingStation,
    /// Elderly care.
    ElderlyCare,
    /// Leisure and sports (overlay).
    Leisure,
    /// Transit stop (overlay).
    Transit,
    /// Park (overlay).
    Park,
    /// Commerce (overlay).
    Commerce,
}

impl FacilityType {
    /// Every class.
    pub const ALL: [FacilityType; 13] = [
        FacilityType::Affairs,
        FacilityType::Health,
        FacilityType::Culture,
        FacilityType::Police,
        FacilityType::UrbanManagement,
        FacilityType::MarketSupervision,
        FacilityType::GridCenter,
        FacilityType::HousingStation,
        FacilityType::ElderlyCare,
        FacilityType::Leisure,
        FacilityType::Transit,
        FacilityType::Park,
        FacilityType::Commerce,
    ];

    /// Stable names (`affairs`, `urban_management`, …), the official Chinese names and their common variants
    /// ([`FacilityType::WORDS`], shipped as `data/RULES.md`).
    pub fn parse(value: &str) -> Option<FacilityType> {
        let v = value.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        FacilityType::WORDS
            .iter()
            .find(|(_, words)| words.contains(&v.as_str()))
            .map(|(t, _)| *t)
    }

    /// Every word a facility layer or `bmu.toml` may use for each type: the stable name first, then the official
    /// name (as 沪民区划〔2018〕6号 and the district lists write it), then the variants planners write. One table, so
    /// that `data/RULES.md` can be checked against it.
    pub const WORDS: [(FacilityType, &'static [&'static str]); 13] = {
        use FacilityType::*;
        [
            (
                Affairs,
                &[
                    "affairs",
                    "社区事务受理服务中心",
                    "社区事务受理中心",
                    "社区事务受理服务分中心",
                    "事务受理中心",
                    "街镇社区事务受理服务中心",
                    "社区事务",
                ],
            ),
            (
                Health,
                &[
                    "health",
                    "社区卫生服务中心",
                    "社区卫生服务分中心",
                    "社区卫生服务站",
                    "卫生服务中心",
                    "卫生服务站",
                    "社区卫生",
                    "村卫生室",
                ],
            ),
            (
                Culture,
                &[
                    "culture",
                    "社区文化活动中心",
                    "社区文化活动分中心",
                    "文化活动中心",
                    "社区文化中心",
                    "综合文化站",
                    "社区文化",
                ],
            ),
            (
                Police,
                &[
                    "police",
                    "派出所",
                    "公安派出所",
                    "公安分局派出所",
                    "警务站",
                    "警务室",
                    "社区警务室",
                    "警务工作站",
                    "公安",
                ],
            ),
            (
                UrbanManagement,
                &[
                    "urban_management",
                    "城管执法中队",
                    "城市管理行政执法中队",
                    "城市管理综合执法中队",
                    "城管中队",
                    "城管执法队",
                    "城管执法分队",
                    "城管执法",
                    "城管",
                ],
            ),
            (
                MarketSupervision,
                &[
                    "market_supervision",
                    "市场监管所",
                    "市场监督管理所",
                    "市场监督管理局",
                    "市场监管",
                    "工商所",
                ],
            ),
            (
                GridCenter,
                &[
                    "grid_center",
                    "网格化管理分中心",
                    "网格化综合管理分中心",
                    "城市网格化综合管理分中心",
                    "网格化管理中心",
                    "网格中心",
                ],
            ),
            (
                HousingStation,
                &["housing_station", "房管工作站", "房屋管理工作站", "房管办"],
            ),
            (
                ElderlyCare,
                &[
                    "elderly_care",
                    "养老",
                    "养老服务设施",
                    "养老服务中心",
                    "综合为老服务中心",
                    "为老服务中心",
                    "养老院",
                    "敬老院",
                    "长者照护之家",
                    "日间照料中心",
                    "老年活动室",
                ],
            ),
            (Leisure, &["leisure", "休闲娱乐"]),
            (Transit, &["transit", "交通出行", "地铁站"]),
            (Park, &["park", "公园绿地", "公园"]),
            (Commerce, &["commerce", "商业配套"]),
        ]
    };

    /// The class as written in `bmu.toml` and outputs.
    pub fn name(self) -> &'static str {
        match self {
            FacilityType::Affairs => "affairs",
            FacilityType::Health => "health",
            FacilityType::Culture => "culture",
            FacilityType::Police => "police",
            FacilityType::UrbanManagement => "urban_management",
            FacilityType::MarketSupervision => "market_supervision",
            FacilityType::GridCenter => "grid_center",
            FacilityType::HousingStation => "housing_station",
            FacilityType::ElderlyCare => "elderly_care",
            FacilityType::Leisure => "leisure",
            FacilityType::Transit => "transit",
            FacilityType::Park => "park",
            FacilityType::Commerce => "commerce",
        }
    }

    /// The Chinese name used in reports.
    pub fn name_zh(self) -> &'static str {
        match self {
            FacilityType::Affairs => "社区事务受理服务中心",
            FacilityType::Health => "社区卫生服务中心",
            FacilityType::Culture => "社区文化活动中心",
            FacilityType::Police => "派出所",
            FacilityType::UrbanManagement => "城管执法中队",
            FacilityType::MarketSupervision => "市场监管所",
            FacilityType::GridCenter => "网格化管理分中心",
            FacilityType::HousingStation => "房管工作站",
            FacilityType::ElderlyCare => "养老",
            FacilityType::Leisure => "休闲娱乐",
            FacilityType::Transit => "交通出行",
            FacilityType::Park => "公园绿地",
            FacilityType::Commerce => "商业配套",
        }
    }

    /// The type an OpenStreetMap point of interest's tags map to (`tag` looks a key up), checked in this order:
    ///
    /// | type | tags |
    /// |---|---|
    /// | police | `amenity=police` |
    /// | health | `healthcare=*`, `amenity=clinic`, `doctors`, `hospital` |
    /// | culture | `amenity=community_centre`, `arts_centre` |
    /// | elderly_care | `amenity=nursing_home`, `social_facility=nursing_home`, `assisted_living`, `social_facility:for=senior` |
    /// | transit | `public_transport=station`, `stop_position`, `platform`, `railway=station`, `halt`, `tram_stop`, `subway_entrance`, `highway=bus_stop`, `amenity=bus_station` |
    /// | park | `leisure=park`, `garden` |
    /// | leisure | `leisure=sports_centre`, `fitness_centre`, `fitness_station`, `pitch`, `playground`, `stadium`, `swimming_pool` |
    /// | commerce | `shop=*`, `amenity=marketplace` |
    ///
    /// Affairs centres, urban management, market supervision, grid centres and housing stations have no OSM tag of
    /// their own: name them in `[facilities.type_map]` (`"amenity=townhall" = "affairs"`).
    pub fn from_osm_tags<'a>(tag: impl Fn(&str) -> Option<&'a str>) -> Option<FacilityType> {
        use FacilityType::*;
        let is = |k: &str, values: &[&str]| tag(k).is_some_and(|v| values.contains(&v));
        let rules: [(FacilityType, bool); 8] = [
            (Police, is("amenity", &["police"])),
            (
                Health,
                tag("healthcare").is_some() || is("amenity", &["clinic", "doctors", "hospital"]),
            ),
            (Culture, is("amenity", &["community_centre", "arts_centre"])),
            (
                ElderlyCare,
                is("amenity", &["nursing_home"])
                    || is("social_facility", &["nursing_home", "assisted_living"])
                    || is("social_facility:for", &["senior"]),
            ),
            (
                Transit,
                is("public_transport", &["station", "stop_position", "platform"])
                    || is("railway", &["station", "halt", "tram_stop", "subway_entrance"])
                    || is("highway", &["bus_stop"])
                    || is("amenity", &["bus_station"]),
            ),
            (Park, is("leisure", &["park", "garden"])),
            (
                Leisure,
                is(
                    "leisure",
                    &[
                        "sports_centre",
                        "fitness_centre",
                        "fitness_station",
                        "pitch",
                        "playground",
                        "stadium",
                        "swimming_pool",
                    ],
                ),
            ),
            (Commerce, tag("shop").is_some() || is("amenity", &["marketplace"])),
        ];
        rules.into_iter().find(|(_, hit)| *hit).map(|(t, _)| t)
    }

    /// Bit of this type in a facility mask.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for FacilityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a facility exists or is planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityStatus {
    /// Open and serving.
    Existing,
    /// Planned, not yet open.
    Planned,
}

impl FacilityStatus {
    /// The words of [`FacilityStatus::WORDS`].
    pub fn parse(value: &str) -> Option<FacilityStatus> {
        let v = value.trim().to_ascii_lowercase();
        FacilityStatus::WORDS
            .iter()
            .find(|(_, words)| words.contains(&v.as_str()))
            .map(|(s, _)| *s)
    }

    /// `bmu`'s own words and the Chinese terms of planning documents (`data/RULES.md`): "规划" is planned.
    pub const WORDS: [(FacilityStatus, &'static [&'static str]); 2] = [
        (
            FacilityStatus::Existing,
            &[
                "existing",
                "exists",
                "existing_facility",
                "现状",
                "已建",
                "现有",
                "建成",
            ],
        ),
        (
            FacilityStatus::Planned,
            &["planned", "plan", "规划", "拟建", "在建", "近期建设", "远期"],
        ),
    ];

    /// Fields read for the status when `[facilities] status_field` is not set (a run with flags only).
    pub const DEFAULT_FIELDS: [&'static str; 2] = ["status", "状态"];
}

/// A closed list of words with aliases: what `bmu.toml` settings of classes and types are made of.
pub trait Vocabulary: Sized + Copy + 'static {
    /// What one word is called in messages ("feature class").
    const WHAT: &'static str;
    /// Every canonical word, in order.
    fn all() -> &'static [Self];
    /// The word for a name or alias, if any.
    fn from_word(word: &str) -> Option<Self>;
    /// The canonical name.
    fn word(self) -> &'static str;
    /// Why `word` is refused: it, and the words allowed.
    fn unknown(word: &str) -> String {
        let allowed: Vec<&str> = Self::all().iter().map(|v| v.word()).collect();
        format!(
            "`{}` is not a {} (expected one of {})",
            crate::io::shown(word),
            Self::WHAT,
            allowed.join(", ")
        )
    }
}

/// Implements [`Vocabulary`] and a `Deserialize` through `parse`, so `bmu.toml` accepts the same aliases as the
/// layers do and refuses anything else with the list of canonical names.
macro_rules! vocabulary {
    ($ty:ty, $what:literal) => {
        impl Vocabulary for $ty {
            const WHAT: &'static str = $what;
            fn all() -> &'static [Self] {
                &<$ty>::ALL
            }
            fn from_word(word: &str) -> Option<Self> {
                <$ty>::parse(word)
            }
            fn word(self) -> &'static str {
                self.name()
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = String::deserialize(d)?;
                <$ty>::parse(&word).ok_or_else(|| serde::de::Error::custom(<$ty>::unknown(&word)))
            }
        }
    };
}

/// Canonical names joined for a message or a report: `expressway, railway`.
pub fn names<T: Vocabulary>(words: &[T]) -> String {
    words.iter().map(|w| w.word()).collect::<Vec<_>>().join(", ")
}

vocabulary!(FeatureClass, "feature class");
vocabulary!(FacilityType, "facility type");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osm_values_map_to_classes() {
        assert_eq!(FeatureClass::parse("motorway"), Some(FeatureClass::Expressway));
        assert_eq!(FeatureClass::parse("primary"), Some(FeatureClass::Arterial));
        assert_eq!(FeatureClass::parse("tertiary"), Some(FeatureClass::Road));
        assert_eq!(FeatureClass::parse("canal"), Some(FeatureClass::Canal));
        assert_eq!(FeatureClass::parse("rail"), Some(FeatureClass::Railway));
        assert_eq!(FeatureClass::parse("traffic_signals"), None);
    }

    #[test]
    fn motorway_and_trunk_links_are_not_barriers_by_default() {
        assert_eq!(FeatureClass::parse("motorway_link"), Some(FeatureClass::Arterial));
        assert_eq!(FeatureClass::parse("trunk_link"), Some(FeatureClass::Arterial));
        assert_eq!(FeatureClass::parse("motorway"), Some(FeatureClass::Expressway));
    }

    #[test]
    fn osm_tags_map_to_facility_types_in_table_order() {
        let of = |tags: &[(&str, &'static str)]| {
            let tags = tags.to_vec();
            FacilityType::from_osm_tags(move |k| tags.iter().find(|(key, _)| *key == k).map(|(_, v)| *v))
        };
        assert_eq!(of(&[("amenity", "police")]), Some(FacilityType::Police));
        assert_eq!(of(&[("healthcare", "centre")]), Some(FacilityType::Health));
        assert_eq!(
            of(&[("amenity", "community_centre")]),
            Some(FacilityType::Culture)
        );
        assert_eq!(of(&[("highway", "bus_stop")]), Some(FacilityType::Transit));
        assert_eq!(of(&[("shop", "convenience")]), Some(FacilityType::Commerce));
        // A clinic with a pharmacy shop is a clinic: health comes before commerce.
        assert_eq!(
            of(&[("shop", "chemist"), ("amenity", "clinic")]),
            Some(FacilityType::Health)
        );
        assert_eq!(of(&[("amenity", "townhall")]), None);
        assert_eq!(of(&[("highway", "traffic_signals")]), None);
    }

    #[test]
    fn facility_vocabulary_round_trips_and_accepts_chinese() {
        for t in FacilityType::ALL {
            assert_eq!(FacilityType::parse(t.name()), Some(t));
            assert_eq!(FacilityType::parse(t.name_zh()), Some(t));
        }
        assert_eq!(FacilityType::parse("hospital"), None);
    }

    #[test]
    fn official_facility_names_and_common_variants_are_accepted() {
        use FacilityType::*;
        for (word, t) in [
            ("公安派出所", Police),
            ("市场监督管理所", MarketSupervision),
            ("社区事务受理中心", Affairs),
            ("卫生服务中心", Health),
            ("文化活动中心", Culture),
            ("综合为老服务中心", ElderlyCare),
            ("城市管理综合执法中队", UrbanManagement),
        ] {
            assert_eq!(FacilityType::parse(word), Some(t), "{word}");
        }
    }

    #[test]
    fn every_type_has_its_stable_name_first_and_no_word_names_two_types() {
        let mut seen = std::collections::BTreeSet::new();
        for (i, (t, words)) in FacilityType::WORDS.iter().enumerate() {
            assert_eq!(*t, FacilityType::ALL[i]);
            assert_eq!(words[0], t.name());
            for w in *words {
                assert!(seen.insert(*w), "{w} names two types");
            }
        }
    }

    #[test]
    fn rules_md_lists_every_facility_word_the_loader_accepts() {
        let rules = include_str!("../data/RULES.md");
        for (_, words) in FacilityType::WORDS {
            for w in words {
                assert!(rules.contains(&format!("`{w}`")), "data/RULES.md lacks `{w}`");
            }
        }
        for (_, words) in FacilityStatus::WORDS {
            for w in words {
                assert!(
                    rules.contains(&format!("`{w}`")),
                    "data/RULES.md lacks status `{w}`"
                );
            }
        }
        assert_eq!(FacilityStatus::parse("规划"), Some(FacilityStatus::Planned));
    }
}
