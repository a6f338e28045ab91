//! Photometric normalisation of a registered session to its baseline: per colour channel, a gain and
//! a gamma, `baseline ≈ exp(offset) · session^slope` in linear light (a straight line in log-log).
//!
//! The model covers what changes between clinic visits with the same camera: exposure (gain), white
//! balance (per-channel gain) and tone curve (gamma). It is fitted only on a heavily low-passed copy of
//! the overlap (block geometric means, long side ~128 px, then a σ = 2.5 blur; see [`Shading`] for why
//! geometric): at that scale only shading is left, so the fit cannot "correct" the change in fine
//! texture that treatment produced — a fit on full-resolution pixels would partly undo exactly the
//! effect the product measures. Near-black and near-white pixels (clipped) are left out, and the line
//! is fitted with Huber weights so scars or a changed background do not drag it. When the overlap holds
//! too little shading to pin a gamma, only the gain is fitted.
//!
//! Beside the lines, the white balance at the skin: per channel, the median over the measured skin of
//! what the luminance's line leaves. The metrics take a session's luminance with channel weights that
//! undo it ([`PhotometricMap::skin_luminance_weights`]); for a per-channel gain the result is the
//! baseline camera's luminance exactly.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::geometry::{Affine, solve_spd};
use crate::io::colour::{LUMA_WEIGHTS, luminance};
use crate::kernels::warp::sample_bilinear;
use crate::kernels::{gaussian_blur, ln_slice};
use rayon::prelude::*;

/// Long side of the low-passed copy the fit uses.
const LOW_SIDE: usize = 128;
/// Blur applied to that copy, px.
const LOW_SIGMA: f32 = 2.5;
/// Linear values outside this range are treated as clipped.
const USABLE: (f32, f32) = (0.004, 0.95);
/// Standard deviation of log values below which no gamma is fitted.
const MIN_LOG_SPREAD: f64 = 0.05;

/// Per-channel map from session linear values to baseline linear values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PhotometricMap {
    /// `ln` of the gain per channel (R, G, B).
    pub log_offset: [f64; 3],
    /// The exponent per channel (1 = no gamma change).
    pub log_slope: [f64; 3],
    /// The same line fitted on linear luminance: `ln Y_baseline ≈ offset + slope · ln Y_session`. The
    /// slope is the tone curve's local slope at the skin's luminance where the overlap holds skin.
    /// The metrics' pseudo-height (ln Y) of a session is multiplied by it.
    pub luminance_log_offset: f64,
    /// Slope of the luminance line.
    pub luminance_log_slope: f64,
    /// `ln` of the baseline / session ratio per channel at the skin's own level (the median over the
    /// overlap's skin): the white balance between the two photos where it is measured. The metrics
    /// weigh the session's channels by it before taking luminance; see [`Self::skin_luminance_weights`].
    pub skin_channel_log_gain: [f64; 3],
}

impl PhotometricMap {
    /// No change.
    pub const IDENTITY: Self = Self {
        log_offset: [0.0; 3],
        log_slope: [1.0; 3],
        luminance_log_offset: 0.0,
        luminance_log_slope: 1.0,
        skin_channel_log_gain: [0.0; 3],
    };

    /// Luminance weights for the session's linear channels that undo the white balance at the skin.
    ///
    /// Luminance is a weighted *sum* of channels, so a white-balance change does not cancel in its log
    /// as an exposure gain does: a redder pixel gets more of the red gain, and skin texture is partly
    /// redness. Weighing each channel by the baseline / session ratio measured on skin gives the
    /// luminance the baseline camera would have recorded (exactly, for a per-channel gain), so a white
    /// balance change no longer reads as a texture change. Scaled so the weights sum as the Rec. 709
    /// ones do; the height is detrended anyway.
    #[must_use]
    pub fn skin_luminance_weights(&self) -> [f32; 3] {
        let raw: [f64; 3] = std::array::from_fn(|c| {
            f64::from(LUMA_WEIGHTS[c]) * self.skin_channel_log_gain[c].exp()
        });
        let total: f64 = raw.iter().sum();
        if !(total.is_finite() && total > 0.0) {
            return LUMA_WEIGHTS;
        }
        raw.map(|w| (w / total) as f32)
    }

