//! Command-line arguments (clap derive). Every verb carries examples in its `--help`.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use skintex::series::Shard;

const MAIN_EXAMPLES: &str = "\
Examples:
  skintex analyze photos/                 measure every patient, reports in skintex-report/
  skintex analyze photos/ -o out/ -j 2    same, into out/, on 2 threads
  skintex compare before.jpg after.jpg     one pair, no folder layout needed
  skintex regress fixtures/photos --expected fixtures/expected.json
                                          check results against golden values (exit 3 on drift)
  skintex analyze photos/ --shard 0/4 -o out-0/   the first quarter of the patients (one machine)
  skintex merge out-0 out-1 out-2 out-3 -o out/   one index and summary over the shards
  skintex check photos/                   decode every photo, report problems, measure nothing
  skintex schema > report.schema.json     the JSON Schema of report.json
  skintex synth demo/ --patients 3        write a synthetic series with known ground truth

Exit codes: 0 all good · 1 some inputs failed (the others were analysed) · 2 usage or configuration
error · 3 regression drift.";

const ANALYZE_EXAMPLES: &str = "\
Input layout:
  PHOTOS/<patient>/series.toml              optional: mm_per_px, roi, baseline
  PHOTOS/<patient>/<YYYY-MM-DD…>/<view>.jpg one photo per view (front.jpg, left.png, …)

Examples:
  skintex analyze fixtures/photos
  skintex analyze /data/clinic -o /data/reports --max-megapixels 150
  skintex analyze photos/ -q -j 4           no progress bar, 4 threads
  skintex analyze photos/ --shard 2/8 -o out-2/
                                            only shard 2 of 8 (0-based); then `skintex merge`

Each patient gets OUT/<patient>/ report.json, report.html, metrics.csv, fhir-bundle.json and images/;
OUT/index.html lists every patient and OUT/summary.csv holds all metrics. A photo that cannot be read
is listed in its patient's `errors` and on stderr; everything else is still analysed, and the exit
code is then 1.";

const COMPARE_EXAMPLES: &str = "\
Examples:
  skintex compare before.jpg after.jpg                   reports in skintex-report/compare/
  skintex compare a.jpg b.jpg -o out/ --mm-per-px 0.05 --before-date 2026-01-15 --after-date 2026-03-12

Writes the same files as `analyze` for one patient with two sessions (before = baseline). Without
dates, each photo is dated by its EXIF capture date, else by its file's modification time.";

const CHECK_EXAMPLES: &str = "\
Examples:
  skintex check /data/clinic               is every photo readable, dated and large enough?
  skintex check photos/ --shard 0/4        only the patients of shard 0 of 4

Finds every patient, session and view as `analyze` does and decodes every photo (in parallel), but
measures nothing and writes nothing. Prints each problem as `analyze` would report it; exit 1 if there
are any. The time it reports is the decoding cost of the archive, against which `analyze` is measured.";

const MERGE_EXAMPLES: &str = "\
Examples:
  skintex merge out-0 out-1 out-2 out-3 -o report/   shards in separate folders: copied into report/
  skintex merge /shared/report                       shards that all wrote into one shared folder

Reads every OUT/<patient>/report.json of the shard outputs and writes index.html and summary.csv
exactly as one `analyze` over all patients would (byte for byte); patient folders that are not
already in the destination are copied there. A patient found in two shard outputs is an error (exit
2). Exit 1 if some patient's report lists errors.";

const REGRESS_EXAMPLES: &str = "\
Examples:
  skintex regress fixtures/photos --expected fixtures/expected.json
  skintex regress fixtures/photos --expected fixtures/expected.json --write   regenerate the goldens

Recomputes every metric of every session and compares it with the golden value within the tolerance
the file states for that metric; prints what drifted. Exit 0: all within tolerance; 3: drift.";

const SYNTH_EXAMPLES: &str = "\
Examples:
  skintex synth fixtures/photos --force     regenerate the bundled fixtures byte for byte
  skintex synth /tmp/s --patients 25 --sessions 4 --width 4000 --height 3000
  skintex synth /tmp/s --config synth.toml  every parameter from a file (see `synth::SynthConfig`)

Writes OUT/<patient>/<date>/<view>.jpg, OUT/<patient>/series.toml and OUT/truth.json (the exact
positions, sizes and contrasts of every pore and scar, and each session's transform and exposure).";

/// Objective skin texture, pore and scar measurements from before/after photo series.
#[derive(Debug, Parser)]
#[command(name = "skintex", version, about, after_help = MAIN_EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// No progress bar and no summary; errors are still printed.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(short = 'j', long, global = true, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure every patient's photo series and write the reports.
    #[command(after_help = ANALYZE_EXAMPLES)]
    Analyze(AnalyzeArgs),
    /// Measure one before/after pair (no folder layout needed) and write the same reports.
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare(CompareArgs),
    /// Decode every photo of an archive without analysing it: a quick check before a long run.
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Build one index.html and summary.csv over the outputs of `analyze --shard` runs.
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
    /// Recompute a photo folder and compare every metric with golden results.
    #[command(after_help = REGRESS_EXAMPLES)]
    Regress(RegressArgs),
    /// Print the JSON Schema of report.json.
    Schema,
    /// Write a deterministic synthetic photo series with exact ground truth.
    #[command(after_help = SYNTH_EXAMPLES)]
    Synth(SynthArgs),
}

