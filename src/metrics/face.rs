//! Where the face is: the frontal face in a baseline photo, to which the measured skin is limited.
//!
//! Skin colour alone accepts whatever has skin's chroma: a beige clinic wall, a wooden door, sunlit
//! foliage, a blurred background. On the real portraits of the test suite a wall was half the measured
//! region of one face, and every texture of it read as roughness, pores and scars. A face detector
//! says where the face is, and the measured region becomes skin ∩ an ellipse around it.
//!
//! The detector is SeetaFace's funnel-structured cascade (Wu et al., "Funnel-structured cascade for
//! multi-view face detection with alignment-awareness", Neurocomputing 221, 2017) as ported to Rust
//! by the `rustface` crate, with the frontal model the SeetaFace project trained (BSD-2-Clause; the
//! model file and its licence are in `models/`, built into the binary so nothing is read at run time).
//! A face detector is a trained model, not something to write by hand; this one is small (1.2 MB),
//! pure Rust and fast at the size it runs on here (tens of milliseconds).
//!
//! Where no face is found — a close-up of a cheek, a profile view the frontal model does not see, the
//! synthetic skin of the fixtures — the region is all skin-coloured surface, as before, and the report
//! says so (the view's `face` is absent). Where `series.toml` gives an roi, the detector is not run:
//! the roi is the clinic's own choice of skin (it may be a neck) and is measured as given.

use std::sync::OnceLock;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::io::colour::linear_to_srgb8;
use crate::kernels::warp::downsample_area;

/// The frontal model of SeetaFace Engine (`seeta_fd_frontal_v1.0.bin`, as shipped in the `rustface`
/// 0.1.7 package; sha256 c4619d06…61db3ff5d).
static MODEL_BYTES: &[u8] = include_bytes!("../../models/seeta_fd_frontal_v1.0.bin");

/// Long side, px, the detector runs at at most (the photo is block-averaged by the smallest integer
/// factor that brings it there, so a larger photo's side becomes 321–640 px). The cascade's window
/// is 40 px, so a face's box (brows to mouth, about two thirds of the face) must cover 40 px of it:
/// an eighth of the long side always does in a photo of 320 px or more, and a clinic photo's face
/// is far larger. The cost grows with the
/// pixels: 45–68 ms at this size (median of 5, the block average included), measured on the test
/// portraits and a 12 MP photo without a face, against 190–400 ms at twice the side. The cap also
/// keeps the crate within what it was written for: its integral image is `i32` and overflows past
/// about 8 MP (rustface issues #17 and #39), and some of its `u32` subtractions need sides under
/// about 1 600 px.
const DETECT_SIDE: usize = 640;
/// Smallest side, px at the detector's scale, of a photo the detector runs on (below the cascade's
/// window there is nothing to look at).
const MIN_DETECT_SIDE: usize = 64;
/// Smallest score of a face. The crate's default is 3.85 (its README's example uses 2); at this size
/// the faces of the test portraits score 8.8–22.1 and the synthetic skin of the fixtures gives no
/// window above 2, so 5 leaves margin both ways.
const MIN_SCORE: f64 = 5.0;
/// The ellipse around a detection box of side `s`. SeetaFace's box runs from the brows, or a little
/// above, to just below the mouth, and across the frontal features only: a face is about 1.5 `s`
/// from hairline to chin, and on a face turned towards one side the far cheek reaches past the box.
/// So the ellipse is centred `CENTRE_DOWN · s` below the box's top with semi-axes `HALF_WIDTH · s`
/// and `HALF_HEIGHT · s`: up the forehead into the hair, down past the chin, and a quarter of the box
/// past it on each side. Hair, brows, eyes and lips inside it are left out by the skin mask's own
/// rules; what the ellipse removes is what lies away from the face. Checked on the test portraits
/// (`tests/realmetrics.rs`): every rectangle of bare facial skin drawn on them by eye lies inside, the
/// wall, foliage, clothes and chest beside and below the faces outside (semi-axes of 0.6 `s` and
/// 0.75 `s`, tried first, cut the far cheek and the chin off a face turned by about 30°).
const CENTRE_DOWN: f64 = 0.5;
const HALF_WIDTH: f64 = 0.75;
const HALF_HEIGHT: f64 = 0.85;

/// A face found in a photo: the detector's square box, in that photo's pixels (centres at integers,
/// as everywhere in the reports, so the photo's own left edge is at −0.5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaceBox {
    /// Left edge of the box, px.
    pub x: f64,
    /// Top edge of the box, px.
    pub y: f64,
    /// Side of the (square) box, px.
    pub side: f64,
    /// The detector's confidence (SeetaFace's score; larger is surer).
    pub score: f64,
}

impl FaceBox {
    /// Whether pixel `(x, y)` lies in the ellipse the measured region is limited to.
    #[must_use]
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let centre_x = self.x + 0.5 * self.side;
        let centre_y = self.y + CENTRE_DOWN * self.side;
        let u = (x - centre_x) / (HALF_WIDTH * self.side);
        let v = (y - centre_y) / (HALF_HEIGHT * self.side);
        u * u + v * v <= 1.0
    }
}

