//! The command-line edge: turns arguments into library calls, shows progress, maps outcomes to exit
//! codes (0 all good · 1 some inputs failed · 2 usage/config error · 3 regression drift).

mod args;
mod progress;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use rayon::prelude::*;

use args::{
    AnalyzeArgs, CheckArgs, Cli, Command, CompareArgs, FormatArg, MeasureArgs, MergeArgs,
    RegressArgs, SynthArgs,
};
use progress::Progress;
use skintex::io::LoadOptions;
use skintex::pipeline::{self, AnalyzeOptions};
use skintex::report::html::IndexEntry;
use skintex::report::regress::{self, GoldenError, Goldens};
use skintex::report::table::MetricRow;
use skintex::report::write::{write_index, write_patient};
use skintex::report::{self, NoiseFloors};
use skintex::series::{self, InputIssue, Patient, SeriesConfig, Shard};
use skintex::synth::{self, SynthConfig, SynthFormat};

/// How a run ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Everything was analysed.
    Success = 0,
    /// Some inputs failed; the rest were analysed.
    InputsFailed = 1,
    /// Bad arguments or configuration: nothing (more) was done.
    Usage = 2,
    /// `regress` found results that differ from the goldens.
    Drift = 3,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // The library turns a panic while analysing a photo into an error entry for that photo (see
    // `pipeline::guarded`); the default hook would still print Rust's "thread panicked" text first,
    // which tells a clinic nothing. Say what it is instead.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("internal error (a bug in skintex; please report it): {info}");
    }));
    // clap prints its own usage errors and exits 2, which is our usage code too.
    let cli = Cli::parse();
    if let Some(n) = cli.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n.get())
            .build_global()
    {
        eprintln!("error: cannot start {n} worker threads: {e}");
        return ExitCode::from(Outcome::Usage as u8);
    }
    let result = match &cli.command {
        Command::Analyze(a) => analyze(a, cli.quiet),
        Command::Compare(c) => compare(c, cli.quiet),
        Command::Merge(m) => merge(m, cli.quiet),
        Command::Check(c) => check(c, cli.quiet),
        Command::Regress(r) => regress(r, cli.quiet),
        Command::Schema => schema(),
        Command::Synth(s) => synth_command(s, cli.quiet),
    };
    match result {
        Ok(outcome) => ExitCode::from(outcome as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(Outcome::Usage as u8)
        }
    }
}

/// The decoding limit of `--max-megapixels`.
fn load_options(max_megapixels: f64) -> Result<LoadOptions> {
    if !(max_megapixels.is_finite() && max_megapixels > 0.0) {
        bail!("--max-megapixels must be a positive number, not {max_megapixels}");
    }
    Ok(LoadOptions {
        max_pixels: (max_megapixels * 1e6) as u64,
    })
}

/// The archive under `photos`, or only the patients of `shard`.
fn discover(photos: &Path, shard: Option<Shard>) -> Result<series::Archive> {
    Ok(match shard {
        Some(shard) => series::discover_where(photos, &|name| shard.contains(name))?,
        None => series::discover(photos)?,
    })
}

fn analyze_options(args: &MeasureArgs) -> Result<AnalyzeOptions> {
    let load = load_options(args.max_megapixels)?;
    for (name, v) in [
        ("--noise-texture", args.noise_texture),
        ("--noise-pores", args.noise_pores),
        ("--noise-scars", args.noise_scars),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            bail!("{name} must be a percentage of zero or more, not {v}");
        }
    }
    let mut options = AnalyzeOptions {
        load,
        ..AnalyzeOptions::default()
    };
    options.change.noise = NoiseFloors {
        texture: args.noise_texture,
        pores: args.noise_pores,
        scars: args.noise_scars,
    };
    Ok(options)
}

/// What a run over some patients produced, beyond the files it wrote.
#[derive(Default)]
struct RunSummary {
    /// Some input failed.
    failed: bool,
    /// Photos decoded.
    photos_ok: usize,
    /// Every metric row, for `summary.csv` and `regress`.
    rows: Vec<MetricRow>,
    /// Every file reported as an error.
    errors: Vec<GoldenError>,
}

impl RunSummary {
    /// Exit status of a run: 1 when some input failed.
    fn outcome(&self) -> Outcome {
        if self.failed {
            Outcome::InputsFailed
        } else {
            Outcome::Success
        }
    }
}

