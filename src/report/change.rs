//! Change statistics: each session against the baseline (and the session before it), with a paired
//! bootstrap confidence interval, a noise floor and a direction, and a trend per metric.
//!
//! **Paired bootstrap over tiles.** The sessions of a view are aligned, so tile i of the common region
//! is the same patch of skin in every session ([`crate::metrics::tiles`]). A replicate draws as many
//! tiles as there are, with replacement, and evaluates every metric for *both* sessions over the same
//! draw; the 2.5th and 97.5th percentiles of the replicate changes are the 95 % interval (the
//! percentile bootstrap, Efron & Tibshirani 1993, ch. 13). Drawing the same tiles for both sessions
//! is what makes it paired: the skin-to-skin variation that both sessions share cancels, and what is
//! left is the change and its spatial spread. The generator is seeded from the comparison alone, so
//! intervals are the same on every run and thread count.
//!
//! **Noise floor.** A measurement repeated on the same skin does not read exactly the same (lighting,
//! pose, camera); published repeatability of clinical skin imaging puts that at about 2 % for texture,
//! 4 % for pore counts and 6 % for scar measures, the defaults of [`NoiseFloors`]. A change is
//! `beyond_noise` when its relative size exceeds the floor of its family *and* its interval excludes
//! zero; `improved` is a change beyond noise in the better direction (less roughness, fewer or smaller
//! pores, less scar); shape descriptors (Ssk, Sku) have no direction and no `improved`.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::metrics::Scale;
use crate::metrics::tiles::{self, Better, Family, MetricDef, TileSums};

/// Smallest relative change (percent) that counts as real, per metric family.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NoiseFloors {
    /// Roughness parameters, percent.
    pub texture: f64,
    /// Pore metrics, percent.
    pub pores: f64,
    /// Scar metrics, percent.
    pub scars: f64,
}

impl Default for NoiseFloors {
    fn default() -> Self {
        Self {
            texture: 2.0,
            pores: 4.0,
            scars: 6.0,
        }
    }
}

impl NoiseFloors {
    /// The floor of `family`, percent.
    #[must_use]
    pub fn of(&self, family: Family) -> f64 {
        match family {
            Family::Texture => self.texture,
            Family::Pores => self.pores,
            Family::Scars => self.scars,
        }
    }
}

/// Settings of the change statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangeOptions {
    /// Noise floors.
    pub noise: NoiseFloors,
    /// Bootstrap replicates per comparison.
    pub replicates: usize,
    /// Seed of the bootstrap; each comparison derives its own stream from it.
    pub seed: u64,
}

impl Default for ChangeOptions {
    fn default() -> Self {
        Self {
            noise: NoiseFloors::default(),
            replicates: 2000,
            seed: 0x5EED_2026,
        }
    }
}

/// `change.<metric>` of a session: how it differs from the reference session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    /// The reference session's value (the baseline, or the previous session).
    pub from: f64,
    /// This session's value.
    pub to: f64,
    /// `to − from`, in the metric's unit.
    pub delta: f64,
    /// `100 · delta / |from|` (`null` when `from` is 0: no relative change exists).
    pub percent: Option<f64>,
    /// 95 % confidence interval of `percent` (paired bootstrap over tiles of the region); `null` when
    /// `percent` is, or when too few replicates define the metric.
    pub ci95: Option<[f64; 2]>,
    /// 95 % confidence interval of `delta`, in the metric's unit.
    pub ci95_delta: Option<[f64; 2]>,
    /// The noise floor applied, percent.
    pub noise_floor_percent: f64,
    /// `|percent|` above the noise floor and the interval excludes no change.
    pub beyond_noise: bool,
    /// Beyond noise in the better direction (`null` for metrics without one).
    pub improved: Option<bool>,
}

/// `trends.<metric>` of a view: least-squares line through every measured session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Trend {
    /// Slope, metric unit per 30 days.
    pub slope_per_30_days: f64,
    /// Slope relative to |baseline value|, percent per 30 days (`null` when the baseline is 0 or was
    /// not measured).
    pub percent_per_30_days: Option<f64>,
    /// Sessions on the line.
    pub sessions: usize,
}

