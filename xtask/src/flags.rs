//! Every subcommand and flag of `cargo xtask`, declared once.

#![allow(unused)]

use std::path::PathBuf;

xflags::xflags! {
    /// helmkots: build an airgap-ready KOTS release from release.toml and a Helm chart.
    cmd xtask {
        /// Print only errors and warnings (no progress or informational lines).
        optional -q, --quiet
        /// Print more detail (the files release wrote, with their sha256; the items init suggests).
        optional -v, --verbose
        /// Write a starter release.toml for an existing Helm chart.
        cmd init {
            /// The chart: a directory or a .tgz.
            required --chart chart: PathBuf
            /// The app slug (default: the chart's name).
            optional --slug slug: String
            /// Where to write (default: release.toml at the repository root).
            optional -f, --file path: PathBuf
            /// Replace an existing release file.
            optional --force
            /// Dry run: print what would be written as JSON, write nothing.
            optional --json
        }
        /// Validate release.toml and the chart (no network).
        cmd check {
            /// Release file to use (default: release.toml at the repository root).
            optional -f, --file path: PathBuf
            /// Print the result as JSON.
            optional --json
        }
        /// Build the release tree dist/<slug>-<version>/.
        cmd release {
            /// Release file to use (default: release.toml at the repository root).
            optional -f, --file path: PathBuf
            /// Directory for release trees (default: dist/ beside the release file).
            optional --out dir: PathBuf
            /// Skip every step that needs a registry.
            optional --offline
            /// Do not run the airgap proof before writing.
            optional --no-proof
            /// Use this channel ID in airgap.yaml instead of `[airgap] channel_id`.
            optional --channel-id id: String
            /// Use this update cursor in airgap.yaml instead of `[airgap] update_cursor` (e.g. a CI build number).
            optional --update-cursor cursor: u64
            /// Fail rather than change helmkots.lock (its digests or its renders), as CI should.
            optional --locked
            /// Print the result as JSON.
            optional --json
            /// Print where the time went: wall and CPU time per stage (on stderr).
            optional --timings
        }
        /// Print the manifests and kots-values.yaml as KOTS would render them.
        cmd preview {
            /// Release file to use (default: release.toml at the repository root).
            optional -f, --file path: PathBuf
            /// Render for an airgap install (needs --registry).
            optional --airgap
            /// The local registry, HOST[/NAMESPACE].
            optional --registry registry: String
            /// A config item's value, ITEM=VALUE (repeat the flag for several).
            repeated --set assignment: String
            /// The namespace KOTS deploys into.
            optional --namespace namespace: String
            /// Print the result as JSON.
            optional --json
        }
        /// Check an airgap bundle or a release tree; with --proof, prove every configuration's images.
        cmd verify {
            /// The release tree (dist/<slug>-<version>) or a .airgap bundle; it alone says what to prove.
            required dir: PathBuf
            /// Run the airgap proof (needs helm on PATH).
            optional --proof
            /// Print the result as JSON.
            optional --json
        }
        /// Show what a release tree or an airgap bundle holds: images, Config screen, build record.
        cmd inspect {
            /// The release tree (dist/<slug>-<version>) or a .airgap bundle.
            required path: PathBuf
            /// Print the result as JSON.
            optional --json
        }
        /// List every image the chart may pull, with its values paths and shape.
        cmd images {
            /// Release file to use (default: release.toml at the repository root).
            optional -f, --file path: PathBuf
            /// Fail when helmkots.lock's renders are of other inputs, or Helm renders differently.
            optional --locked
            /// Print the result as JSON.
            optional --json
        }
        /// Resolve every image reference into helmkots.lock.
        cmd lock {
            /// Release file to use (default: release.toml at the repository root).
            optional -f, --file path: PathBuf
            /// Re-resolve every reference, not just those missing from the lock.
            optional --update
        }
        /// Build the helm-cli image (base image + the packaged chart) as an OCI layout.
        cmd image {
            /// Release file to use (default: release.toml at the repository root).
            optional -f, --file path: PathBuf
            /// Directory for the layout, which goes to DIR/<slug>-<version>-helm-cli/ (default: dist/ beside the release file).
            optional --out dir: PathBuf
            /// Also push it to `[helm_cli] name`.
            optional --push
            /// Print the result as JSON.
            optional --json
        }
        /// Remove the image store and the render cache beside the release file; say what that frees.
        cmd clean {
            /// Release file to use (default: release.toml at the repository root).
            optional -f, --file path: PathBuf
            /// Say what would be removed, remove nothing.
            optional --dry-run
            /// Print the result as JSON.
            optional --json
        }
        /// The benchmark report: release (cold, no-op, one change) against skopeo copy (not a test).
        cmd bench {
            /// Small images (44 MiB of distinct layers), for a quick look.
            optional --quick
            /// How many images (default 12).
            optional --images count: String
            /// MiB of distinct layers in all (default 352).
            optional --size mib: String
            /// Keep the benchmark's temporary directory.
            optional --keep
            /// Set up the registry and the release, print the release command, and wait (to profile by hand).
            optional --serve
            /// Measure this xtask binary instead of building one (to compare two builds).
            optional --xtask path: String
        }
        /// Install the test tools that are missing, then run every test.
        cmd test {
            /// Do not install anything; just run the tests.
            optional --no-install
            /// Extra arguments passed to `cargo test` (repeat the flag for several).
            repeated --test-arg arg: String
        }
    }
}

// generated start
// The following code is generated by `xflags` macro.
// Run `env UPDATE_XFLAGS=1 cargo build` to regenerate.
// generated end
