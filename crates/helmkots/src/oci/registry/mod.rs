//! Talking to container registries: resolve references, fetch manifests and blobs with digest
//! verification, push blobs and manifests.
//!
//! Place in the data flow: the helm-cli image build ([`crate::oci::image`]) resolves its base
//! image here and pushes the result here; the airgap bundle pulls every image of the ImageSet,
//! blob by blob, into its content-addressed store through the same calls. Nothing else in the
//! engine touches the network.
//!
//! The protocol is `oci-client`'s (oras-project): token and Basic authentication with a token
//! cache, chunked and monolithic uploads, cross-repository mounts, redirects that never carry
//! `Authorization` to another host, digest-verifying blob streams. What this module adds:
//! - a **blocking facade**: [`Registry`] owns a small tokio runtime and `block_on`s each call,
//!   so tokio never leaks into the rest of the (synchronous) engine;
//! - **raw bytes**: manifests come back as [`RawManifest`] — the exact bytes, their digest and
//!   media type — never re-serialised, because digests are over exact bytes;
//! - **platform selection** ([`platform`]) for indexes and manifest lists, OCI and Docker;
//! - **credentials** from Docker's `config.json` and credential helpers ([`credentials`]),
//!   which `oci-client` does not read;
//! - **transport policy** ([`auth`]): plain HTTP only for loopback hosts and hosts the user
//!   lists as insecure;
//! - **typed errors** ([`RegistryError`]) that name the image, the host and the fix, and never
//!   contain a credential: every foreign message passes through a redactor that knows every
//!   secret loaded.
//!
//! Known gaps of the crate that show here: identity tokens (the OAuth2 refresh-token flow) are
//! not supported, so such credentials go anonymous and a refusal says why; a mount is asked
//! for with the target's push scope only, so token registries may answer "upload it yourself",
//! which [`Registry::mount_blob`] reports as `false` for the caller to upload.
//!
//! Architecture Invariant: the only module with network I/O; it prints nothing, and no
//! credential reaches an error, a log or a file.

pub mod auth;
mod client;
pub mod credentials;
pub mod media;
pub mod platform;
mod retry;
pub(crate) use self::retry::{RetryPolicy, Retrying};

use std::fmt;

use camino::Utf8PathBuf;

pub use self::client::{
    BlobSink, RangeAnswer, RawManifest, Registry, RegistryOptions, ResolvedImage, DEFAULT_STALL_TIMEOUT,
    MAX_RETRY_AFTER, STALL_TIMEOUT_ENV,
};
use self::credentials::CredentialSource;
pub use self::platform::Platform;

/// What a registry call was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Reading manifests or blobs.
    Pull,
    /// Writing blobs or manifests.
    Push,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Pull => "pull",
            Operation::Push => "push",
        })
    }
}

/// Which credentials a refused request carried (never the credentials themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsUsed {
    /// None were found for the host; this is the config file that was searched.
    None {
        /// The `config.json` searched.
        config: Utf8PathBuf,
    },
    /// These were sent and refused.
    Refused {
        /// Where they came from.
        source: CredentialSource,
    },
    /// An identity token was found, which helmkots cannot use yet, so none were sent.
    IdentityTokenUnsupported {
        /// Where it came from.
        source: CredentialSource,
    },
}

