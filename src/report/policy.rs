//! The policy basis of every check, as `shared/policy/RULES.md` maps it: the clause, its words, the threshold used
//! and where that number comes from. The dossier links each check column here, so a reviewer can see which rule a
//! ✗ breaks and whether its number is the policy's or a stated default.
//!
//! Quotations of 沪民区划〔2018〕6号 are verbatim (from `hu-min-quhua-2018-6.txt`); the 2024 draft standard and the
//! service-radius guidance are known from secondary summaries only and are paraphrased, marked as such.

use super::fmt_int;
use super::i18n::Lang;
use crate::config::Thresholds;
use crate::validate::CheckName;
use crate::vocab::names;

/// Where one check comes from.
pub struct Basis {
    pub check: CheckName,
    /// `一(一)`, `一(三)`, …
    pub clause: &'static str,
    /// The clause's words, verbatim when `verbatim`.
    pub text: &'static str,
    pub verbatim: bool,
    /// English translation of `text`.
    pub translation: &'static str,
    /// The rule as `bmu` checks it.
    pub rule: (&'static str, &'static str),
    /// Where the threshold comes from.
    pub source: (&'static str, &'static str),
}

const DOC: &str = "沪民区划〔2018〕6号";

/// The basis of every check, in report order.
pub const BASES: [Basis; 11] = [
    Basis {
        check: CheckName::Geometry,
        clause: "—",
        text: "",
        verbatim: false,
        translation: "",
        rule: (
            "单元为有效的单一面（OGC 简单要素规则），是其余校核的前提",
            "The unit is one valid polygon (OGC simple-feature rules): a precondition of every other check",
        ),
        source: ("OGC 简单要素规范", "OGC Simple Features"),
    },
    Basis {
        check: CheckName::Partition,
        clause: "一(一)",
        text: "在人口面积规模较大的郊区快速城市化地区、人口导入较多的大型居住社区及乡镇撤并后仍有大量居民居住的撤制镇地区,\
               ……合理设置基本管理单元。",
        verbatim: true,
        translation: "Set up basic management units in fast-urbanising suburbs with large populations and areas, in \
                      large residential communities, and in former towns merged away where many residents remain.",
        rule: (
            "单元位于镇域内，相互之间无缝隙、无重叠；小于容差的碎片忽略",
            "Units lie inside the town, with no gap or overlap between them; pieces under the tolerance are ignored",
        ),
        source: (
            "bmu 默认容差（政策无量化标准）",
            "bmu default tolerance (the policy gives no number)",
        ),
    },
    Basis {
        check: CheckName::MinPopulation,
        clause: "一(一)",
        text: "基本管理单元一般常住人口在2万人以上",
        verbatim: true,
        translation: "A basic management unit generally has more than 20,000 resident population.",
        rule: ("单元常住人口 ≥ 阈值", "Resident population of the unit ≥ threshold"),
        source: (DOC, DOC),
    },
    Basis {
        check: CheckName::MinArea,
        clause: "一(一)",
        text: "地域面积在2平方公里以上",
        verbatim: true,
        translation: "Its area is more than 2 km².",
        rule: ("单元平面面积（量测坐标系）≥ 阈值", "Planar area in the working CRS ≥ threshold"),
        source: (DOC, DOC),
    },
    Basis {
        check: CheckName::BoundaryClarity,
        clause: "一(一)",
        text: "区域边界清晰可辨",
        verbatim: true,
        translation: "Its boundaries are clear and recognisable.",
        rule: (
            "单元边界沿道路、河道、铁路或镇界（在容差距离内）的比例 ≥ 阈值；列出不清晰的边界段",
            "Share of the boundary within the tolerance of a road, waterway, railway or the town boundary ≥ \
             threshold; unclear stretches are listed",
        ),
        source: (
            "bmu 默认值（政策无量化标准，可配置）",
            "bmu default (the policy gives no number; configurable)",
        ),
    },
    Basis {
        check: CheckName::Barriers,
        clause: "2024",
        text: "上海市2024年相关技术标准征求意见稿（二手摘要）：新市镇服务半径1000–5000米、人口2万以上；\
               基本管理单元不被高速公路、铁路分割。",
        verbatim: false,
        translation: "Shanghai 2024 draft technical standard (secondary summary): suburban new towns serve within \
                      1,000–5,000 m and 20,000+ people; units are not split by expressways or railways.",
        rule: (
            "单元内部（边界内缩30米后）高速公路、铁路各类长度 ≤ 容差",
            "Length of each barrier class (expressway, railway) inside the unit shrunk by 30 m ≤ tolerance",
        ),
        source: (
            "2024年技术标准征求意见稿；容差为 bmu 默认值",
            "2024 draft technical standard; the tolerance is a bmu default",
        ),
    },
    Basis {
        check: CheckName::Facilities,
        clause: "一(三)",
        text: "配置社区事务、社区卫生、社区文化等3个服务设施,落实相应的公安、城管执法、市场监管等3类执法管理力量。",
        verbatim: true,
        translation: "Provide the three service facilities — community affairs, community health, community \
                      culture — and the three management forces — police, urban management, market supervision.",
        rule: (
            "单元内有每一类必需设施（现状或规划）各一处",
            "The unit holds one facility (existing or planned) of every required type",
        ),
        source: (DOC, DOC),
    },
    Basis {
        check: CheckName::ServiceCoverage,
        clause: "服务半径",
        text: "GB 50180-2018《城市居住区规划设计标准》：15分钟生活圈约800–1000米；\
               《上海市15分钟社区生活圈规划导则》（2016）：步行15分钟、约1公里。",
        verbatim: false,
        translation: "GB 50180-2018: the 15-minute walking life circle is about 800–1,000 m; Shanghai's \
                      15-minute community life circle guidance (2016): facilities within a 15-minute walk, about 1 km.",
        rule: (
            "每类服务设施半径内的单元常住人口比例 ≥ 阈值（设施可在单元外）",
            "For each service type, the share of the unit's residents within the radius of such a facility \
             (anywhere) ≥ threshold",
        ),
        source: (
            "GB 50180-2018；上海15分钟社区生活圈导则（2016）",
            "GB 50180-2018; Shanghai 15-minute life circle guidance (2016)",
        ),
    },
    Basis {
        check: CheckName::CommunityIntegrity,
        clause: "一(一)",
        text: "综合考虑人口规模、地域面积、城市化程度、社区认同等因素,合理设置基本管理单元。",
        verbatim: true,
        translation: "Set units taking into account population, area, degree of urbanisation and community \
                      identity.",
        rule: (
            "居委、村或小区（地块）不被拆分：每个地块须有不低于阈值的面积位于同一单元",
            "Residential committees, villages or compounds (blocks) are never split: one unit holds at least the \
             threshold share of each block",
        ),
        source: (
            "bmu 默认值（政策无量化标准）",
            "bmu default (the policy gives no number)",
        ),
    },
    Basis {
        check: CheckName::Compactness,
        clause: "—",
        text: "",
        verbatim: false,
        translation: "",
        rule: (
            "Polsby–Popper 紧凑度 4πA/P²（圆为1），仅报告",
            "Polsby–Popper compactness 4πA/P² (a disc scores 1), reported only",
        ),
        source: ("—", "—"),
    },
    Basis {
        check: CheckName::Overlays,
        clause: "一(三)",
        text: "结合社区实际需求,叠加配置城市网格化综合管理分中心、房管工作站等机构……\
               合理布局养老服务、休闲娱乐、交通出行、公园绿地和商业配套等公共服务设施",
        verbatim: true,
        translation: "As communities need, add grid-management centres and housing stations; place elderly care, \
                      leisure, transit, parks and commerce.",
        rule: ("单元内已有的叠加配置类型数，仅报告", "Overlay types present in the unit, reported only"),
        source: (DOC, DOC),
    },
];