    /// Maps one linear value of `channel` (0 = R, 1 = G, 2 = B).
    #[must_use]
    pub fn apply(&self, channel: usize, value: f32) -> f32 {
        if value <= 0.0 {
            return 0.0;
        }
        let (a, b) = (self.log_offset[channel], self.log_slope[channel]);
        (a + b * f64::from(value).ln()).exp() as f32
    }

    /// Maps a whole plane of `channel` in place.
    pub fn apply_plane(&self, channel: usize, plane: &mut Array2<f32>) {
        plane.par_mapv_inplace(|v| self.apply(channel, v));
    }
}

/// The low-passed copy of a photo the fit works on: R, G, B and their luminance, each the geometric
/// mean over its block (then blurred), and the share of near-black pixels in each block.
///
/// **Why geometric means.** The fit compares the two photos' shading and reads the tone curve off it,
/// but the metrics need that curve's slope for *texture*, pixel by pixel. An arithmetic block mean
/// does not commute with a tone curve: a block holding skin, hair and shadow averages linear values
/// spread over a decade, and the mean of the curve's outputs is not the curve of the mean. On a real
/// portrait given a pure γ 0.85 on its encoded values (no warp, no re-encoding) arithmetic means gave
/// a luminance slope of 1.104 where the pixels' own is 1.16 at the skin's level; the mean of the logs
/// — what the pseudo-height is — follows a power law exactly and any smooth curve closely: 1.146.
/// With the mean of logs, the gamma looks (0.85 and 1.15) moved Sq by −2.62 to +0.03 % on the four
/// portraits of the slow suite, against −5.31 to +3.14 % with arithmetic means (both with the
/// metrics' mask and the white-balance weights).
///
/// **Why the dark share.** Logs make a near-black pixel weigh far more than it does in light: a block
/// straddling a black border or a black background is pulled far down. Blocks with more than
/// [`MAX_DARK_SHARE`] of near-black pixels, in either photo, are left out of the fit.
#[derive(Debug, Clone)]
pub struct Shading {
    planes: [Array2<f32>; 4],
    dark: Array2<f32>,
    factor: usize,
}

/// Largest share of near-black pixels (below the usable range) in a block the fit uses.
const MAX_DARK_SHARE: f32 = 0.01;

impl Shading {
    /// Low-passes linear R, G, B planes.
    #[must_use]
    pub fn new(rgb: &[Array2<f32>; 3]) -> Self {
        let (h, w) = rgb[0].dim();
        let factor = w.max(h).div_ceil(LOW_SIDE).max(1);
        let [r, g, b, y, dark] =
            block_log_means(rgb, factor).map(|plane| gaussian_blur(plane.view(), LOW_SIGMA));
        let [r, g, b, y] = [r, g, b, y].map(|mut plane| {
            plane.mapv_inplace(f32::exp);
            plane
        });
        Self {
            planes: [r, g, b, y],
            dark,
            factor,
        }
    }

    /// Whether the block around low-res point `(x, y)` is too dark to use (or outside).
    fn too_dark(&self, x: f64, y: f64) -> bool {
        sample_bilinear(self.dark.view(), x, y).is_none_or(|share| share > MAX_DARK_SHARE)
    }
}

