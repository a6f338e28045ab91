//! # skintex
//!
//! Objective, repeatable measurements of skin texture, pores and atrophic scars from a clinic's
//! before/after facial photo series — for following a microneedling course (or any resurfacing
//! treatment) with numbers instead of impressions.
//!
//! The library is the whole tool; the `skintex` binary only parses arguments, shows progress and maps
//! outcomes to exit codes. Data flows as DESIGN.md draws it:
//!
//! ```text
//! series::discover → io::load_photo → align → (metrics) → report
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`align`] | registration of each session to its baseline, photometric normalisation, quality gate |
//! | [`kernels`] | parallel f32 image kernels: convolution, Gaussian, morphology, labelling, warps |
//! | [`metrics`] | the skin mask (roughness, pores and scars to come) |
//! | [`io`] | decoding JPEG/PNG/TIFF (8/16-bit, EXIF orientation and date) into linear `f32` planes |
//! | [`series`] | patients, dated sessions and views in a photo folder; `series.toml` |
//! | [`pipeline`] | running a patient through every stage in a deterministic order |
//! | [`report`] | the `report.json` contract and atomic writing |
//! | [`synth`] | deterministic synthetic skin series with exact ground truth |

pub mod align;
pub mod io;
pub mod kernels;
pub mod metrics;
pub mod pipeline;
pub mod report;
pub mod series;
pub mod synth;