/// Everything that can go wrong talking to a registry. Each variant names the image and the
/// registry host; none carries a credential.
#[derive(Debug)]
#[non_exhaustive]
pub enum RegistryError {
    /// The registry could not be reached (DNS, connection refused, TLS, timeout).
    Unreachable {
        /// The image being pulled or pushed.
        image: String,
        /// The registry host (`domain[:port]`).
        host: String,
        /// The network error, credentials redacted.
        cause: String,
    },
    /// The registry refused the request (401/403, or the token endpoint said no).
    Unauthorized {
        /// The image.
        image: String,
        /// The registry host.
        host: String,
        /// Pull or push.
        operation: Operation,
        /// Which credentials were sent.
        credentials: CredentialsUsed,
    },
    /// The manifest or blob does not exist.
    NotFound {
        /// The image.
        image: String,
        /// The registry host.
        host: String,
        /// What was asked for: a tag, a manifest digest or a blob digest.
        what: String,
    },
    /// Any other answer the registry should not have given.
    Protocol {
        /// The image.
        image: String,
        /// The registry host.
        host: String,
        /// Pull or push.
        operation: Operation,
        /// The HTTP status, when there was one.
        status: Option<u16>,
        /// What went wrong, credentials redacted.
        cause: String,
    },
    /// The registry asked to slow down (429) or is briefly unavailable (503).
    Busy {
        /// The image.
        image: String,
        /// The registry host.
        host: String,
        /// What was asked for (a blob digest).
        what: String,
        /// 429 or 503.
        status: u16,
        /// How long the registry asked to wait (`Retry-After`, seconds form), if it did.
        retry_after: Option<std::time::Duration>,
    },
    /// Content did not hash to the digest it was asked for by.
    DigestMismatch {
        /// The image.
        image: String,
        /// The registry host.
        host: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// A blob's length differs from its descriptor's size.
    SizeMismatch {
        /// The image.
        image: String,
        /// The registry host.
        host: String,
        /// The blob's digest.
        digest: String,
        /// The descriptor's size.
        expected: u64,
        /// The bytes that arrived (a lower bound when the download was cut short).
        actual: u64,
    },
    /// A manifest or index that cannot be read.
    InvalidManifest {
        /// The image.
        image: String,
        /// The document's digest, when known.
        digest: Option<String>,
        /// What is wrong with it.
        problem: media::ManifestProblem,
    },
    /// A manifest of a type helmkots does not handle (schema 1, an artifact, ...).
    UnsupportedManifest {
        /// The image.
        image: String,
        /// The document's `mediaType`, or `unknown`.
        media_type: String,
    },
    /// A multi-platform image without the requested platform.
    NoMatchingPlatform {
        /// The image.
        image: String,
        /// The platform asked for.
        platform: String,
        /// The platforms the image offers.
        available: Vec<String>,
    },
    /// A blob or manifest larger than helmkots reads into memory.
    TooLarge {
        /// The image.
        image: String,
        /// The digest.
        digest: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Docker's `config.json` or a credential helper failed.
    Credentials {
        /// The registry whose credentials were looked up, when one was.
        host: Option<String>,
        /// The config file or helper program.
        source_name: String,
        /// What went wrong (never the file's content or the helper's output).
        reason: String,
    },
    /// A local file or writer failed while a blob streamed through it.
    Local {
        /// The image.
        image: String,
        /// The blob's digest.
        digest: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTTP client or its runtime could not be set up.
    Setup {
        /// What failed.
        cause: String,
    },
}

impl RegistryError {
    /// The registry's name does not resolve (DNS): asking again does not help, so callers
    /// report it at once instead of retrying. hyper names the failure "dns error".
    pub fn is_unresolved_name(&self) -> bool {
        matches!(self, RegistryError::Unreachable { cause, .. } if cause.contains("dns error"))
    }

    /// What to do about it, one sentence for the CLI's `help:` line.
    pub fn help(&self) -> String {
        match self {
            error @ RegistryError::Unreachable { host, .. } if error.is_unresolved_name() => format!(
                "the name of {host} does not resolve: check its spelling in release.toml or the chart's values, \
                 the machine's DNS settings or /etc/hosts; or run with `--offline` to build without registries"
            ),
            RegistryError::Unreachable { host, .. } => format!(
                "check the network or proxy settings for {host}; or run with `--offline` to build the chart \
                 and manifests without registries (no helm-cli image push, no airgap bundle); or use a \
                 reachable mirror for the image; if the registry needs a login, put credentials in \
                 $DOCKER_CONFIG/config.json (`docker login {host}`); a registry on plain HTTP must be listed in \
                 release.toml: [images] insecure = [\"{host}\"]"
            ),
            RegistryError::Unauthorized { host, credentials, .. } => match credentials {
                CredentialsUsed::None { config } => format!(
                    "no credentials for {host} were found in {config} (nor a credential helper); run \
                     `docker login {host}` or add an `auths` entry, or point DOCKER_CONFIG at a directory whose \
                     config.json has them"
                ),
                CredentialsUsed::Refused { source } => {
                    format!("the credentials from {source} were refused: renew them with `docker login {host}` and check the account may access this repository")
                }
                CredentialsUsed::IdentityTokenUnsupported { source } => format!(
                    "{source} holds an identity token for {host}, which helmkots cannot use yet; store a user \
                     name and password (or an access token as the password) for {host} instead"
                ),
            },
            RegistryError::NotFound { image, .. } => {
                format!("check the name, tag and digest of {image}; a digest pinned in helmkots.lock may have been deleted (`cargo xtask lock --update`)")
            }
            RegistryError::Protocol { .. } => "retry; if it persists the registry may not support this operation".to_string(),
            RegistryError::Busy { .. } => {
                "the registry is rate-limiting or briefly unavailable; retry later, log in for a higher rate limit, or use a mirror".to_string()
            }
            RegistryError::DigestMismatch { .. } | RegistryError::SizeMismatch { .. } => {
                "the content changed in transit or in the registry; retry, and check any proxy or mirror between here and the registry".to_string()
            }
            RegistryError::InvalidManifest { .. } | RegistryError::UnsupportedManifest { .. } => {
                "use an image in OCI or Docker schema 2 format".to_string()
            }
            RegistryError::NoMatchingPlatform { .. } => {
                "set `[helm_cli] platform` in release.toml to one of the available platforms, or use a base image built for the platform".to_string()
            }
            RegistryError::TooLarge { .. } => "use a smaller image".to_string(),
            RegistryError::Credentials { .. } => {
                "fix or remove the entry in config.json, or point DOCKER_CONFIG at another directory".to_string()
            }
            RegistryError::Local { .. } => "check free space and permissions of the output directory".to_string(),
            RegistryError::Setup { .. } => "this is likely a bug in helmkots; please report it".to_string(),
        }
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::Unreachable { image, host, cause } => {
                write!(f, "cannot reach registry {host} for image {image}: {cause}")?
            }
            RegistryError::Unauthorized { image, host, operation, .. } => {
                write!(f, "registry {host} refused to {operation} image {image}: authentication required or denied")?
            }
            RegistryError::NotFound { image, host, what } => write!(f, "registry {host} has no {what} for image {image}")?,
            RegistryError::Protocol { image, host, operation, status, cause } => {
                write!(f, "registry {host} failed to {operation} image {image}")?;
                if let Some(status) = status {
                    write!(f, " (HTTP {status})")?;
                }
                write!(f, ": {cause}")?
            }
            RegistryError::Busy { image, host, what, status, retry_after } => {
                write!(f, "registry {host} is busy (HTTP {status}) serving {what} of image {image}")?;
                if let Some(wait) = retry_after {
                    write!(f, " (Retry-After: {} s)", wait.as_secs())?;
                }
            }
            RegistryError::DigestMismatch { image, host, expected, actual } => write!(
                f,
                "content of image {image} from registry {host} does not match its digest: expected {expected}, got {actual}"
            )?,
            RegistryError::SizeMismatch { image, host, digest, expected, actual } => write!(
                f,
                "blob {digest} of image {image} from registry {host} is {actual} bytes; its descriptor says {expected}"
            )?,
            RegistryError::InvalidManifest { image, digest, problem } => {
                write!(f, "cannot read the manifest of image {image}")?;
                if let Some(digest) = digest {
                    write!(f, " ({digest})")?;
                }
                write!(f, ": {problem}")?
            }
            RegistryError::UnsupportedManifest { image, media_type } => {
                write!(f, "image {image} has a manifest of unsupported type `{media_type}`")?
            }
            RegistryError::NoMatchingPlatform { image, platform, available } => write!(
                f,
                "image {image} has no {platform} variant (it has: {})",
                if available.is_empty() { "none".to_string() } else { available.join(", ") }
            )?,
            RegistryError::TooLarge { image, digest, size, limit } => {
                write!(f, "{digest} of image {image} is {size} bytes, over the {limit}-byte limit for documents")?
            }
            RegistryError::Credentials { host, source_name, reason } => {
                write!(f, "cannot use credentials")?;
                if let Some(host) = host {
                    write!(f, " for {host}")?;
                }
                write!(f, " from {source_name}: {reason}")?
            }
            RegistryError::Local { image, digest, source } => {
                write!(f, "cannot store blob {digest} of image {image}: {source}")?
            }
            RegistryError::Setup { cause } => write!(f, "cannot set up the registry client: {cause}")?,
        }
        // The fix is not part of the message: it is `help()`, which the CLI shows as help.
        Ok(())
    }
}

impl std::error::Error for RegistryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RegistryError::Local { source, .. } => Some(source),
            RegistryError::InvalidManifest { problem, .. } => Some(problem),
            _ => None,
        }
    }
}