/// Per `factor × factor` block (the last ones clipped at the edges): the means of ln R, ln G, ln B and
/// ln Y, and the share of pixels whose luminance is below the usable range. One pass over the three
/// planes, parallel over rows of blocks, with no full-resolution temporaries (four log planes of a
/// 12 MP photo would be 192 MB). Logs are floored at ln 10⁻⁴ (a black pixel has none).
///
/// The logarithms are taken a row at a time with the vectorised [`ln_slice`]: one scalar `logf` call
/// per channel and pixel was 8.5 % of a 12 MP `compare`'s CPU time (perf, 2-core Intel Xeon VM).
fn block_log_means(rgb: &[Array2<f32>; 3], factor: usize) -> [Array2<f32>; 5] {
    const FLOOR: f32 = 1e-4;
    let (h, w) = rgb[0].dim();
    let (oh, ow) = (h.div_ceil(factor), w.div_ceil(factor));
    let planes = rgb.each_ref().map(|p| p.as_standard_layout());
    let per_row: Vec<[Vec<f32>; 5]> = (0..oh)
        .into_par_iter()
        .map(|oy| {
            let mut sums = [(); 5].map(|()| vec![0f64; ow]);
            // One image row's luminance, then ln R, ln G, ln B and ln Y.
            let mut lum = vec![0f32; w];
            let mut logs = [(); 4].map(|()| vec![0f32; w]);
            let rows = oy * factor..((oy + 1) * factor).min(h);
            for y in rows.clone() {
                // Standard layout, so every row is there; `get` keeps that an invariant, not a panic.
                let [Some(r), Some(g), Some(b)] = planes
                    .each_ref()
                    .map(|p| p.as_slice().and_then(|s| s.get(y * w..(y + 1) * w)))
                else {
                    continue;
                };
                for (((l, &r), &g), &b) in lum.iter_mut().zip(r).zip(g).zip(b) {
                    *l = luminance(r, g, b);
                }
                for (source, log) in [r, g, b, &lum].into_iter().zip(&mut logs) {
                    ln_slice(source, FLOOR, 1.0, log);
                }
                for ox in 0..ow {
                    let mut acc = [0f64; 5];
                    for x in ox * factor..((ox + 1) * factor).min(w) {
                        for (a, log) in acc.iter_mut().zip(&logs) {
                            *a += f64::from(log[x]);
                        }
                        acc[4] += f64::from(u8::from(lum[x] < USABLE.0));
                    }
                    for (sum, a) in sums.iter_mut().zip(acc) {
                        sum[ox] += a;
                    }
                }
            }
            let n_rows = rows.len();
            sums.map(|sum| {
                sum.iter()
                    .enumerate()
                    .map(|(ox, &s)| {
                        let n_cols = ((ox + 1) * factor).min(w) - ox * factor;
                        (s / (n_rows * n_cols) as f64) as f32
                    })
                    .collect()
            })
        })
        .collect();
    std::array::from_fn(|k| {
        let data: Vec<f32> = per_row.iter().flat_map(|r| r[k].iter().copied()).collect();
        Array2::from_shape_vec((oh, ow), data).unwrap_or_else(|_| Array2::zeros((oh, ow)))
    })
}

