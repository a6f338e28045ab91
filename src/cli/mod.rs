//! The command-line edge: turns arguments into library calls, shows progress, maps outcomes to exit
//! codes (0 all good · 1 some inputs failed · 2 usage/config error · 3 regression drift).

mod args;
mod progress;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;

use args::{AnalyzeArgs, Cli, Command, FormatArg, SynthArgs};
use progress::Progress;
use skintex::io::LoadOptions;
use skintex::pipeline::{self, AnalyzeOptions};
use skintex::report;
use skintex::series;
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
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
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

fn analyze(args: &AnalyzeArgs, quiet: bool) -> Result<Outcome> {
    if !(args.max_megapixels.is_finite() && args.max_megapixels > 0.0) {
        bail!(
            "--max-megapixels must be a positive number, not {}",
            args.max_megapixels
        );
    }
    refuse_output_inside_input(&args.photos, &args.out)?;
    let started = Instant::now();
    let archive = series::discover(&args.photos)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;

    let options = AnalyzeOptions {
        load: LoadOptions {
            max_pixels: (args.max_megapixels * 1e6) as u64,
        },
        ..AnalyzeOptions::default()
    };
    let total: usize = archive.patients.iter().map(pipeline::photo_count).sum();
    let progress = Progress::new(total as u64, quiet, "analysing");
    let mut failed = false;
    for issue in &archive.issues {
        progress.eprintln(&format!("error: {}: {}", issue.file, issue.error));
        failed = true;
    }
    let mut photos_ok = 0usize;
    for patient in &archive.patients {
        let output = pipeline::analyze_patient(patient, &options, &|event| {
            progress.inc(&format!("{}/{}", event.patient, event.file));
        });
        let report = &output.report;
        for issue in &report.errors {
            progress.eprintln(&format!(
                "error: {}/{}: {}",
                patient.key, issue.file, issue.error
            ));
        }
        failed |= !report.errors.is_empty();
        photos_ok += report
            .views
            .iter()
            .flat_map(|v| &v.sessions)
            .filter(|s| s.photo.is_some())
            .count();
        let dir = args.out.join(report::output_dir_name(&patient.dir_name));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        // Images first: a report never names a file that is not there yet.
        for image in &output.images {
            let path = dir.join(&image.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            report::write_atomic(&path, &image.bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let path = dir.join("report.json");
        report::write_json_atomic(&path, report)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    progress.finish();
    if !quiet {
        eprintln!(
            "analysed {photos_ok} of {total} photos of {} patients in {:.1} s; reports in {}",
            archive.patients.len(),
            started.elapsed().as_secs_f64(),
            args.out.display()
        );
    }
    Ok(if failed {
        Outcome::InputsFailed
    } else {
        Outcome::Success
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
