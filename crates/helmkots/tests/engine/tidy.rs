//! The architecture's invariants as rules about folders, checked on the source (in the style
//! of rust-analyzer's `xtask/src/tidy.rs`): a rule broken here is a design change to discuss,
//! not a test to adjust. ARCHITECTURE.md states each rule; this test keeps it true.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// The engine's folders from the bottom of the data flow to the top: a folder may import
/// only folders below it (and those of its own rank). `error`, `diagnostic` and `progress`
/// are shared by all.
const RANKS: &[(&str, u8)] = &[
    ("util", 0),
    ("input", 1),
    ("render", 2),
    // The proof renders the plan; discovery renders the proof's configurations.
    ("plan", 3),
    ("proof", 3),
    ("output", 4),
    ("oci", 5),
    ("commands", 6),
];

/// The shared modules at the crate root every folder may use (and the root's re-exports).
const SHARED: &[&str] = &["error", "diagnostic", "progress", "Error", "Result"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir` with its text, by path relative to `src/`.
fn sources(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir).expect("read src").flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(relative, fs::read_to_string(&path).expect("read source"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The code of a file: comments and `#[cfg(test)]` modules (and `tests.rs` files) removed,
/// so that doc links and test helpers do not count.
fn code(path: &str, text: &str) -> String {
    if path.ends_with("/tests.rs") {
        return String::new();
    }
    // Inline test modules sit at the end of a file, by convention.
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.trim_start().starts_with("//") {
            true => "",
            false => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The crate-root modules a piece of code names: `crate::x` paths and the first segment of
/// each item of a `use crate::{...}` group.
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            let mut name = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => item_start = true,
                    c if item_start && depth == 1 && (c.is_alphanumeric() || c == '_') => name.push(c),
                    _ => {
                        if !name.is_empty() {
                            modules.insert(std::mem::take(&mut name));
                        }
                        if !ch.is_whitespace() {
                            item_start = false;
                        }
                    }
                }
                if depth == 0 {
                    break;
                }
            }
        } else {
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            modules.insert(name);
        }
        rest = after;
    }
    modules
}

fn folder(path: &str) -> Option<&str> {
    path.split_once('/').map(|(folder, _)| folder)
}

fn rank(folder: &str) -> Option<u8> {
    RANKS.iter().find(|(name, _)| *name == folder).map(|(_, rank)| *rank)
}

#[test]
fn every_folder_has_a_rank_and_the_root_holds_only_the_api() {
    let files = sources(&src());
    let mut problems = Vec::new();
    for path in files.keys() {
        match folder(path) {
            Some(folder) if rank(folder).is_none() => {
                problems.push(format!("{path}: folder `{folder}/` has no rank in tidy.rs RANKS"))
            }
            None if path != "lib.rs" && !SHARED.contains(&path.trim_end_matches(".rs")) => problems
                .push(format!("{path}: only lib.rs and {SHARED:?} live at the root; put it in a folder")),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn folders_import_only_folders_below_them() {
    let mut problems = Vec::new();
    for (path, text) in sources(&src()) {
        let Some(from) = folder(&path) else { continue };
        let Some(from_rank) = rank(from) else { continue };
        for module in crate_modules(&code(&path, &text)) {
            if SHARED.contains(&module.as_str()) || module == from {
                continue;
            }
            match rank(&module) {
                Some(to_rank) if to_rank <= from_rank => {}
                Some(_) => {
                    problems.push(format!("{path}: `{from}/` imports `crate::{module}`, which is above it"))
                }
                None => problems
                    .push(format!("{path}: imports `crate::{module}`, which is no folder or shared module")),
            }
        }
    }
    assert!(problems.is_empty(), "the data flow runs one way (ARCHITECTURE.md):\n{problems:#?}");
}

/// `needles` may appear in the code of the files under `allowed` folders (or files) only.
fn only_in(allowed: &[&str], needles: &[&str], why: &str) {
    let mut problems = Vec::new();
    for (path, text) in sources(&src()) {
        if allowed.iter().any(|prefix| path.starts_with(prefix)) {
            continue;
        }
        let code = code(&path, &text);
        for needle in needles {
            if code.contains(needle) {
                problems.push(format!("{path}: `{needle}`"));
            }
        }
    }
    assert!(problems.is_empty(), "{why}:\n{problems:#?}");
}

#[test]
fn plan_and_proof_do_no_io_of_their_own() {
    let io = ["std::fs", "fs::", "File::", "std::process", "xshell", "std::net", "tokio", "tempfile"];
    let mut problems = Vec::new();
    for (path, text) in sources(&src()) {
        if !(path.starts_with("plan/") || path.starts_with("proof/")) {
            continue;
        }
        let code = code(&path, &text);
        problems.extend(
            io.iter().filter(|needle| code.contains(*needle)).map(|needle| format!("{path}: `{needle}`")),
        );
    }
    assert!(
        problems.is_empty(),
        "plan/ and proof/ are pure: they reach Helm through render/ only:\n{problems:#?}"
    );
}

#[test]
fn only_render_and_commands_run_programs() {
    only_in(
        &["render/", "commands/", "oci/registry/credentials.rs"],
        &["xshell", "std::process::Command", "Command::new"],
        "programs run from render/ (`helm template`), commands/ (`git`) and the registry's credential helpers only",
    );
}

#[test]
fn only_the_registry_speaks_the_network() {
    only_in(
        &["oci/registry/"],
        &["oci_client", "reqwest", "tokio", "rustls", "std::net"],
        "the registry protocol lives in oci/registry/ behind a blocking facade",
    );
}

#[test]
fn only_output_names_what_goes_into_the_out_dir() {
    only_in(
        &["output/"],
        &["\".{", ".partial-", ".old-"],
        "the staging names in the out dir, their sweep after killed runs and the atomic replace are output/'s alone",
    );
}

#[test]
fn only_on_disk_formats_derive_serialize() {
    only_in(
        &[
            "output/",                    // build record, fingerprints
            "oci/image_lock.rs",          // helmkots.lock
            "oci/airgap/bundle.rs",       // airgap.yaml, the bundle's fingerprint record
            "plan/discover/rendered.rs",  // the renders helmkots.lock records
            "plan/discover/mod.rs",       // ImageShape, inside that record
            "proof/spec.rs",              // helmkots-proof.json
            "input/image_ref.rs",         // a reference as the string those files hold
            "commands/release.rs",        // the release fingerprint's record
            "commands/init/mod.rs",       // the data of the release.toml template (handlebars)
        ],
        &["Serialize"],
        "JSON shapes of reports are the CLI's (xtask/src/json_output.rs); the engine serialises only what it writes",
    );
}

#[test]
fn engine_never_prints() {
    only_in(&[], &["println!", "eprintln!", "print!(", "dbg!"], "the engine returns data; only xtask prints");
}

#[test]
fn the_import_scanner_sees_use_groups_and_paths() {
    let text = "use crate::{\n    input::chart::{self, Chart},\n    error::Error,\n};\nlet x = crate::oci::store::X;";
    let found: Vec<String> = crate_modules(text).into_iter().collect();
    assert_eq!(found, ["error", "input", "oci"]);
    assert_eq!(code("a/tests.rs", "use crate::oci;"), "");
    assert!(crate_modules(&code("a/b.rs", "/// [`crate::oci`]\nfn f() {}")).is_empty());
}