/// Fits the map taking `session` values onto `baseline` values over their overlap; `to_baseline` maps a
/// session pixel to a baseline pixel (full resolution). `skin` says which baseline points (full
/// resolution) the metrics measure: the luminance slope the metrics use is taken at their median
/// level. `None` when fewer than 50 usable samples overlap.
#[must_use]
pub fn fit(
    baseline: &Shading,
    session: &Shading,
    to_baseline: &Affine,
    skin: &dyn Fn(f64, f64) -> bool,
) -> Option<PhotometricMap> {
    // Baseline low-res pixel → baseline full → session full → session low-res pixel.
    let sample = Affine::block_to_full(session.factor).inverse()?.after(
        &to_baseline
            .inverse()?
            .after(&Affine::block_to_full(baseline.factor)),
    );
    let (bh, bw) = baseline.planes[0].dim();
    let (sh, sw) = session.planes[0].dim();
    // Keep two low-res pixels clear of the session's edges (the blur saw reflected pixels there).
    let margin = 2.0;
    let mut samples: [Vec<(f64, f64)>; 4] = Default::default();
    // Session log-luminance where the metrics measure skin: where the tone curve's slope matters. The
    // measured skin, not every skin-coloured pixel: brows and hair have skin's colour but are far
    // darker, and would move the level, and so the slope, away from the skin's own.
    let to_full = Affine::block_to_full(baseline.factor);
    let mut skin_levels: Vec<f64> = Vec::new();
    // Per channel, (ln session, ln baseline) where the baseline shows skin.
    let mut skin_pairs: [Vec<(f64, f64)>; 3] = Default::default();
    for y in 0..bh {
        for x in 0..bw {
            let (u, v) = sample.apply(x as f64, y as f64);
            if u < margin
                || v < margin
                || u > sw as f64 - 1.0 - margin
                || v > sh as f64 - 1.0 - margin
            {
                continue;
            }
            if baseline.too_dark(x as f64, y as f64) || session.too_dark(u, v) {
                continue;
            }
            let (fx, fy) = to_full.apply(x as f64, y as f64);
            let mut on_skin = false;
            if skin(fx, fy)
                && let Some(s) = sample_bilinear(session.planes[3].view(), u, v)
                && s > 0.0
            {
                skin_levels.push(f64::from(s).ln());
                on_skin = true;
            }
            // One sample per channel serves both the lines and, on skin, the white balance.
            for (c, out) in samples.iter_mut().enumerate() {
                let b = baseline.planes[c][[y, x]];
                let Some(s) = sample_bilinear(session.planes[c].view(), u, v) else {
                    continue;
                };
                if (USABLE.0..USABLE.1).contains(&b) && (USABLE.0..USABLE.1).contains(&s) {
                    let pair = (f64::from(s).ln(), f64::from(b).ln());
                    out.push(pair);
                    if on_skin && c < 3 {
                        skin_pairs[c].push(pair);
                    }
                }
            }
        }
    }
    let mut map = PhotometricMap::IDENTITY;
    let mut luminance_line_slope = 1.0;
    for (c, pairs) in samples.iter().enumerate() {
        if pairs.len() < 50 {
            return None;
        }
        let (a, b) = robust_line(pairs);
        if c < 3 {
            map.log_offset[c] = a;
            map.log_slope[c] = b;
        } else {
            map.luminance_log_offset = a;
            map.luminance_log_slope = b;
            luminance_line_slope = b;
            // A gamma on encoded values is not a straight line in log-log over the whole range (the
            // sRGB curve has a linear toe): the metrics scale heights by the curve's slope at the
            // skin's own level, from a quadratic fit, when there is skin to take the level from.
            if skin_levels.len() >= 50 && b != 1.0 {
                let mid = skin_levels.len() / 2;
                let level = *skin_levels.select_nth_unstable_by(mid, f64::total_cmp).1;
                if let Some(slope) = robust_quadratic_slope(pairs, level) {
                    map.luminance_log_slope = slope;
                }
            }
        }
    }
    // What the luminance's tone line leaves per channel on skin is the white balance. Taking the plain
    // ratio instead would read a tone curve as one too: under a gamma the channels, at different
    // levels, change by different factors (on the real portraits of the slow suite, before the
    // geometric block means, that moved γ 0.85's Sq by 0.36 (ike) and 0.51 (mateus) points more).
    if skin_pairs.iter().all(|p| p.len() >= 50) {
        let (a, b) = (map.luminance_log_offset, luminance_line_slope);
        for (c, pairs) in skin_pairs.iter().enumerate() {
            let mut residuals: Vec<f64> = pairs.iter().map(|&(x, y)| y - a - b * x).collect();
            let mid = residuals.len() / 2;
            map.skin_channel_log_gain[c] = *residuals.select_nth_unstable_by(mid, f64::total_cmp).1;
        }
    }
    Some(map)
}