/// Compares `session` with `reference` (both tiled alike) for every metric in `defs`; `stream`
/// separates the bootstrap draws of different comparisons.
#[must_use]
pub fn compare(
    reference: &[TileSums],
    session: &[TileSums],
    scale: &Scale,
    defs: &[&MetricDef],
    options: &ChangeOptions,
    stream: u64,
) -> BTreeMap<String, Change> {
    let n = reference.len().min(session.len());
    let all = vec![1u32; n];
    let (ref_total, ses_total) = (tiles::total(reference, &all), tiles::total(session, &all));
    let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); defs.len()];
    if n > 1 {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        rng.set_stream(stream);
        let mut times = vec![0u32; n];
        for _ in 0..options.replicates {
            times.fill(0);
            for _ in 0..n {
                times[rng.random_range(0..n)] += 1;
            }
            let (r, s) = (
                tiles::total(reference, &times),
                tiles::total(session, &times),
            );
            for (d, (deltas, percents)) in defs.iter().zip(&mut samples) {
                if let (Some(a), Some(b)) = (r.value(d.key, scale), s.value(d.key, scale)) {
                    deltas.push(b - a);
                    if a != 0.0 {
                        percents.push(100.0 * (b - a) / a.abs());
                    }
                }
            }
        }
    }
    let mut changes = BTreeMap::new();
    for (d, (deltas, percents)) in defs.iter().zip(samples) {
        let (Some(from), Some(to)) = (ref_total.value(d.key, scale), ses_total.value(d.key, scale))
        else {
            continue;
        };
        let delta = to - from;
        // Relative to |from|, so the sign of `percent` is the sign of the change also for a metric
        // that is negative (skewness).
        let percent = (from != 0.0).then(|| 100.0 * delta / from.abs());
        let ci95 = percent.and(interval(percents, options.replicates));
        let ci95_delta = interval(deltas, options.replicates);
        let floor = options.noise.of(d.family);
        let beyond_noise = match (percent, ci95) {
            (Some(p), Some([lo, hi])) => p.abs() > floor && (lo > 0.0 || hi < 0.0),
            _ => false,
        };
        let improved = match d.better {
            Better::Lower => Some(beyond_noise && delta < 0.0),
            Better::Neither => None,
        };
        changes.insert(
            d.key.to_string(),
            Change {
                from,
                to,
                delta,
                percent,
                ci95,
                ci95_delta,
                noise_floor_percent: floor,
                beyond_noise,
                improved,
            },
        );
    }
    changes
}

