//! `syndic render --out DIR`: the feeds, pages and OPML written as static files, laid out as the HTTP
//! server serves them, for nginx or a CDN to serve instead.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::config::{ALL_SECTION, Config, MUST_READS};
use crate::publish::render::{Format, View};
use crate::publish::rendered::Rendered;
use crate::store::Store;

/// Writes every section's feeds in every format (with their archive pages), each section's HTML page
/// and the OPML list under `out`; returns how many files it wrote. Each file is replaced atomically.
pub fn render_to(config: &Config, store: &Store, out: &Path) -> anyhow::Result<usize> {
    let dir = out.join("feeds");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // The merged feed, each section's, and the pins' (which has no page of its own).
    let sections: Vec<String> = std::iter::once(ALL_SECTION.to_string())
        .chain(config.sections.iter().map(|s| s.id.clone()))
        .chain(std::iter::once(MUST_READS.to_string()))
        .collect();
    let mut written = 0;
    for section in &sections {
        for format in Format::ALL {
            // The feed, then its archive pages (?page=N) until the last.
            for page in 1.. {
                let view = match page {
                    1 => View::Latest,
                    page => View::Page { page },
                };
                let Some(rendered) = Rendered::build(config, store, section, format, view)? else {
                    break; // past the last page
                };
                let path = static_path(out, section, format.extension(), page);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                write_atomically(&path, &rendered.body)?;
                written += 1;
                if !rendered.has_next {
                    break;
                }
            }
        }
        if let Some(page) = Rendered::page(config, store, section)? {
            let name = if section == ALL_SECTION {
                "index.html".to_string()
            } else {
                format!("{section}.html")
            };
            write_atomically(&out.join(name), &page.body)?;
            written += 1;
        }
    }
    write_atomically(
        &out.join("sources.opml"),
        &crate::publish::render::opml::render(config),
    )?;
    written += 1;
    Ok(written)
}

/// Where `render --out` writes page `page` of a section's feed: `feeds/{section}.{ext}` for the first,
/// `feeds/{section}/page/{N}.{ext}` for archive pages (served for `?page=N`, see the README).
fn static_path(out: &Path, section: &str, ext: &str, page: u32) -> PathBuf {
    match page {
        1 => out.join("feeds").join(format!("{section}.{ext}")),
        n => out
            .join("feeds")
            .join(section)
            .join("page")
            .join(format!("{n}.{ext}")),
    }
}

/// Writes to a temporary file beside `path`, then renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp-{}",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        // A replaced file keeps its mode and, where allowed, its owner (feeds.toml may be 0640).
        if let Ok(old) = std::fs::metadata(path) {
            use std::os::unix::fs::MetadataExt;
            f.set_permissions(old.permissions())?;
            let _ = std::os::unix::fs::fchown(&f, Some(old.uid()), Some(old.gid()));
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("writing {}: {e}", path.display())
    })
}
