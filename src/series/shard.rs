//! Splitting an archive across machines: `analyze --shard K/N` measures a stable subset of patients.
//!
//! Patients are independent, so scaling past one machine is a matter of giving each machine (a Slurm
//! array task, a Kubernetes Indexed Job pod) its own patients and merging the outputs afterwards
//! (`skintex merge`). A patient belongs to shard `hash(folder name) mod N`, so the assignment depends
//! on nothing but the patient's own name: adding a patient to the archive never moves another one, and
//! every machine computes the same split without talking to the others.

use std::ffi::OsStr;
use std::fmt;
use std::str::FromStr;

/// One part of an archive split into `count` parts; `index` is 0-based (as Kubernetes'
/// `JOB_COMPLETION_INDEX` and a Slurm `--array=0-<N-1>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This part, `0 ≤ index < count`.
    pub index: u64,
    /// How many parts.
    pub count: u64,
}

impl Shard {
    /// Whether the patient whose folder is called `name` belongs to this shard.
    #[must_use]
    pub fn contains(&self, name: &OsStr) -> bool {
        fnv1a(name.as_encoded_bytes()) % self.count == self.index
    }
}

/// FNV-1a, 64-bit (Fowler, Noll, Vo; parameters from the reference at isthe.com/chongo/tech/comp/fnv).
///
/// Written out rather than taken from a crate, because the split must never change between versions,
/// platforms or dependency updates: `std`'s hashers are explicitly unstable and seeded, and a crate
/// could change its output in a release. These ten lines are the specification.
fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(PRIME)
    })
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "'{text}' is not a shard: write K/N with 0 ≤ K < N, e.g. 0/4 for the first of four \
                 (K is 0-based, like JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID with --array=0-3)"
            )
        };
        let (k, n) = text.split_once('/').ok_or_else(usage)?;
        let index: u64 = k.trim().parse().map_err(|_| usage())?;
        let count: u64 = n.trim().parse().map_err(|_| usage())?;
        if count == 0 || index >= count {
            return Err(usage());
        }
        Ok(Self { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference test suite (64-bit FNV-1a).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn every_patient_is_in_exactly_one_shard() {
        for count in 1..=7 {
            for i in 0..500 {
                let name = format!("P{i:04}");
                let holders = (0..count)
                    .filter(|&index| Shard { index, count }.contains(OsStr::new(&name)))
                    .count();
                assert_eq!(holders, 1, "{name} in {holders} of {count} shards");
            }
        }
    }

    #[test]
    fn shards_are_roughly_even() {
        let count = 4;
        let sizes: Vec<usize> = (0..count)
            .map(|index| {
                (0..4000)
                    .filter(|i| Shard { index, count }.contains(OsStr::new(&format!("P{i:04}"))))
                    .count()
            })
            .collect();
        // 1000 expected each; a binomial standard deviation is 27, so ±150 is over 5 σ.
        assert!(sizes.iter().all(|&s| s.abs_diff(1000) < 150), "{sizes:?}");
    }

    #[test]
    fn parsing() {
        assert_eq!("0/4".parse(), Ok(Shard { index: 0, count: 4 }));
        assert_eq!("3/4".parse(), Ok(Shard { index: 3, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "1", "-1/2", "1/2/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard { index: 2, count: 5 }.to_string(), "2/5");
    }
}
