//! Sharding: `analyze --shard K/N` on every K, then `skintex merge`, gives byte for byte what one
//! `analyze` over the whole archive gives: shards in separate folders (copied in by merge) and shards
//! sharing one folder (merged in place).

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::*;
use skintex::synth::{self, SynthConfig};

fn skintex() -> Command {
    Command::cargo_bin("skintex").unwrap()
}

/// Seven synthetic patients, one more with a name that is not UTF-8 (its folder sorts by raw bytes),
/// and one with an unreadable photo (so the index and the exit code carry an error).
fn archive(root: &Path) {
    let config = SynthConfig {
        patients: 7,
        width: 400,
        height: 300,
        ..SynthConfig::default()
    };
    synth::write_series(&config, root, false, &|_| {}).unwrap();
    let odd = root.join(OsStr::from_bytes(b"P\xe9-latin1"));
    for session in ["2026-01-15_baseline", "2026-02-12"] {
        let photo = std::fs::read(root.join("P001").join(session).join("front.jpg")).unwrap();
        put(&odd, &format!("{session}/front.jpg"), &photo);
    }
    put(root, "P008/2026-01-15/front.jpg", b"not a photo");
}

fn assert_same(single: &BTreeMap<PathBuf, Vec<u8>>, merged: &BTreeMap<PathBuf, Vec<u8>>) {
    assert_eq!(
        single.keys().collect::<Vec<_>>(),
        merged.keys().collect::<Vec<_>>(),
        "different files"
    );
    for (path, bytes) in single {
        assert!(&merged[path] == bytes, "{} differs", path.display());
    }
}

#[test]
fn shards_merged_equal_one_run_byte_for_byte() {
    let photos = tempfile::tempdir().unwrap();
    archive(photos.path());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();

    let single = w.join("single");
    skintex()
        .args(["-q", "analyze"])
        .arg(photos.path())
        .arg("-o")
        .arg(&single)
        .assert()
        .code(1);
    let single = tree(&single);

    // Three shards in separate folders; each holds patient folders only, and together all of them,
    // each exactly once.
    let count = 3;
    let mut seen = BTreeMap::new();
    for k in 0..count {
        let out = w.join(format!("shard-{k}"));
        let assert = skintex()
            .args(["-q", "analyze", "--shard", &format!("{k}/{count}")])
            .arg(photos.path())
            .arg("-o")
            .arg(&out)
            .assert();
        let code = assert.get_output().status.code();
        assert!(matches!(code, Some(0 | 1)), "shard {k}: {code:?}");
        assert!(!out.join("index.html").exists() && !out.join("summary.csv").exists());
        for entry in std::fs::read_dir(&out).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(
                seen.insert(name.clone(), k).is_none(),
                "{name:?} in two shards"
            );
        }
    }
    assert_eq!(seen.len(), 9, "{seen:?}");
    let per_shard: Vec<usize> = (0..count)
        .map(|k| seen.values().filter(|&&s| s == k).count())
        .collect();
    assert!(per_shard.iter().all(|&n| n > 0), "{per_shard:?}");

    let merged = w.join("merged");
    let mut merge = skintex();
    merge.arg("-q").arg("merge");
    for k in 0..count {
        merge.arg(w.join(format!("shard-{k}")));
    }
    merge.arg("-o").arg(&merged).assert().code(1);
    assert_same(&single, &tree(&merged));

    // The same shards all writing into one shared folder, merged in place.
    let shared = w.join("shared");
    for k in 0..count {
        skintex()
            .args(["-q", "analyze", "--shard", &format!("{k}/{count}")])
            .arg(photos.path())
            .arg("-o")
            .arg(&shared)
            .assert()
            .code(predicates::ord::le(1));
    }
    skintex()
        .args(["-q", "merge"])
        .arg(&shared)
        .arg("-o")
        .arg(&shared)
        .assert()
        .code(1);
    assert_same(&single, &tree(&shared));

    // One shard listed twice under two names is caught, not double-counted.
    let copy = w.join("copy-of-0");
    std::fs::create_dir_all(&copy).unwrap();
    for (path, bytes) in tree(&w.join("shard-0")) {
        put(&copy, path.to_str().unwrap(), &bytes);
    }
    skintex()
        .args(["-q", "merge"])
        .arg(w.join("shard-0"))
        .arg(&copy)
        .arg("-o")
        .arg(w.join("dup"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is in both"));
}

#[test]
fn bad_shard_arguments_are_usage_errors() {
    let photos = tempfile::tempdir().unwrap();
    for bad in ["3/3", "1/0", "one/two", "2"] {
        skintex()
            .args(["analyze", "--shard", bad])
            .arg(photos.path())
            .assert()
            .code(2)
            .stderr(predicates::str::contains("K/N"));
    }
}
