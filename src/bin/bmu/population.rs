//! `bmu population`: read the polygons, measure them on the grid (or count points), write the table.
//!
//! With `-v` each stage prints its wall time, with `-vv` the steps inside it too: enough to see which parts of a run
//! are serial (reading the layer, writing the table) and which use every core (measuring), the split that bounds the
//! speed-up from more threads.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bmu::io::atomic::Staging;
use bmu::progress::{Progress, Stage};

use super::{to_stderr, Spinners};

/// The verb's flags.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct Args {
    /// Population grid: GeoTIFF (WorldPop, GHS-POP…) or ESRI ASCII grid; or CSV x,y,pop / GeoJSON points.
    #[arg(long)]
    pub grid: PathBuf,
    /// Polygons (GeoJSON or Shapefile).
    #[arg(long)]
    pub polygons: PathBuf,
    /// Id field of the polygons (default: the feature index).
    #[arg(long)]
    pub id_field: Option<String>,
    /// Overrides the grid's CRS (e.g. ESRI:54009 for GHS-POP written with a user-defined projection).
    #[arg(long)]
    pub grid_crs: Option<String>,
    /// Count field of point sources.
    #[arg(long)]
    pub population_field: Option<String>,
    /// CRS of the polygons when their file declares none.
    #[arg(long)]
    pub crs: Option<String>,
    /// Output: .csv, .json, .xlsx, or the polygons as .geojson, .kml (WGS84), .shp or .gpkg (their own CRS).
    #[arg(long)]
    pub out: PathBuf,
}

pub(crate) fn run(args: Args, quiet: bool, verbose: u8) -> anyhow::Result<ExitCode> {
    let Args {
        grid,
        polygons,
        id_field,
        grid_crs,
        population_field,
        crs,
        out,
    } = args;
    let progress = Arc::new(Spinners::new(quiet, verbose));
    let observer: Arc<dyn Progress> = progress.clone();
    let result = bmu::progress::observe(observer, || -> anyhow::Result<_> {
        let options = bmu::io::ReadOptions {
            default_crs: crs.as_deref().map(bmu::crs::Crs::parse).transpose()?,
            ..Default::default()
        };
        let mut staging = Staging::new(&[&grid, &polygons]);
        staging.claim(&out, "the output (--out)")?;
        progress.enter(Stage::Read);
        let layer = bmu::io::read_layer(&polygons, &options)?;
        progress.enter(Stage::Population);
        let table = bmu::population::report::zonal_table(
            &layer,
            id_field.as_deref(),
            &grid,
            grid_crs.as_deref(),
            population_field.as_deref(),
        )?;
        if !quiet {
            for w in &table.warnings {
                let line = format!("bmu: warning: {w}\n");
                progress.bar.suspend(|| to_stderr(&line))?;
            }
        }
        progress.enter(Stage::Write);
        table.write(&out, &mut staging)?;
        bmu::progress::timed("write: commit", || staging.commit())?;
        let total: f64 = table.rows.iter().map(|r| r.stats.population).sum();
        let rows = table.rows.len();
        // The layer and the table go with the process: freeing 10,000 features one by one after the output is
        // written was a serial tail of 5-13 ms for nothing.
        std::mem::forget((table, layer));
        progress.finish();
        Ok((rows, total))
    });
    let (rows, total) = result?;
    if !quiet {
        to_stderr(&format!(
            "bmu: {rows} polygons, total population {total:.1} -> {}\n",
            out.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
