//! Skin metrics: the skin mask, roughness, pores and scars (DESIGN.md's `metrics` stage).
//!
//! So far: the skin mask ([`skin`]), which the alignment already needs (its fine stage fits the
//! baseline's skin, the region that will be measured, rather than hair, eyes or the backdrop), and the
//! ISO 25178-2 arithmetic of the roughness parameters ([`roughness`]).

pub mod blobs;
pub mod roughness;
pub mod skin;