/// Slope at `x0` of `y ≈ a + b d + c d²`, d = x − x0, fitted by least squares with Huber weights
/// (10 rounds); `None` when the normal equations are singular or the slope leaves 0.5–2. (Mapping
/// heights through the whole quadratic was tried: on real portraits its curvature, fitted over the
/// whole overlap, made the gamma invariance worse, −2.9 % Sq at γ 0.85 against −2.0 % with the slope.)
fn robust_quadratic_slope(pairs: &[(f64, f64)], x0: f64) -> Option<f64> {
    // Centre on x0 so the slope at x0 is the linear coefficient.
    let mut weights = vec![1.0f64; pairs.len()];
    let mut coef = [0.0f64; 3];
    for _ in 0..10 {
        let mut ata = [[0.0f64; 3]; 3];
        let mut atb = [0.0f64; 3];
        for (&(x, y), &w) in pairs.iter().zip(&weights) {
            let d = x - x0;
            let row = [1.0, d, d * d];
            for i in 0..3 {
                atb[i] += w * row[i] * y;
                for j in 0..3 {
                    ata[i][j] += w * row[i] * row[j];
                }
            }
        }
        coef = solve_spd(&ata, &atb)?;
        let model = |x: f64| {
            let d = x - x0;
            coef[0] + coef[1] * d + coef[2] * d * d
        };
        let mut residuals: Vec<f64> = pairs.iter().map(|&(x, y)| (y - model(x)).abs()).collect();
        let mid = residuals.len() / 2;
        let mad = *residuals.select_nth_unstable_by(mid, f64::total_cmp).1;
        let k = 1.345 * (1.4826 * mad).max(1e-6);
        for (w, &(x, y)) in weights.iter_mut().zip(pairs) {
            let r = (y - model(x)).abs();
            *w = if r <= k { 1.0 } else { k / r };
        }
    }
    (0.5..=2.0).contains(&coef[1]).then_some(coef[1])
}

