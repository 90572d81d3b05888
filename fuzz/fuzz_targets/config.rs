//! Any text as feeds.toml: a config or a list of problems with positions, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syndic::config::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = Config::from_toml(std::path::Path::new("/fuzz/feeds.toml"), text) {
            // Rendering the error walks every problem's position.
            let _ = e.to_string();
        }
    }
});
