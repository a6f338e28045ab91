//! Skin metrics: the skin mask, roughness, pores and scars (DESIGN.md's `metrics` stage).
//!
//! So far only the skin mask ([`skin`]), which the alignment already needs: its fine stage fits the
//! baseline's skin, the region that will be measured, rather than hair, eyes or the backdrop.

pub mod skin;