/// Settings shared by the verbs that measure.
#[derive(Debug, Clone, Args)]
pub struct MeasureArgs {
    /// Refuse photos whose header declares more than this many megapixels.
    #[arg(long, value_name = "MP", default_value_t = 100.0)]
    pub max_megapixels: f64,
    /// Noise floor of texture (roughness) changes, percent.
    #[arg(long, value_name = "PCT", default_value_t = 2.0)]
    pub noise_texture: f64,
    /// Noise floor of pore changes, percent.
    #[arg(long, value_name = "PCT", default_value_t = 4.0)]
    pub noise_pores: f64,
    /// Noise floor of scar changes, percent.
    #[arg(long, value_name = "PCT", default_value_t = 6.0)]
    pub noise_scars: f64,
}

/// `skintex compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The earlier photo (the baseline).
    #[arg(value_name = "BEFORE")]
    pub before: PathBuf,
    /// The later photo.
    #[arg(value_name = "AFTER")]
    pub after: PathBuf,
    /// Where the reports go.
    #[arg(short, long, value_name = "OUT", default_value = "skintex-report")]
    pub out: PathBuf,
    /// Name of the pair's report folder and of the patient in the reports.
    #[arg(long, value_name = "NAME", default_value = "compare")]
    pub name: String,
    /// Millimetres per pixel of BEFORE (lengths in px without it).
    #[arg(long, value_name = "MM")]
    pub mm_per_px: Option<f64>,
    /// Date of BEFORE, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub before_date: Option<jiff::civil::Date>,
    /// Date of AFTER, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub after_date: Option<jiff::civil::Date>,
    /// Measurement settings.
    #[command(flatten)]
    pub measure: MeasureArgs,
}

/// `skintex regress`.
#[derive(Debug, Args)]
pub struct RegressArgs {
    /// Folder of patient folders.
    #[arg(value_name = "PHOTOS")]
    pub photos: PathBuf,
    /// Golden results (JSON with per-metric tolerances).
    #[arg(long, value_name = "FILE")]
    pub expected: PathBuf,
    /// Write the current results as the new goldens (keeping the file's tolerances) instead of
    /// comparing.
    #[arg(long)]
    pub write: bool,
    /// Measurement settings.
    #[command(flatten)]
    pub measure: MeasureArgs,
}

/// `skintex analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Folder of patient folders.
    #[arg(value_name = "PHOTOS")]
    pub photos: PathBuf,
    /// Where the reports go (created if missing; must not be inside PHOTOS).
    #[arg(short, long, value_name = "OUT", default_value = "skintex-report")]
    pub out: PathBuf,
    /// Analyse only shard K of N (K from 0 to N−1): the patients whose folder name hashes to K.
    /// Writes their folders but no index; run every K, then `skintex merge` the outputs.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Measurement settings.
    #[command(flatten)]
    pub measure: MeasureArgs,
}

/// `skintex check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Folder of patient folders.
    #[arg(value_name = "PHOTOS")]
    pub photos: PathBuf,
    /// Only shard K of N, as `analyze --shard`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Refuse photos whose header declares more than this many megapixels.
    #[arg(long, value_name = "MP", default_value_t = 100.0)]
    pub max_megapixels: f64,
}

/// `skintex merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The output folders of the shards (each `analyze --shard K/N -o …`).
    #[arg(value_name = "SHARD_OUT", required = true)]
    pub shards: Vec<PathBuf>,
    /// Where index.html and summary.csv go; patient folders elsewhere are copied in.
    #[arg(short, long, value_name = "OUT", default_value = "skintex-report")]
    pub out: PathBuf,
}

/// Photo encoding for `synth`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// 8-bit JPEG.
    Jpeg,
    /// 8-bit PNG.
    Png,
    /// 16-bit PNG.
    Png16,
}

/// `skintex synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Folder to write the series into.
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
    /// Start from the parameters in this TOML file (keys as in `truth.json`'s `config`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Master seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of patients.
    #[arg(long)]
    pub patients: Option<usize>,
    /// Sessions per patient (the first is the baseline).
    #[arg(long)]
    pub sessions: Option<usize>,
    /// Comma-separated view names.
    #[arg(long, value_delimiter = ',')]
    pub views: Option<Vec<String>>,
    /// Photo width, px.
    #[arg(long)]
    pub width: Option<usize>,
    /// Photo height, px.
    #[arg(long)]
    pub height: Option<usize>,
    /// Scale, millimetres per pixel.
    #[arg(long)]
    pub mm_per_px: Option<f64>,
    /// Encoding.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// JPEG quality 1–100.
    #[arg(long)]
    pub quality: Option<u8>,
    /// Overwrite a series already in OUT.
    #[arg(long)]
    pub force: bool,
}