/// The model, parsed once per process (about 1 ms; a detector is built from a copy each call since
/// detecting needs it mutable).
fn model() -> Option<&'static rustface::Model> {
    static MODEL: OnceLock<Option<rustface::Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| rustface::read_model(std::io::Cursor::new(MODEL_BYTES)).ok())
        .as_ref()
}

/// The largest frontal face in a photo, from its linear luminance; `None` when there is none (or the
/// photo is too small to look in). Of several faces, the largest is the patient's: anyone else in the
/// frame stands farther from the camera.
#[must_use]
pub fn find_face(luminance: ArrayView2<'_, f32>) -> Option<FaceBox> {
    let (h, w) = luminance.dim();
    let factor = h.max(w).div_ceil(DETECT_SIDE).max(1);
    let small = downsample_area(luminance, factor);
    let (sh, sw) = small.dim();
    if sh.min(sw) < MIN_DETECT_SIDE {
        return None;
    }
    // The model was trained on 8-bit grey photos, which are gamma-encoded.
    let grey: Vec<u8> = small.iter().map(|&v| linear_to_srgb8(v)).collect();
    let mut detector = rustface::create_detector_with_model(model()?.clone());
    detector.set_score_thresh(MIN_SCORE);
    // The crate's defaults (its minimum face size is not used by 0.1.7: every face down to the 40 px
    // window is sought), written out so that an upgrade cannot move them.
    detector.set_pyramid_scale_factor(0.8);
    detector.set_slide_window_step(4, 4);
    let image = rustface::ImageData::new(&grey, u32::try_from(sw).ok()?, u32::try_from(sh).ok()?);
    // The size checks above cover the crate's documented panics (a zero side, a window under 20 px);
    // should another turn up, it must cost this photo its face, not the batch. What this cannot
    // catch: read in review, the crate's window copy trusts its box regressor, and a box regressed
    // to under 2 px or wholly past the right or bottom edge would be read or written out of bounds
    // (unsafe pointer code). That needs the regressor's outputs at their extremes; nothing on the
    // test portraits or the fixtures came near, but it is the crate's code, not ours, that guards
    // it.
    let faces =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| detector.detect(&image))).ok()?;
    let scale = factor as f64;
    faces
        .iter()
        .map(|f| {
            let b = f.bbox();
            // Reduced pixel i covers full-resolution pixels i·factor … i·factor + factor − 1, whose
            // left edge is at i·factor − 0.5.
            FaceBox {
                x: f64::from(b.x()) * scale - 0.5,
                y: f64::from(b.y()) * scale - 0.5,
                side: f64::from(b.width()) * scale,
                score: f.score(),
            }
        })
        .filter(|f| f.score >= MIN_SCORE && f.side > 0.0)
        .max_by(|a, b| a.side.total_cmp(&b.side).then(a.score.total_cmp(&b.score)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// The ellipse around a box: its centre and the ends of its axes, and points just past them.
    #[test]
    fn ellipse_reaches_forehead_chin_and_cheeks() {
        let face = FaceBox {
            x: 100.0,
            y: 200.0,
            side: 400.0,
            score: 10.0,
        };
        let (cx, cy) = (300.0, 200.0 + 0.5 * 400.0);
        assert!(face.contains(cx, cy));
        for (dx, dy) in [(300.0, 0.0), (-300.0, 0.0), (0.0, 340.0), (0.0, -340.0)] {
            assert!(
                face.contains(cx + 0.999 * dx, cy + 0.999 * dy),
                "({dx}, {dy})"
            );
            assert!(
                !face.contains(cx + 1.001 * dx, cy + 1.001 * dy),
                "({dx}, {dy})"
            );
        }
        // Diagonally, it is an ellipse, not the square around it.
        assert!(!face.contains(cx + 0.75 * 300.0, cy + 0.75 * 340.0));
        assert!(face.contains(cx + 0.7 * 300.0, cy + 0.7 * 340.0));
    }

    /// The model built into the binary parses.
    #[test]
    fn model_is_readable() {
        assert!(model().is_some());
    }

    /// No face in skin-like noise, in a flat plane, nor in photos too small to look in (and no panic).
    #[test]
    fn no_face_where_there_is_none() {
        let noise = Array2::from_shape_fn((900, 1200), |(y, x)| {
            let hash = crate::synth::noise::hash2(5, x as i64, y as i64);
            0.2 + 0.05 * crate::synth::noise::unit_from_hash(hash) as f32
        });
        assert_eq!(find_face(noise.view()), None);
        assert_eq!(
            find_face(Array2::from_elem((600, 800), 0.3f32).view()),
            None
        );
        for (h, w) in [(0, 0), (1, 1), (63, 500), (40, 4000), (3000, 20)] {
            assert_eq!(find_face(Array2::from_elem((h, w), 0.3f32).view()), None);
        }
    }
}
