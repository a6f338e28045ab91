//! Robust model fitting to point correspondences: RANSAC over two-point similarities, then an affine
//! least-squares refit on the inliers.
//!
//! A similarity (4 degrees of freedom) needs only two correspondences, so with half the matches wrong
//! a few hundred draws find a clean sample with near certainty; the affine refit then picks up the
//! shear and anisotropic scale that clinic photos do have. The draws come from a generator with a
//! fixed seed, so the result depends on nothing but the matches.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::geometry::{Affine, solve_spd};

/// A fitted model and its support.
#[derive(Debug, Clone)]
pub struct RobustFit {
    /// Maps `from` points to `to` points.
    pub model: Affine,
    /// Indices of the correspondences within the final threshold.
    pub inliers: Vec<usize>,
    /// Root-mean-square transfer error of the inliers, px.
    pub rms_error: f64,
}

/// Fits `to ≈ model(from)` robustly; `threshold` is the inlier distance in pixels. `None` when fewer
/// than two correspondences are given or no sample gives a usable model.
#[must_use]
pub fn fit_similarity_then_affine(
    from: &[(f64, f64)],
    to: &[(f64, f64)],
    threshold: f64,
    max_iterations: usize,
) -> Option<RobustFit> {
    let n = from.len().min(to.len());
    if n < 2 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0x5A1E_C0DE);
    let t2 = threshold * threshold;
    let mut best: Option<(usize, Affine)> = None;
    let mut iterations = max_iterations;
    let mut i = 0;
    while i < iterations {
        i += 1;
        let a = rng.random_range(0..n);
        let b = rng.random_range(0..n);
        if a == b {
            continue;
        }
        let Some(model) = similarity_from_two(from[a], from[b], to[a], to[b]) else {
            continue;
        };
        let count = (0..n)
            .filter(|&k| transfer_error2(&model, from[k], to[k]) <= t2)
            .count();
        if best.as_ref().is_none_or(|(c, _)| count > *c) {
            best = Some((count, model));
            // Adaptive stop: draws needed to see one all-inlier pair with 99.9 % confidence.
            let w = count as f64 / n as f64;
            let p_good = (w * w).clamp(1e-9, 1.0 - 1e-12);
            let needed = ((1.0f64 - 0.999).ln() / (1.0 - p_good).ln()).ceil();
            iterations = iterations.min(needed.max(50.0) as usize);
        }
    }
    let (_, mut model) = best?;
    // Refit: affine least squares on the inliers, twice (the inlier set can grow once shear is in).
    for _ in 0..3 {
        let inliers: Vec<usize> = (0..n)
            .filter(|&k| transfer_error2(&model, from[k], to[k]) <= t2)
            .collect();
        match affine_least_squares(from, to, &inliers) {
            Some(refit) => model = refit,
            None => break,
        }
    }
    let inliers: Vec<usize> = (0..n)
        .filter(|&k| transfer_error2(&model, from[k], to[k]) <= t2)
        .collect();
    let rms_error = if inliers.is_empty() {
        f64::INFINITY
    } else {
        (inliers
            .iter()
            .map(|&k| transfer_error2(&model, from[k], to[k]))
            .sum::<f64>()
            / inliers.len() as f64)
            .sqrt()
    };
    Some(RobustFit {
        model,
        inliers,
        rms_error,
    })
}

fn transfer_error2(m: &Affine, p: (f64, f64), q: (f64, f64)) -> f64 {
    let (x, y) = m.apply(p.0, p.1);
    (x - q.0).powi(2) + (y - q.1).powi(2)
}

/// The similarity taking `p1 → q1` and `p2 → q2` (complex ratio of the difference vectors).
fn similarity_from_two(
    p1: (f64, f64),
    p2: (f64, f64),
    q1: (f64, f64),
    q2: (f64, f64),
) -> Option<Affine> {
    let (dpx, dpy) = (p2.0 - p1.0, p2.1 - p1.1);
    let (dqx, dqy) = (q2.0 - q1.0, q2.1 - q1.1);
    let norm = dpx * dpx + dpy * dpy;
    if norm < 1e-6 {
        return None;
    }
    // (a + ib) = dq / dp
    let a = (dqx * dpx + dqy * dpy) / norm;
    let b = (dqy * dpx - dqx * dpy) / norm;
    let tx = q1.0 - (a * p1.0 - b * p1.1);
    let ty = q1.1 - (b * p1.0 + a * p1.1);
    Some(Affine {
        m: [[a, -b, tx], [b, a, ty]],
    })
}

/// Least-squares affine map over the chosen correspondences (coordinates centred for conditioning).
#[must_use]
pub fn affine_least_squares(
    from: &[(f64, f64)],
    to: &[(f64, f64)],
    chosen: &[usize],
) -> Option<Affine> {
    if chosen.len() < 3 {
        return None;
    }
    let k = chosen.len() as f64;
    let (mut cx, mut cy) = (0.0, 0.0);
    for &i in chosen {
        cx += from[i].0;
        cy += from[i].1;
    }
    let (cx, cy) = (cx / k, cy / k);
    let mut ata = [[0.0f64; 3]; 3];
    let mut atb = [[0.0f64; 3]; 2];
    for &i in chosen {
        let row = [from[i].0 - cx, from[i].1 - cy, 1.0];
        for r in 0..3 {
            for c in 0..3 {
                ata[r][c] += row[r] * row[c];
            }
            atb[0][r] += row[r] * to[i].0;
            atb[1][r] += row[r] * to[i].1;
        }
    }
    let x = solve_spd(&ata, &atb[0])?;
    let y = solve_spd(&ata, &atb[1])?;
    // Undo the centring: u = a (x − cx) + b (y − cy) + c.
    Some(Affine {
        m: [
            [x[0], x[1], x[2] - x[0] * cx - x[1] * cy],
            [y[0], y[1], y[2] - y[0] * cx - y[1] * cy],
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::geometry::grid_error;

    #[test]
    fn recovers_an_affine_map_through_sixty_percent_outliers() {
        let truth = Affine {
            m: [[1.08, 0.05, 31.0], [-0.12, 0.97, -17.0]],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut from = Vec::new();
        let mut to = Vec::new();
        for i in 0..200 {
            let p = (rng.random_range(0.0..800.0), rng.random_range(0.0..600.0));
            let q = if i % 5 < 2 {
                let (x, y) = truth.apply(p.0, p.1);
                // Half-pixel localisation noise.
                (
                    x + rng.random_range(-0.5..0.5),
                    y + rng.random_range(-0.5..0.5),
                )
            } else {
                (rng.random_range(0.0..800.0), rng.random_range(0.0..600.0))
            };
            from.push(p);
            to.push(q);
        }
        let fit = fit_similarity_then_affine(&from, &to, 3.0, 2000).unwrap();
        assert!(fit.inliers.len() >= 80, "{} inliers", fit.inliers.len());
        assert!(fit.inliers.iter().all(|&i| i % 5 < 2));
        let err = grid_error(&fit.model, &truth, 800, 600, 5);
        assert!(err < 0.5, "grid error {err}");
    }

    #[test]
    fn degenerate_input_gives_no_model() {
        assert!(fit_similarity_then_affine(&[(1.0, 1.0)], &[(2.0, 2.0)], 3.0, 100).is_none());
        let same = [(5.0, 5.0); 10];
        assert!(fit_similarity_then_affine(&same, &same, 3.0, 100).is_none());
    }
}