/// Where [`run_patients`] writes.
#[derive(Clone, Copy)]
enum Output<'a> {
    /// Nowhere (`regress`).
    None,
    /// Patient folders into the folder, but no index (`analyze --shard`: `merge` makes it).
    PatientsOnly(&'a Path),
    /// Patient folders and the index.
    Everything(&'a Path),
}

/// Analyses `patients` one after the other, writing each patient's reports as soon as it is done (so
/// memory does not grow with the archive) and then, for a whole run, the index.
fn run_patients(
    patients: &[Patient],
    archive_issues: &[InputIssue],
    options: &AnalyzeOptions,
    output: Output<'_>,
    quiet: bool,
) -> Result<RunSummary> {
    let out = match output {
        Output::None => None,
        Output::PatientsOnly(path) | Output::Everything(path) => Some(path),
    };
    let total: usize = patients.iter().map(pipeline::photo_count).sum();
    let progress = Progress::new(total as u64, quiet, "analysing");
    let mut run = RunSummary::default();
    for issue in archive_issues {
        progress.eprintln(&format!("error: {}: {}", issue.file, issue.error));
        run.failed = true;
    }
    let mut index = Vec::new();
    // As many patients at once as there are worker threads: one patient's work has serial stretches
    // (the baseline before its sessions, the view statistics, the writing) that left a core idle
    // (174 % CPU of 2 on a 12 MP batch). Reports are still written in archive order, a window at a
    // time, so memory stays bounded by the window, not the archive.
    let window = rayon::current_num_threads().max(1);
    let outputs = patients.chunks(window).flat_map(|chunk| {
        let analysed: Vec<pipeline::PatientOutput> = chunk
            .par_iter()
            .map(|patient| {
                pipeline::analyze_patient(patient, options, &|event| {
                    progress.inc(&format!("{}/{}", event.patient, event.file));
                })
            })
            .collect();
        chunk.iter().zip(analysed)
    });
    for (patient, output) in outputs {
        let report = &output.report;
        for issue in &report.errors {
            progress.eprintln(&format!(
                "error: {}/{}: {}",
                patient.key, issue.file, issue.error
            ));
            run.errors.push(GoldenError {
                patient: patient.key.clone(),
                file: issue.file.clone(),
            });
        }
        run.failed |= !report.errors.is_empty();
        run.photos_ok += report
            .views
            .iter()
            .flat_map(|v| &v.sessions)
            .filter(|s| s.photo.is_some())
            .count();
        match out {
            Some(out) => {
                let dir_name = report::output_dir_name(&patient.dir_name);
                let rows = write_patient(&out.join(&dir_name), report, &output.images)?;
                run.rows.extend(rows);
                index.push(IndexEntry::new(report, dir_name));
            }
            None => run.rows.extend(report::table::rows(report)),
        }
    }
    if let Output::Everything(out) = output {
        write_index(out, &index, &run.rows)?;
    }
    progress.finish();
    Ok(run)
}

fn analyze(args: &AnalyzeArgs, quiet: bool) -> Result<Outcome> {
    let options = analyze_options(&args.measure)?;
    refuse_output_inside_input(&args.photos, &args.out)?;
    let started = Instant::now();
    let archive = discover(&args.photos, args.shard)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;
    let total: usize = archive.patients.iter().map(pipeline::photo_count).sum();
    // Entries of PHOTOS that cannot be read belong to no patient: shard 0 reports them.
    let (archive_issues, output) = match args.shard {
        Some(shard) => (
            if shard.index == 0 {
                &archive.issues[..]
            } else {
                &[]
            },
            Output::PatientsOnly(&args.out),
        ),
        None => (&archive.issues[..], Output::Everything(&args.out)),
    };
    let run = run_patients(&archive.patients, archive_issues, &options, output, quiet)?;
    if let Some(shard) = args.shard {
        if !quiet {
            eprintln!(
                "shard {shard}: analysed {} of {total} photos of {} patients in {:.1} s{}; when every \
                 shard is done, `skintex merge` their output folders to build index.html",
                run.photos_ok,
                archive.patients.len(),
                started.elapsed().as_secs_f64(),
                peak_memory(),
            );
        }
    } else if !quiet {
        eprintln!(
            "analysed {} of {total} photos of {} patients in {:.1} s{}; open {}",
            run.photos_ok,
            archive.patients.len(),
            started.elapsed().as_secs_f64(),
            peak_memory(),
            args.out.join("index.html").display()
        );
    }
    Ok(run.outcome())
}

fn compare(args: &CompareArgs, quiet: bool) -> Result<Outcome> {
    let options = analyze_options(&args.measure)?;
    for photo in [&args.before, &args.after] {
        if !photo.is_file() {
            bail!("{} is not a file", photo.display());
        }
        refuse_output_inside_input(photo, &args.out)?;
    }
    if args.name.is_empty() {
        bail!("--name must not be empty");
    }
    let config = SeriesConfig {
        mm_per_px: args.mm_per_px,
        ..SeriesConfig::default()
    };
    if let Err(e) = config.validate("--mm-per-px") {
        bail!("{e}");
    }
    let patient = series::pair(
        &args.name,
        (&args.before, args.before_date),
        (&args.after, args.after_date),
        config,
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;
    let started = Instant::now();
    let run = run_patients(
        &[patient],
        &[],
        &options,
        Output::Everything(&args.out),
        quiet,
    )?;
    if !quiet {
        eprintln!(
            "compared in {:.1} s{}; open {}",
            started.elapsed().as_secs_f64(),
            peak_memory(),
            args.out
                .join(report::output_dir_name(std::ffi::OsStr::new(&args.name)))
                .join("report.html")
                .display()
        );
    }
    Ok(run.outcome())
}

fn regress(args: &RegressArgs, quiet: bool) -> Result<Outcome> {
    let options = analyze_options(&args.measure)?;
    let archive = series::discover(&args.photos)?;
    let existing: Option<Goldens> = match std::fs::read(&args.expected) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).with_context(|| {
            format!("{} is not a golden results file", args.expected.display())
        })?),
        Err(e) if args.write && e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", args.expected.display()));
        }
    };
    let run = run_patients(
        &archive.patients,
        &archive.issues,
        &options,
        Output::None,
        quiet,
    )?;
    let mut errors = run.errors.clone();
    errors.extend(archive.issues.iter().map(|i| GoldenError {
        patient: String::new(),
        file: i.file.clone(),
    }));
    if args.write {
        let tolerances = existing.map_or_else(regress::default_tolerances, |g| g.tolerances);
        let goldens = Goldens::from_results(
            &run.rows,
            errors,
            tolerances,
            format!(
                "skintex regress {} --expected {} --write",
                args.photos.display(),
                args.expected.display()
            ),
        );
        report::write_json_atomic(&args.expected, &goldens)
            .with_context(|| format!("cannot write {}", args.expected.display()))?;
        if !quiet {
            eprintln!(
                "wrote {} golden values to {}",
                goldens.results.len(),
                args.expected.display()
            );
        }
        return Ok(Outcome::Success);
    }
    let Some(goldens) = existing else {
        bail!(
            "{} does not exist; create it with --write",
            args.expected.display()
        );
    };
    let drifts = regress::check(&goldens, &run.rows, &errors);
    if drifts.is_empty() {
        if !quiet {
            eprintln!(
                "no drift: {} values within tolerance of {}",
                goldens.results.len(),
                args.expected.display()
            );
        }
        Ok(Outcome::Success)
    } else {
        // The table is the command's result: stdout, so it can be redirected.
        #[allow(clippy::print_stdout)]
        {
            print!("{}", regress::table(&drifts));
        }
        eprintln!(
            "drift: {} of {} values differ from {}",
            drifts.len(),
            goldens.results.len(),
            args.expected.display()
        );
        Ok(Outcome::Drift)
    }
}