/// The threshold a check used, in words.
pub fn threshold(check: CheckName, t: &Thresholds, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    match check {
        CheckName::Geometry => if zh { "单一有效面" } else { "one valid part" }.into(),
        CheckName::Partition => format!("< {} m²", fmt_int(t.partition_tolerance_m2)),
        CheckName::MinPopulation => format!("≥ {}", fmt_int(t.min_population)),
        CheckName::MinArea => format!("≥ {} km²", t.min_area_km2),
        CheckName::BoundaryClarity => {
            if zh {
                format!("≥ {}（{} m 内）", pct(t.boundary_share), t.boundary_tolerance_m)
            } else {
                format!("≥ {} within {} m", pct(t.boundary_share), t.boundary_tolerance_m)
            }
        }
        CheckName::Barriers => format!(
            "≤ {} m ({})",
            fmt_int(t.barrier_tolerance_m),
            names(&t.barrier_classes)
        ),
        CheckName::Facilities => {
            if zh {
                format!("{} 类必需设施", t.required_facilities.len())
            } else {
                format!("{} required types", t.required_facilities.len())
            }
        }
        CheckName::ServiceCoverage => format!(
            "≥ {} / {} m ({})",
            pct(t.service_share),
            fmt_int(t.service_radius_m),
            names(&t.service_types)
        ),
        CheckName::CommunityIntegrity => format!("≥ {}", pct(t.community_share)),
        CheckName::Compactness | CheckName::Overlays => if zh { "仅报告" } else { "reported only" }.into(),
    }
}