/// The central 95 % of `samples`, if at least 95 % of the `replicates` defined the statistic (a mean
/// pore size over a draw without pores is undefined; too many such draws make any interval a guess).
fn interval(mut samples: Vec<f64>, replicates: usize) -> Option<[f64; 2]> {
    if samples.is_empty() || (samples.len() as f64) < 0.95 * replicates as f64 {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Some([at(0.025), at(0.975)])
}

/// Least-squares trend of each metric over `(days since baseline, tile sums)` of every measured
/// session, also relative to the `baseline` session's value (none without a measured baseline);
/// metrics measured on fewer than two distinct dates have none.
#[must_use]
pub fn trends(
    sessions: &[(i32, &TileSums)],
    baseline: Option<&TileSums>,
    scale: &Scale,
    defs: &[&MetricDef],
) -> BTreeMap<String, Trend> {
    let mut out = BTreeMap::new();
    for d in defs {
        let points: Vec<(f64, f64)> = sessions
            .iter()
            .filter_map(|(day, t)| t.value(d.key, scale).map(|v| (f64::from(*day), v)))
            .collect();
        let Some(slope) = least_squares_slope(&points) else {
            continue;
        };
        let first = baseline
            .and_then(|t| t.value(d.key, scale))
            .filter(|v| *v != 0.0);
        out.insert(
            d.key.to_string(),
            Trend {
                slope_per_30_days: slope * 30.0,
                percent_per_30_days: first.map(|b| 100.0 * slope * 30.0 / b.abs()),
                sessions: points.len(),
            },
        );
    }
    out
}

/// Slope of the least-squares line through `points`; `None` with fewer than two distinct x.
fn least_squares_slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::roughness::SurfaceSums;

    /// Tile sums whose Sq is `sq` over `n` heights (a symmetric two-level surface ±sq).
    fn tile(sq: f64, n: f64, pores: f64) -> TileSums {
        let surface = SurfaceSums {
            n,
            abs: n * sq,
            z2: n * sq * sq,
            z4: n * sq.powi(4),
            gradients: n,
            g2: n * sq * sq,
            ..SurfaceSums::default()
        };
        TileSums {
            area_px: n,
            surface,
            pores: tiles::DepressionSums {
                count: pores,
                diameter_px: pores * 6.0,
                disk_area_px: pores * 28.0,
                depth_index: pores * 0.2,
            },
            scars: tiles::DepressionSums::default(),
        }
    }

    fn defs() -> Vec<&'static MetricDef> {
        tiles::metrics_for(false)
    }

    /// Coverage on series with a known change: tiles of random roughness, the session's each scaled by
    /// k with independent per-tile noise of mean zero, so the expected change of the ratio of sums is
    /// exactly k − 1. Over many independent series, the 95 % interval must hold the truth about 95 % of
    /// the time (a binomial band of ±3.5 σ around 0.95 for 1000 trials: 0.926–0.974; measured 0.941,
    /// the slight under-coverage of percentile intervals from 60 tiles).
    #[test]
    #[allow(clippy::print_stderr)] // the measured coverage is the figure this test exists for
    fn bootstrap_interval_covers_a_known_change() {
        let scale = Scale::new(None);
        let options = ChangeOptions {
            replicates: 600,
            ..ChangeOptions::default()
        };
        let sq_def = [&METRIC_SQ];
        let k = 0.8;
        let trials = 1000;
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let mut covered = 0;
        for trial in 0..trials {
            let mut reference = Vec::new();
            let mut session = Vec::new();
            for _ in 0..60 {
                let sq = rng.random_range(0.02..0.08);
                // z² of the session tile is k² z² (1 + e), e uniform in ±0.4: E[Σz²_s] = k² Σz²_r.
                let e: f64 = rng.random_range(-0.4..0.4);
                reference.push(tile(sq, 1000.0, 0.0));
                session.push(tile(sq * k * (1.0 + e).sqrt(), 1000.0, 0.0));
            }
            let change = &compare(
                &reference,
                &session,
                &scale,
                &sq_def,
                &options,
                trial as u64,
            )["roughness.sq"];
            let [lo, hi] = change.ci95.expect("an interval");
            let truth = 100.0 * (k - 1.0);
            covered += usize::from(lo <= truth && truth <= hi);
        }
        let coverage = covered as f64 / f64::from(trials as u32);
        eprintln!("bootstrap 95 % interval coverage: {coverage:.3} over {trials} series");
        assert!(
            (0.926..=0.974).contains(&coverage),
            "coverage {coverage} over {trials} series"
        );
    }

    const METRIC_SQ: MetricDef = tiles::METRICS[1];

    #[test]
    fn identical_sessions_show_no_change_and_are_not_beyond_noise() {
        let scale = Scale::new(None);
        let t: Vec<TileSums> = (0..40)
            .map(|i| tile(0.03 + 0.001 * f64::from(i), 500.0, f64::from(i % 5)))
            .collect();
        let changes = compare(&t, &t, &scale, &defs(), &ChangeOptions::default(), 0);
        assert_eq!(changes["roughness.sq"].delta, 0.0);
        assert_eq!(changes["roughness.sq"].ci95, Some([0.0, 0.0]));
        assert!(changes.values().all(|c| !c.beyond_noise));
        assert_eq!(changes["pores.count"].improved, Some(false));
        assert_eq!(changes["roughness.ssk"].improved, None);
    }

    #[test]
    fn a_clear_reduction_is_beyond_noise_and_improved_and_a_rise_is_not_improved() {
        let scale = Scale::new(None);
        let reference: Vec<TileSums> = (0..50)
            .map(|i| tile(0.04 + 0.0005 * f64::from(i % 7), 800.0, 4.0))
            .collect();
        let smoother: Vec<TileSums> = reference
            .iter()
            .map(|t| tile((t.surface.z2 / t.surface.n).sqrt() * 0.8, 800.0, 3.0))
            .collect();
        let options = ChangeOptions::default();
        let better = compare(&reference, &smoother, &scale, &defs(), &options, 1);
        let sq = &better["roughness.sq"];
        assert!((sq.percent.unwrap() + 20.0).abs() < 1e-9, "{sq:?}");
        assert!(sq.beyond_noise && sq.improved == Some(true));
        assert!((better["pores.count"].percent.unwrap() + 25.0).abs() < 1e-9);
        assert_eq!(better["pores.count"].improved, Some(true));
        let worse = compare(&smoother, &reference, &scale, &defs(), &options, 1);
        assert!(worse["roughness.sq"].beyond_noise);
        assert_eq!(worse["roughness.sq"].improved, Some(false));
    }

    #[test]
    fn the_same_comparison_gives_the_same_interval_and_streams_differ() {
        let scale = Scale::new(None);
        let a: Vec<TileSums> = (0..30)
            .map(|i| tile(0.03 + 0.002 * f64::from(i % 4), 400.0, 2.0))
            .collect();
        let b: Vec<TileSums> = (0..30)
            .map(|i| tile(0.028 + 0.003 * f64::from(i % 3), 400.0, 1.0))
            .collect();
        let options = ChangeOptions::default();
        let one = compare(&a, &b, &scale, &defs(), &options, 3);
        assert_eq!(one, compare(&a, &b, &scale, &defs(), &options, 3));
        assert_ne!(
            one["roughness.sq"].ci95,
            compare(&a, &b, &scale, &defs(), &options, 4)["roughness.sq"].ci95
        );
    }

    #[test]
    fn trend_is_the_least_squares_slope_per_30_days() {
        let scale = Scale::new(None);
        // Sq falls by 0.001 per 10 days: −0.003 per 30 days.
        let series: Vec<TileSums> = (0..4)
            .map(|i| tile(0.04 - 0.001 * f64::from(i), 100.0, 0.0))
            .collect();
        let points: Vec<(i32, &TileSums)> = series
            .iter()
            .enumerate()
            .map(|(i, t)| (10 * i as i32, t))
            .collect();
        let t = &trends(&points, Some(&series[0]), &scale, &defs())["roughness.sq"];
        assert!((t.slope_per_30_days + 0.003).abs() < 1e-12, "{t:?}");
        assert!((t.percent_per_30_days.unwrap() + 7.5).abs() < 1e-9);
        assert_eq!(t.sessions, 4);
        let one = [(0, &series[0])];
        assert!(trends(&one, Some(&series[0]), &scale, &defs()).is_empty());
        let no_baseline = &trends(&points, None, &scale, &defs())["roughness.sq"];
        assert_eq!(no_baseline.percent_per_30_days, None);
    }
}