fn check(args: &CheckArgs, quiet: bool) -> Result<Outcome> {
    let load = load_options(args.max_megapixels)?;
    let started = Instant::now();
    let archive = discover(&args.photos, args.shard)?;
    let photos: Vec<(&Patient, &Path)> = archive
        .patients
        .iter()
        .filter(|p| p.config_error.is_none())
        .flat_map(|p| {
            p.sessions
                .iter()
                .flat_map(move |s| s.photos.values().map(move |path| (p, path.as_path())))
        })
        .collect();
    let progress = Progress::new(photos.len() as u64, quiet, "decoding");
    let mut problems: Vec<String> = archive
        .issues
        .iter()
        .map(|i| format!("{}: {}", i.file, i.error))
        .collect();
    for patient in &archive.patients {
        problems.extend(
            patient
                .issues
                .iter()
                .map(|i| format!("{}/{}: {}", patient.key, i.file, i.error)),
        );
    }
    // In archive order, whatever the thread count; each photo is dropped as soon as it is decoded.
    let photo_problems: Vec<Option<String>> = photos
        .par_iter()
        .map(|(patient, path)| {
            let outcome = pipeline::load_checked(path, &load);
            progress.inc(&format!("{}/{}", patient.key, patient.relative(path)));
            outcome
                .err()
                .map(|e| format!("{}/{}: {e}", patient.key, patient.relative(path)))
        })
        .collect();
    progress.finish();
    problems.extend(photo_problems.into_iter().flatten());
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    if !quiet {
        eprintln!(
            "checked {} photos of {} patients in {:.1} s{}: {} problems",
            photos.len(),
            archive.patients.len(),
            started.elapsed().as_secs_f64(),
            peak_memory(),
            problems.len()
        );
    }
    Ok(if problems.is_empty() {
        Outcome::Success
    } else {
        Outcome::InputsFailed
    })
}

