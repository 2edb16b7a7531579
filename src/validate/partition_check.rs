//! Check `partition` as the registry runs it: a layer-wide check over `partition::partition`, which computes every
//! unit's gaps, overlaps and spill at once (that algorithm lives in `partition.rs`; this file only adapts it).

use super::check::{
    from_layer, take_cache, Basis, Check, Context, Evaluation, Layer, LayerResult, LayerState, Subject,
};
use super::{partition, CheckName, Unit};
use crate::Result;

/// The check as the registry runs it.
pub struct PartitionCheck;

impl Check for PartitionCheck {
    fn name(&self) -> CheckName {
        CheckName::Partition
    }
    fn layers(&self) -> &'static [Layer] {
        &[Layer::Town]
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("无缝无叠", "Partition")
    }
    fn column(&self) -> Option<&'static str> {
        Some("par")
    }
    fn legend(&self, t: &crate::config::Thresholds) -> String {
        format!(
            "no gap, overlap or spill ≥ {} m² and ≥ {} m wide",
            t.partition_tolerance_m2, t.partition_sliver_width_m
        )
    }
    fn basis(&self) -> Basis {
        Basis {
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
        }
    }
    fn threshold(&self, t: &crate::config::Thresholds, lang: crate::report::Lang) -> String {
        let (area, width) = (
            crate::report::fmt_int(t.partition_tolerance_m2),
            t.partition_sliver_width_m,
        );
        match lang {
            crate::report::Lang::Zh => format!("< {area} m² 或平均宽度 < {width} m"),
            _ => format!("< {area} m² or < {width} m wide"),
        }
    }
    fn short_threshold(&self, t: &crate::config::Thresholds) -> String {
        format!("< {} m²", crate::report::fmt_int(t.partition_tolerance_m2))
    }
    fn value_text(&self, e: &super::Evaluated) -> String {
        // Pieces under a hundredth of a km² in m² (the column's unit, where "0.00 km²" would hide them), larger
        // ones in km² with two decimals, as the dossier states every area.
        super::reason::area(e.value)
    }
    fn prepare(&self, units: &[Unit], ctx: &Context) -> Result<Option<LayerResult>> {
        let p = partition::partition(units, ctx.town.as_ref(), super::Noise::of(ctx.thresholds));
        Ok(Some(LayerResult {
            checks: p.checks,
            problems: p.problems,
        }))
    }
    fn prepare_again(
        &self,
        units: &[Unit],
        ctx: &Context,
        state: &mut LayerState,
    ) -> Result<Option<LayerResult>> {
        let mut cache = take_cache::<partition::PartitionCache>(state);
        let p = cache.partition(units, ctx.town.as_ref(), super::Noise::of(ctx.thresholds));
        *state = Some(cache);
        Ok(Some(LayerResult {
            checks: p.checks,
            problems: p.problems,
        }))
    }
    fn evaluate(&self, unit: &Subject, _ctx: &Context, layer: Option<&LayerResult>) -> Result<Evaluation> {
        Ok(from_layer(unit, layer))
    }
}
