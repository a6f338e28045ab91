//! Fuzz target: a patient's `series.toml`. Any text must parse to a valid config or come back as a
//! `ConfigError`; a config that parses must survive a write-and-reparse unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skintex::series::SeriesConfig;

fuzz_target!(|bytes: &[u8]| {
    // `SeriesConfig::read` rejects invalid UTF-8 before parsing; the parser only ever sees text.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(config) = SeriesConfig::parse(text, "series.toml") else {
        return;
    };
    let written = toml::to_string(&config).expect("a parsed config serialises");
    let reparsed = SeriesConfig::parse(&written, "series.toml").expect("a written config parses");
    assert_eq!(reparsed, config);
});