fn merge(args: &MergeArgs, quiet: bool) -> Result<Outcome> {
    let summary = report::merge::merge(&args.shards, &args.out)?;
    for folder in &summary.incomplete {
        eprintln!(
            "warning: {folder} has no report.json (was its shard interrupted?); rerun that shard, \
             then merge again"
        );
    }
    if !quiet {
        eprintln!(
            "merged {} patients ({} copied in, {} with errors); open {}",
            summary.patients,
            summary.copied,
            summary.with_errors,
            args.out.join("index.html").display()
        );
    }
    Ok(
        if summary.with_errors > 0 || !summary.incomplete.is_empty() {
            Outcome::InputsFailed
        } else {
            Outcome::Success
        },
    )
}

fn schema() -> Result<Outcome> {
    let schema = schemars::schema_for!(report::PatientReport);
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(&schema)?);
    }
    Ok(Outcome::Success)
}

/// ", peak memory N MB" from the kernel's high-water mark of this process's resident memory, so a
/// user (and the memory test) can see what a run needed; empty where `/proc` does not exist.
fn peak_memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map_or_else(String::new, |kb| {
            format!(", peak memory {} MB", kb.div_ceil(1024))
        })
}

/// Writing reports inside PHOTOS would change the input folder (and be read back as a patient).
fn refuse_output_inside_input(photos: &Path, out: &Path) -> Result<()> {
    let Ok(photos) = photos.canonicalize() else {
        return Ok(()); // discovery reports a missing PHOTOS with a better message
    };
    // OUT may not exist yet: canonicalise its nearest existing ancestor.
    let mut probe = out.to_path_buf();
    let mut tail = Vec::new();
    while !probe.exists() {
        match (probe.file_name(), probe.parent()) {
            (Some(name), Some(parent)) => {
                tail.push(name.to_os_string());
                probe = if parent.as_os_str().is_empty() {
                    ".".into()
                } else {
                    parent.to_path_buf()
                };
            }
            _ => return Ok(()),
        }
    }
    let mut resolved = probe.canonicalize()?;
    resolved.extend(tail.iter().rev());
    if resolved.starts_with(&photos) {
        bail!(
            "the output folder {} is inside the photo folder {}; skintex never writes into its inputs, choose another -o",
            out.display(),
            photos.display()
        );
    }
    Ok(())
}

fn synth_command(args: &SynthArgs, quiet: bool) -> Result<Outcome> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str::<SynthConfig>(&text)
                .with_context(|| format!("invalid synth config {}", path.display()))?
        }
        None => SynthConfig::default(),
    };
    if let Some(v) = args.seed {
        config.seed = v;
    }
    if let Some(v) = args.patients {
        config.patients = v;
    }
    if let Some(v) = args.sessions {
        config.sessions = v;
    }
    if let Some(v) = &args.views {
        config.views.clone_from(v);
    }
    if let Some(v) = args.width {
        config.width = v;
    }
    if let Some(v) = args.height {
        config.height = v;
    }
    if let Some(v) = args.mm_per_px {
        config.mm_per_px = v;
    }
    if let Some(v) = args.quality {
        config.jpeg_quality = v;
    }
    if let Some(f) = args.format {
        config.format = match f {
            FormatArg::Jpeg => SynthFormat::Jpeg,
            FormatArg::Png => SynthFormat::Png,
            FormatArg::Png16 => SynthFormat::Png16,
        };
    }
    config.validate()?;
    let total = config.patients * config.sessions * config.views.len();
    let progress = Progress::new(total as u64, quiet, "rendering");
    let started = Instant::now();
    synth::write_series(&config, &args.out, args.force, &|file| progress.inc(file))?;
    progress.finish();
    if !quiet {
        eprintln!(
            "wrote {total} photos and truth.json to {} in {:.1} s",
            args.out.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(Outcome::Success)
}
