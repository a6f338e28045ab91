//! Affine maps between pixel frames, and the pyramid-level change of coordinates.
//!
//! Convention (the report contract's): pixel centres at integer coordinates, origin at the top-left
//! pixel's centre. Level `L` of a pyramid built by [`crate::kernels::warp::pyramid_down`] keeps every
//! second pixel, so its pixel `(x, y)` sits on pixel `(2^L x, 2^L y)` of level 0: moving a map between
//! levels only rescales its translation.

/// `x' = m[0][0] x + m[0][1] y + m[0][2]`, `y' = m[1][0] x + m[1][1] y + m[1][2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    /// The two rows of the map.
    pub m: [[f64; 3]; 2],
}

impl Affine {
    /// The identity map.
    pub const IDENTITY: Self = Self {
        m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
    };

    /// A similarity: rotation by `angle_rad` (counter-clockwise on screen is negative here, since `y`
    /// points down) about the origin, uniform `scale`, then translation.
    #[must_use]
    pub fn similarity(scale: f64, angle_rad: f64, tx: f64, ty: f64) -> Self {
        let (sin, cos) = angle_rad.sin_cos();
        Self {
            m: [
                [scale * cos, -scale * sin, tx],
                [scale * sin, scale * cos, ty],
            ],
        }
    }

    /// From the first two rows of a 3 × 3 matrix (the last row is ignored).
    #[must_use]
    pub fn from_matrix3(m: &[[f64; 3]; 3]) -> Self {
        Self { m: [m[0], m[1]] }
    }

    /// As a 3 × 3 matrix with last row `0 0 1`.
    #[must_use]
    pub fn to_matrix3(&self) -> [[f64; 3]; 3] {
        [self.m[0], self.m[1], [0.0, 0.0, 1.0]]
    }

    /// Maps one point.
    #[must_use]
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let m = &self.m;
        (
            m[0][0] * x + m[0][1] * y + m[0][2],
            m[1][0] * x + m[1][1] * y + m[1][2],
        )
    }

    /// `self ∘ inner`: apply `inner` first, then `self`.
    #[must_use]
    pub fn after(&self, inner: &Self) -> Self {
        let (a, b) = (&self.m, &inner.m);
        let mut m = [[0.0; 3]; 2];
        for (r, row) in m.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = a[r][0] * b[0][c] + a[r][1] * b[1][c];
            }
            row[2] += a[r][2];
        }
        Self { m }
    }

    /// Determinant of the linear part (area ratio).
    #[must_use]
    pub fn det(&self) -> f64 {
        self.m[0][0] * self.m[1][1] - self.m[0][1] * self.m[1][0]
    }

    /// The inverse map, or `None` when the linear part is singular or not finite.
    #[must_use]
    pub fn inverse(&self) -> Option<Self> {
        let det = self.det();
        if !det.is_finite() || det.abs() < 1e-12 {
            return None;
        }
        let m = &self.m;
        let (a, b, c, d) = (m[1][1] / det, -m[0][1] / det, -m[1][0] / det, m[0][0] / det);
        Some(Self {
            m: [
                [a, b, -(a * m[0][2] + b * m[1][2])],
                [c, d, -(c * m[0][2] + d * m[1][2])],
            ],
        })
    }

    /// Mean linear scale, `sqrt(|det|)`.
    #[must_use]
    pub fn scale(&self) -> f64 {
        self.det().abs().sqrt()
    }

    /// Rotation angle of the closest similarity, radians (positive turns +x towards +y).
    #[must_use]
    pub fn rotation(&self) -> f64 {
        let m = &self.m;
        (m[1][0] - m[0][1]).atan2(m[0][0] + m[1][1])
    }

    /// Whether every coefficient is finite.
    #[must_use]
    pub fn is_finite(&self) -> bool {
        self.m.iter().flatten().all(|v| v.is_finite())
    }

    /// Pixel of a plane reduced by [`crate::kernels::warp::downsample_area`] with `factor` → the
    /// full-resolution position its block is centred on: `factor · i + (factor − 1)/2`.
    #[must_use]
    pub fn block_to_full(factor: usize) -> Self {
        let k = factor.max(1) as f64;
        let centre = (k - 1.0) / 2.0;
        Self {
            m: [[k, 0.0, centre], [0.0, k, centre]],
        }
    }

    /// The same map expressed between the frames of pyramid level `level` (coordinates divided by
    /// `2^level`) on both sides.
    #[must_use]
    pub fn full_to_level(&self, level: u32) -> Self {
        let f = f64::from(1u32 << level);
        let mut m = self.m;
        m[0][2] /= f;
        m[1][2] /= f;
        Self { m }
    }

    /// Inverse of [`Affine::full_to_level`].
    #[must_use]
    pub fn level_to_full(&self, level: u32) -> Self {
        let f = f64::from(1u32 << level);
        let mut m = self.m;
        m[0][2] *= f;
        m[1][2] *= f;
        Self { m }
    }
}

/// The largest distance between where `a` and `b` put the points of an `n × n` grid spanning a
/// `width × height` frame from corner pixel to corner pixel: the accuracy figure of the alignment
/// tests ("grid error").
#[must_use]
pub fn grid_error(a: &Affine, b: &Affine, width: usize, height: usize, n: usize) -> f64 {
    let n = n.max(2);
    let mut worst = 0.0f64;
    for i in 0..n {
        for j in 0..n {
            let x = (width.saturating_sub(1)) as f64 * j as f64 / (n - 1) as f64;
            let y = (height.saturating_sub(1)) as f64 * i as f64 / (n - 1) as f64;
            let (ax, ay) = a.apply(x, y);
            let (bx, by) = b.apply(x, y);
            worst = worst.max((ax - bx).hypot(ay - by));
        }
    }
    worst
}