/// `y ≈ a + b x` by Huber-weighted least squares (10 reweighting rounds); slope 1 (offset only) when
/// `x` spreads too little to pin a slope, and the slope is kept within 0.5–2.
fn robust_line(pairs: &[(f64, f64)]) -> (f64, f64) {
    let n = pairs.len() as f64;
    let mean_x = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let spread = (pairs.iter().map(|p| (p.0 - mean_x).powi(2)).sum::<f64>() / n).sqrt();
    let fit_slope = spread >= MIN_LOG_SPREAD;
    let mut weights = vec![1.0f64; pairs.len()];
    let (mut a, mut b) = (0.0, 1.0);
    for _ in 0..10 {
        let (mut sw, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&(x, y), &w) in pairs.iter().zip(&weights) {
            sw += w;
            sx += w * x;
            sy += w * y;
            sxx += w * x * x;
            sxy += w * x * y;
        }
        b = if fit_slope {
            ((sxy - sx * sy / sw) / (sxx - sx * sx / sw)).clamp(0.5, 2.0)
        } else {
            1.0
        };
        a = (sy - b * sx) / sw;
        let mut residuals: Vec<f64> = pairs.iter().map(|&(x, y)| (y - a - b * x).abs()).collect();
        let mid = residuals.len() / 2;
        let mad = *residuals.select_nth_unstable_by(mid, f64::total_cmp).1;
        let k = 1.345 * (1.4826 * mad).max(1e-6);
        for (w, &(x, y)) in weights.iter_mut().zip(pairs) {
            let r = (y - a - b * x).abs();
            *w = if r <= k { 1.0 } else { k / r };
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fit between two full-resolution photos; `skin` says whether every point counts as skin.
    fn fit_photos(
        base: &[Array2<f32>; 3],
        session: &[Array2<f32>; 3],
        to_baseline: &Affine,
        skin: bool,
    ) -> PhotometricMap {
        fit(
            &Shading::new(base),
            &Shading::new(session),
            to_baseline,
            &|_, _| skin,
        )
        .expect("enough overlap")
    }

    /// A smooth shaded scene, channel c at 1 − 0.1·c of the first, sampled at baseline point
    /// `(x + shift, y)` for pixel `(x, y)` and passed through `camera(c, value)`.
    fn shaded_scene(
        (h, w): (usize, usize),
        shift: f64,
        camera: impl Fn(usize, f64) -> f64,
    ) -> [Array2<f32>; 3] {
        let scene = |x: f64, y: f64| 0.08 + 0.5 * ((x / 400.0) * 0.8 + (y / 300.0) * 0.4).powi(2);
        std::array::from_fn(|c| {
            Array2::from_shape_fn((h, w), |(y, x)| {
                let v = scene(x as f64 + shift, y as f64) * (1.0 - 0.1 * c as f64);
                camera(c, v) as f32
            })
        })
    }

    /// The block means against the definition in f64 (`f64::ln` per pixel), on a photo whose size is
    /// not a multiple of the block, so the edge blocks are clipped, with black and dark pixels so the
    /// floor and the dark share are exercised. The logarithms are f32 (within an ulp or so of the exact
    /// ones), so the means agree to 1e-6.
    #[test]
    fn block_log_means_match_the_definition() {
        let (h, w, factor) = (23, 38, 5);
        let rgb: [Array2<f32>; 3] = std::array::from_fn(|c| {
            Array2::from_shape_fn((h, w), |(y, x)| {
                let v = ((x * 7 + y * 13 + c * 5) % 29) as f32 / 28.0;
                if (x + y) % 11 == 0 { 0.0 } else { v * v * v }
            })
        });
        let means = block_log_means(&rgb, factor);
        let (oh, ow) = (h.div_ceil(factor), w.div_ceil(factor));
        for (oy, ox) in (0..oh).flat_map(|oy| (0..ow).map(move |ox| (oy, ox))) {
            let mut expected = [0f64; 5];
            let mut n = 0.0;
            for y in oy * factor..((oy + 1) * factor).min(h) {
                for x in ox * factor..((ox + 1) * factor).min(w) {
                    let [r, g, b] = rgb.each_ref().map(|p| p[[y, x]]);
                    let l = luminance(r, g, b);
                    for (e, v) in expected.iter_mut().zip([r, g, b, l]) {
                        *e += f64::from(v.max(1e-4)).ln();
                    }
                    expected[4] += f64::from(u8::from(l < USABLE.0));
                    n += 1.0;
                }
            }
            for (k, plane) in means.iter().enumerate() {
                let got = f64::from(plane[[oy, ox]]);
                let want = expected[k] / n;
                assert!(
                    (got - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "{k} at ({oy}, {ox}): {got} vs {want}"
                );
            }
        }
    }

    /// A shaded scene seen with a known gain and gamma per channel and shifted by 7 px: the fit must
    /// recover the inverse map.
    #[test]
    fn recovers_per_channel_gain_and_gamma() {
        let size = (300, 400);
        let base = shaded_scene(size, 0.0, |_, v| v);
        let gains = [1.2, 0.9, 1.05];
        let gammas = [1.1, 0.95, 0.9];
        // Session pixel (x, y) shows baseline pixel (x + 7, y).
        let session = shaded_scene(size, 7.0, |c, v| gains[c] * v.powf(gammas[c]));
        let to_baseline = Affine::similarity(1.0, 0.0, 7.0, 0.0);
        let map = fit_photos(&base, &session, &to_baseline, false);
        for c in 0..3 {
            // baseline = (session / gain)^(1/gamma): slope 1/γ, offset −ln(gain)/γ.
            let slope = 1.0 / gammas[c];
            let offset = -f64::ln(gains[c]) / gammas[c];
            assert!((map.log_slope[c] - slope).abs() < 0.01, "c{c} {map:?}");
            assert!((map.log_offset[c] - offset).abs() < 0.01, "c{c} {map:?}");
        }
        let v = map.apply(0, (1.2 * 0.3f64.powf(1.1)) as f32);
        assert!((v - 0.3).abs() < 0.005, "{v}");

        // The same gain and gamma on every channel: luminance follows the same line.
        let common = shaded_scene(size, 7.0, |_, v| 0.8 * v.powf(1.12));
        let map = fit_photos(&base, &common, &to_baseline, false);
        assert!(
            (map.luminance_log_slope - 1.0 / 1.12).abs() < 0.01,
            "{map:?}"
        );
        assert!(
            (map.luminance_log_offset + f64::ln(0.8) / 1.12).abs() < 0.02,
            "{map:?}"
        );
    }

    /// Skin of varying redness and shading, linear R, G, B: the colour mask accepts all of it.
    fn skin_scene((h, w): (usize, usize), shift: f64) -> [Array2<f32>; 3] {
        let skin = [0.745, 0.412, 0.262];
        std::array::from_fn(|c| {
            Array2::from_shape_fn((h, w), |(y, x)| {
                let (x, y) = (x as f64 + shift, y as f64);
                let shade = 0.55 + 0.4 * ((x / 400.0) * 0.8 + (y / 300.0) * 0.4).powi(2);
                let redness = if c == 0 {
                    1.0 + 0.12 * (x / 3.0 + y / 5.0).sin()
                } else {
                    1.0
                };
                (skin[c] * shade * redness) as f32
            })
        })
    }

    /// A white-balance change is a per-channel gain, so it does not cancel in ln Y as exposure does: a
    /// redder pixel takes more of the red gain. The skin luminance weights undo it exactly, where the
    /// Rec. 709 weights leave a ratio that follows each pixel's redness.
    #[test]
    fn skin_weights_undo_a_white_balance_change() {
        let (h, w) = (300, 400);
        let base = skin_scene((h, w), 0.0);
        let gains = [1.06 * 0.9, 0.9, 0.94 * 0.9];
        let session: [Array2<f32>; 3] = std::array::from_fn(|c| {
            skin_scene((h, w), 7.0)[c].mapv(|v| (f64::from(v) * gains[c]) as f32)
        });
        let to_baseline = Affine::similarity(1.0, 0.0, 7.0, 0.0);
        let map = fit_photos(&base, &session, &to_baseline, true);
        let weights = map.skin_luminance_weights();
        // Over the same scene points: baseline Y / session Y, with either weighting.
        let ratios = |weights: [f32; 3]| -> (f64, f64) {
            let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
            for y in 0..h {
                for x in 0..w - 7 {
                    // Session pixel (x, y) shows baseline pixel (x + 7, y).
                    let b = |c: usize| f64::from(base[c][[y, x + 7]]);
                    let s = |c: usize| f64::from(session[c][[y, x]]);
                    let yb = (0..3)
                        .map(|c| f64::from(LUMA_WEIGHTS[c]) * b(c))
                        .sum::<f64>();
                    let ys = (0..3).map(|c| f64::from(weights[c]) * s(c)).sum::<f64>();
                    lo = lo.min(yb / ys);
                    hi = hi.max(yb / ys);
                }
            }
            (lo, hi)
        };
        let (lo, hi) = ratios(weights);
        // 1e-5: the planes are f32, and the fit's median residual per channel is one f32 sample's.
        assert!(
            hi / lo - 1.0 < 1e-5,
            "skin weights {weights:?}: ratio {lo}–{hi}"
        );
        // The plain weights leave a spread of the order of the redness × the red gain's share.
        let (lo, hi) = ratios(LUMA_WEIGHTS);
        assert!(hi / lo - 1.0 > 3e-3, "Rec. 709: ratio {lo}–{hi}");
        // The gains come out relative to the luminance's own: red up, blue down, by the set ratios.
        let g = map.skin_channel_log_gain;
        assert!(((g[0] - g[1]) + f64::ln(1.06)).abs() < 1e-3, "{g:?}");
        assert!(((g[2] - g[1]) + f64::ln(0.94)).abs() < 1e-3, "{g:?}");
    }

    /// The same power law on every channel is no white-balance change: it is one straight line in
    /// log-log for all three, the luminance's, so nothing is left per channel and the skin weights stay
    /// Rec. 709's. (Measuring the plain ratio per channel would have read the power law as a colour
    /// cast: the channels sit at different levels.)
    #[test]
    fn a_common_gamma_leaves_the_skin_weights_near_rec709() {
        let (h, w) = (300, 400);
        let base = skin_scene((h, w), 0.0);
        let session: [Array2<f32>; 3] =
            std::array::from_fn(|c| skin_scene((h, w), 7.0)[c].mapv(|v| v.powf(1.12)));
        let to_baseline = Affine::similarity(1.0, 0.0, 7.0, 0.0);
        let map = fit_photos(&base, &session, &to_baseline, true);
        let weights = map.skin_luminance_weights();
        for c in 0..3 {
            let ratio = weights[c] / LUMA_WEIGHTS[c];
            // Measured: within 3.2e-4 of 1.
            assert!((ratio - 1.0).abs() < 1e-3, "{weights:?}");
        }
    }

    /// Fine texture whose spread changes across the photo (skin with more and more dark hair mixed
    /// in, pixel by pixel): the block means see a decade of values. Under a power law the fit must
    /// still find the pixels' own slope: the mean of logs commutes with it, a mean of linear values
    /// would not (where hair is dense, the block's linear mean is the skin's, its power the skin's
    /// power, while its mean power is smaller).
    #[test]
    fn a_tone_curve_is_read_at_the_pixels_own_slope_under_mixed_blocks() {
        let (h, w) = (300, 400);
        let scene = |x: usize, y: usize| -> f64 {
            let shade = 0.3 + 0.4 * (x as f64 / w as f64);
            // The share of hair grows down the photo; a hash decides which pixels are hair.
            let hair_share = 0.6 * y as f64 / h as f64;
            let hash = ((x * 7919 + y * 104_729) % 1000) as f64 / 1000.0;
            if hash < hair_share {
                shade * 0.08
            } else {
                shade
            }
        };
        let base: [Array2<f32>; 3] =
            std::array::from_fn(|_| Array2::from_shape_fn((h, w), |(y, x)| scene(x, y) as f32));
        let session: [Array2<f32>; 3] = std::array::from_fn(|_| {
            Array2::from_shape_fn((h, w), |(y, x)| (0.9 * scene(x, y).powf(1.15)) as f32)
        });
        let map = fit_photos(&base, &session, &Affine::IDENTITY, true);
        assert!(
            (map.luminance_log_slope - 1.0 / 1.15).abs() < 0.005,
            "{map:?}"
        );
    }

    /// A session whose left third is black (a warp's fill, a black backdrop) and otherwise a pure
    /// exposure change: blocks touching the black are left out, so the fit stays a pure gain.
    #[test]
    fn black_regions_do_not_drag_the_fit() {
        let (h, w) = (300, 400);
        let base = shaded_scene((h, w), 0.0, |_, v| v);
        let session: [Array2<f32>; 3] = std::array::from_fn(|c| {
            Array2::from_shape_fn((h, w), |(y, x)| {
                if x < w / 3 {
                    0.0
                } else {
                    (0.8 * f64::from(base[c][[y, x]])) as f32
                }
            })
        });
        let map = fit_photos(&base, &session, &Affine::IDENTITY, true);
        assert!((map.luminance_log_slope - 1.0).abs() < 0.005, "{map:?}");
        assert!(
            (map.luminance_log_offset + f64::ln(0.8)).abs() < 0.005,
            "{map:?}"
        );
    }

    #[test]
    fn flat_overlap_fits_gain_only() {
        let base: [Array2<f32>; 3] = std::array::from_fn(|_| Array2::from_elem((100, 100), 0.4));
        let session: [Array2<f32>; 3] = std::array::from_fn(|_| Array2::from_elem((100, 100), 0.5));
        let map = fit_photos(&base, &session, &Affine::IDENTITY, false);
        for c in 0..3 {
            assert_eq!(map.log_slope[c], 1.0);
            assert!((map.apply(c, 0.5) - 0.4).abs() < 1e-5);
        }
    }
}