/// Fraction of a `width × height` frame whose pixels `map` sends inside an `other_width ×
/// other_height` frame (sampled on a 64 × 64 grid, which is exact to about 1 %).
#[must_use]
pub fn overlap_fraction(
    map: &Affine,
    width: usize,
    height: usize,
    other_width: usize,
    other_height: usize,
) -> f64 {
    const N: usize = 64;
    let mut inside = 0usize;
    for i in 0..N {
        for j in 0..N {
            let x = (j as f64 + 0.5) / N as f64 * width as f64 - 0.5;
            let y = (i as f64 + 0.5) / N as f64 * height as f64 - 0.5;
            let (u, v) = map.apply(x, y);
            if u >= -0.5
                && v >= -0.5
                && u < other_width as f64 - 0.5
                && v < other_height as f64 - 0.5
            {
                inside += 1;
            }
        }
    }
    inside as f64 / (N * N) as f64
}

/// Solves the symmetric positive-definite system `a x = b` of size `N` by Cholesky decomposition, or
/// `None` when `a` is not positive definite (a degenerate fit).
///
/// Written out because every solve in the alignment is 2 × 2 to 6 × 6; a linear-algebra crate would
/// add build time to CI for twenty lines.
#[must_use]
#[allow(clippy::needless_range_loop)] // Index notation mirrors the textbook recurrence.
pub fn solve_spd<const N: usize>(a: &[[f64; N]; N], b: &[f64; N]) -> Option<[f64; N]> {
    let mut l = [[0.0f64; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let mut sum = a[i][j];
            for k in 0..j {
                sum -= l[i][k] * l[j][k];
            }
            if i == j {
                // Relative pivot floor: a pivot this small against the diagonal means a rank-deficient
                // system (e.g. every point on one line).
                if sum.is_nan() || sum <= 1e-12 * a[i][i].abs().max(f64::MIN_POSITIVE) {
                    return None;
                }
                l[i][i] = sum.sqrt();
            } else {
                l[i][j] = sum / l[j][j];
            }
        }
    }
    let mut y = [0.0f64; N];
    for i in 0..N {
        let mut sum = b[i];
        for k in 0..i {
            sum -= l[i][k] * y[k];
        }
        y[i] = sum / l[i][i];
    }
    let mut x = [0.0f64; N];
    for i in (0..N).rev() {
        let mut sum = y[i];
        for k in i + 1..N {
            sum -= l[k][i] * x[k];
        }
        x[i] = sum / l[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composition_and_inverse_round_trip() {
        let a = Affine {
            m: [[1.1, 0.2, 5.0], [-0.1, 0.9, -3.0]],
        };
        let b = Affine::similarity(0.95, 0.2, 10.0, 4.0);
        let ab = a.after(&b);
        let (x, y) = (37.0, -12.5);
        let (bx, by) = b.apply(x, y);
        let direct = a.apply(bx, by);
        let composed = ab.apply(x, y);
        assert!((direct.0 - composed.0).abs() < 1e-12 && (direct.1 - composed.1).abs() < 1e-12);
        let id = ab.inverse().unwrap().after(&ab);
        assert!(grid_error(&id, &Affine::IDENTITY, 100, 100, 5) < 1e-9);
        assert!(
            Affine {
                m: [[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]]
            }
            .inverse()
            .is_none()
        );
    }

    #[test]
    fn level_change_commutes_with_pyramid_coordinates() {
        let a = Affine::similarity(1.1, -0.3, 40.0, -24.0);
        let at2 = a.full_to_level(2);
        // A level-2 point (x, y) is level-0 point (4x, 4y); mapping there and back must agree.
        let (x, y) = (13.0, 7.0);
        let (u, v) = a.apply(4.0 * x, 4.0 * y);
        let (u2, v2) = at2.apply(x, y);
        assert!((u / 4.0 - u2).abs() < 1e-12 && (v / 4.0 - v2).abs() < 1e-12);
        assert_eq!(at2.level_to_full(2), a);
    }

    #[test]
    fn block_grid_maps_to_block_centres() {
        // Block 0 of factor 4 covers pixels 0–3 (centre 1.5); block 2 covers 8–11 (centre 9.5).
        let up = Affine::block_to_full(4);
        assert_eq!(up.apply(0.0, 2.0), (1.5, 9.5));
        assert_eq!(Affine::block_to_full(1), Affine::IDENTITY);
    }

    #[test]
    fn similarity_reports_its_scale_and_rotation() {
        let a = Affine::similarity(1.15, 0.25, 3.0, 4.0);
        assert!((a.scale() - 1.15).abs() < 1e-12);
        assert!((a.rotation() - 0.25).abs() < 1e-12);
    }

    #[test]
    fn overlap_of_a_half_shift_is_a_half() {
        let shift = Affine::similarity(1.0, 0.0, 50.0, 0.0);
        let f = overlap_fraction(&shift, 100, 80, 100, 80);
        assert!((f - 0.5).abs() < 0.02, "{f}");
        assert_eq!(overlap_fraction(&Affine::IDENTITY, 100, 80, 100, 80), 1.0);
    }

    #[test]
    fn cholesky_solves_and_refuses_singular_systems() {
        let a = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        let x_true = [1.0, -2.0, 0.5];
        let b: [f64; 3] = std::array::from_fn(|i| (0..3).map(|j| a[i][j] * x_true[j]).sum());
        let x = solve_spd(&a, &b).unwrap();
        for i in 0..3 {
            assert!((x[i] - x_true[i]).abs() < 1e-12);
        }
        assert!(solve_spd(&[[1.0, 1.0], [1.0, 1.0]], &[1.0, 1.0]).is_none());
    }
}
