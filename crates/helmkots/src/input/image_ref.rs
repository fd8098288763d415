//! Container image references: parsing and normalisation by Docker's reference grammar.
//!
//! Every image string the engine meets (chart values, Chart.yaml annotations, `[images]` in
//! release.toml, the helm-cli base image) goes through [`ImageRef::parse`] once. Discovery
//! ([`crate::plan::discover`]) dedupes on the normalised form, the KOTS manifests list it in
//! `additionalImages`, and the rewrites use [`ImageRef::local_name`], which is exactly where KOTS
//! puts an image in a local registry.
//!
//! The grammar is the one of `distribution/reference` (what Docker, containerd and KOTS use):
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] path            (at most 255 characters once normalised)
//! domain     := host [ ":" port ]              host: DNS labels, or "[" IPv6 "]"
//! path       := component ( "/" component )*
//! component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        := [\w][\w.-]{0,127}
//! digest     := algorithm ":" hex              sha256: 64 lower-case hex; unknown: 32 or more
//! ```
//!
//! Normalisation follows `ParseNormalizedNamed`: the part before the first `/` is a domain only
//! if it contains `.` or `:`, is `localhost`, or has an upper-case letter; otherwise the image is
//! on Docker Hub (`docker.io`), where a one-component path gets `library/`. `index.docker.io`
//! becomes `docker.io`. The tag defaults to `latest` only when there is neither a tag nor a
//! digest; when both are given both are kept (pulls go by digest, the tag is a label).
//!
//! Hand-written rather than wrapped: the grammar is small, and no crate gives what the callers
//! need together — typed errors carrying the input and the byte offset of the mistake (for
//! diagnostics pointing into values.yaml or release.toml), the familiar short form, and KOTS's
//! local-registry naming. `oci-spec`'s `Reference` (the likely choice for the registry client)
//! has coarse errors without positions, resolves Docker Hub to `index.docker.io`, and is not a
//! dependency of the engine yet; converting an [`ImageRef`] to it is one `parse` of
//! the `Display` form.
//!
//! Architecture Invariant: pure functions on strings; no I/O, no network.

use std::fmt;

/// The registry name Docker Hub images normalise to.
pub const DOCKER_HUB_DOMAIN: &str = "docker.io";
/// The legacy spelling of Docker Hub's domain, rewritten to [`DOCKER_HUB_DOMAIN`].
const LEGACY_DOCKER_HUB_DOMAIN: &str = "index.docker.io";
/// The host that serves Docker Hub's registry API (what the docker CLI talks to).
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_REPOSITORY_PREFIX: &str = "library/";
/// The tag used when a reference has neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";
/// The longest allowed normalised name (`domain/path`), in bytes.
pub const NAME_MAX_LENGTH: usize = 255;
/// The longest allowed tag, in bytes.
pub const TAG_MAX_LENGTH: usize = 128;

/// A parsed, normalised container image reference, e.g. `docker.io/library/busybox:1.31.1`.
///
/// The fields are private so that every value is valid by construction. Ordering compares
/// domain, path, tag and digest in turn, which sorts listings by repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a string is not a valid image reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
#[error(
    "invalid image reference `{input}`: {reason}{}",
    offset.map(|offset| format!(" (at byte {offset})")).unwrap_or_default()
)]
pub struct ImageRefError {
    /// The string as given.
    pub input: String,
    /// What is wrong.
    pub reason: ImageRefErrorKind,
    /// Byte offset of the problem within `input`, where one place is to blame.
    pub offset: Option<usize>,
}

/// The kinds of mistakes in an image reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ImageRefErrorKind {
    /// The string is empty.
    #[error("empty reference")]
    Empty,
    /// Nothing before the `:tag` or `@digest`.
    #[error("missing repository name")]
    EmptyName,
    /// A `:` with nothing after it.
    #[error("empty tag after `:`")]
    EmptyTag,
    /// A tag character outside `[A-Za-z0-9_.-]`, or a tag starting with `.` or `-`.
    #[error("invalid tag: a tag is [A-Za-z0-9_] followed by up to 127 of [A-Za-z0-9_.-]")]
    InvalidTag,
    /// A tag longer than [`TAG_MAX_LENGTH`].
    #[error("tag is {length} characters long; the limit is 128")]
    TagTooLong {
        /// The tag's length in bytes.
        length: usize,
    },
    /// An `@` with nothing after it.
    #[error("empty digest after `@`")]
    EmptyDigest,
    /// A digest that is not `algorithm:hex`.
    #[error("invalid digest: expected `algorithm:hex`, like `sha256:` and 64 lower-case hex digits")]
    InvalidDigest,
    /// A digest whose hex part has the wrong length for its algorithm.
    #[error("{algorithm} digest has {found} hex digits; expected {expected}")]
    DigestLength {
        /// The digest algorithm, e.g. `sha256`.
        algorithm: String,
        /// The number of hex digits the algorithm needs (a minimum for unknown algorithms).
        expected: usize,
        /// The number of hex digits given.
        found: usize,
    },
    /// An upper-case letter in the repository path.
    #[error("repository name must be lowercase")]
    UppercaseRepository,
    /// A registry host that is not DNS labels or a bracketed IPv6 address, or a bad port.
    #[error("invalid registry domain: expected a host name, `[IPv6]`, optionally `:port`")]
    InvalidDomain,
    /// Two `/` in a row, or a leading or trailing `/` in the path.
    #[error("empty path component")]
    EmptyPathComponent,
    /// A path component that does not match `[a-z0-9]+((.|_|__|-+)[a-z0-9]+)*`.
    #[error("invalid path component: lower-case letters and digits, separated by `.`, `_`, `__` or dashes")]
    InvalidPathComponent,
    /// A normalised name (`domain/path`) longer than [`NAME_MAX_LENGTH`].
    #[error("repository name is {length} characters long once normalised; the limit is 255")]
    NameTooLong {
        /// The normalised name's length in bytes.
        length: usize,
    },
    /// A bare 64-digit hex string, which Docker reserves for image IDs.
    #[error("a 64-digit hex string is an image ID, not a reference")]
    HexIdentifier,
}

impl ImageRef {
    /// Parses and normalises a reference: `busybox` → `docker.io/library/busybox:latest`.
    pub fn parse(input: &str) -> Result<ImageRef, ImageRefError> {
        let fail = |reason: ImageRefErrorKind, offset: Option<usize>| ImageRefError {
            input: input.to_string(),
            reason,
            offset,
        };
        if input.is_empty() {
            return Err(fail(ImageRefErrorKind::Empty, None));
        }
        if input.len() == 64 && input.bytes().all(is_lower_hex) {
            return Err(fail(ImageRefErrorKind::HexIdentifier, Some(0)));
        }

        // Split the parts first, then check them left to right so that the error points at
        // the first mistake. The digest is everything after the first `@`.
        let (name_and_tag, digest) = match input.find('@') {
            Some(at) => (&input[..at], Some((at + 1, &input[at + 1..]))),
            None => (input, None),
        };
        // The tag follows the last `:`, unless that `:` belongs to a `host:port` before a `/`.
        let last_slash = name_and_tag.rfind('/');
        let (name, tag) = match name_and_tag.rfind(':') {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
                (&name_and_tag[..colon], Some((colon + 1, &name_and_tag[colon + 1..])))
            }
            _ => (name_and_tag, None),
        };
        if name.is_empty() {
            return Err(fail(ImageRefErrorKind::EmptyName, Some(0)));
        }

        // Split the domain off as `splitDockerDomain` does.
        let (domain, remainder, remainder_start) = match name.find('/') {
            Some(slash) if is_domain_like(&name[..slash]) => (&name[..slash], &name[slash + 1..], slash + 1),
            _ => (DOCKER_HUB_DOMAIN, name, 0),
        };
        if remainder_start > 0 && !is_valid_domain(domain) {
            return Err(fail(ImageRefErrorKind::InvalidDomain, Some(0)));
        }
        // Docker reports upper case before the rest of the grammar; we report whichever comes
        // first in the text, so that `{{ .Values.x }}` is blamed on its `{`, not on its `V`.
        let uppercase = remainder.find(|c: char| c.is_ascii_uppercase()).map(|i| remainder_start + i);
        let grammar = check_path(&remainder.to_ascii_lowercase(), remainder_start).err();
        match (uppercase, grammar) {
            (Some(upper), Some((_, bad))) if upper < bad => {
                return Err(fail(ImageRefErrorKind::UppercaseRepository, Some(upper)));
            }
            (_, Some((reason, bad))) => return Err(fail(reason, Some(bad))),
            (Some(upper), None) => return Err(fail(ImageRefErrorKind::UppercaseRepository, Some(upper))),
            (None, None) => {}
        }
        if let Some((start, tag)) = tag {
            check_tag(tag, start).map_err(|(reason, offset)| fail(reason, Some(offset)))?;
        }
        if let Some((start, digest)) = digest {
            check_digest(digest, start).map_err(|(reason, offset)| fail(reason, Some(offset)))?;
        }
        let tag = tag.map(|(_, tag)| tag);
        let digest = digest.map(|(_, digest)| digest);

        let domain = if domain == LEGACY_DOCKER_HUB_DOMAIN { DOCKER_HUB_DOMAIN } else { domain };
        let path = if domain == DOCKER_HUB_DOMAIN && !remainder.contains('/') {
            format!("{OFFICIAL_REPOSITORY_PREFIX}{remainder}")
        } else {
            remainder.to_string()
        };
        let length = domain.len() + 1 + path.len();
        if length > NAME_MAX_LENGTH {
            return Err(fail(ImageRefErrorKind::NameTooLong { length }, None));
        }

        let tag = match (tag, digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (tag, _) => tag.map(str::to_string),
        };
        Ok(ImageRef { domain: domain.to_string(), path, tag, digest: digest.map(str::to_string) })
    }

    /// The registry domain, e.g. `docker.io`, `quay.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `domain/path`, e.g. `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag: as given, or `latest` when neither a tag nor a digest was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, e.g. `sha256:…`, when given.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The last `/`-separated component of the path, e.g. `busybox` (all KOTS keeps of the name
    /// when it moves an image to a local registry).
    pub fn last_component(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Docker's short form: `busybox:1.31.1`, `grafana/grafana:7.3.5`, `quay.io/x/y:1`.
    pub fn familiar(&self) -> String {
        let mut text = self.familiar_name();
        self.push_tag_and_digest(&mut text);
        text
    }

    /// The repository in Docker's short form, without tag or digest: `busybox`,
    /// `grafana/grafana`, `quay.io/x/y`.
    pub fn familiar_name(&self) -> String {
        if self.domain != DOCKER_HUB_DOMAIN {
            return self.repository();
        }
        match self.path.strip_prefix(OFFICIAL_REPOSITORY_PREFIX) {
            Some(official) if !official.contains('/') => official.to_string(),
            // A first component that reads as a registry host (`foo.bar/x`) must keep the
            // domain, or the short form would name an image on another registry.
            _ if self.path.contains('/')
                && is_domain_like(self.path.split('/').next().unwrap_or_default()) =>
            {
                self.repository()
            }
            _ => self.path.clone(),
        }
    }

    /// The form to pull by: `domain/path@digest` when there is a digest, else `domain/path:tag`.
    pub fn canonical(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => format!("{}/{}@{digest}", self.domain, self.path),
            (None, Some(tag)) => format!("{}/{}:{tag}", self.domain, self.path),
            // Unreachable by construction (parse sets a default tag), but harmless.
            (None, None) => self.repository(),
        }
    }

    /// The host that serves the registry API: `registry-1.docker.io` for Docker Hub, else the
    /// domain itself (with its port).
    pub fn registry_api_host(&self) -> &str {
        if self.domain == DOCKER_HUB_DOMAIN {
            DOCKER_HUB_API_HOST
        } else {
            &self.domain
        }
    }

    /// Where KOTS puts this image in a local registry (kots `DestImage`):
    /// `<host>/<namespace>/<last component>` followed by `@digest` when there is a digest (KOTS
    /// drops the tag then), else `:tag`. An empty namespace gives `<host>/<last component>…`.
    pub fn local_name(&self, host: &str, namespace: &str) -> String {
        let host = host.trim_end_matches('/');
        let namespace = namespace.trim_matches('/');
        let mut text = if namespace.is_empty() {
            format!("{host}/{}", self.last_component())
        } else {
            format!("{host}/{namespace}/{}", self.last_component())
        };
        match (&self.digest, &self.tag) {
            (Some(digest), _) => {
                text.push('@');
                text.push_str(digest);
            }
            (None, Some(tag)) => {
                text.push(':');
                text.push_str(tag);
            }
            (None, None) => {}
        }
        text
    }

    /// Appends `:tag` and `@digest`, those that are present.
    fn push_tag_and_digest(&self, text: &mut String) {
        if let Some(tag) = &self.tag {
            text.push(':');
            text.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            text.push('@');
            text.push_str(digest);
        }
    }
}

impl fmt::Display for ImageRef {
    /// The fully normalised form: `docker.io/library/busybox:1.31.1`, tag and digest both
    /// written when both are present.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.repository();
        self.push_tag_and_digest(&mut text);
        f.write_str(&text)
    }
}

impl std::str::FromStr for ImageRef {
    type Err = ImageRefError;

    fn from_str(input: &str) -> Result<ImageRef, ImageRefError> {
        ImageRef::parse(input)
    }
}

impl serde::Serialize for ImageRef {
    /// Serialises as the normalised string, e.g. `"docker.io/library/busybox:1.31.1"`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ImageRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ImageRef, D::Error> {
        let text = String::deserialize(deserializer)?;
        ImageRef::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// True for `0-9a-f`.
fn is_lower_hex(byte: u8) -> bool {
    byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)
}

/// True when the text before the first `/` names a registry rather than a Hub namespace.
fn is_domain_like(prefix: &str) -> bool {
    prefix.contains(['.', ':']) || prefix == "localhost" || prefix.bytes().any(|b| b.is_ascii_uppercase())
}

/// Checks `host[:port]`, where host is DNS labels or a bracketed IPv6 address.
pub(crate) fn is_valid_domain(domain: &str) -> bool {
    let (host_ok, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some(close) = rest.find(']') else { return false };
        let address = &rest[..close];
        let after = &rest[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return false,
        };
        (!address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'), port)
    } else {
        let (host, port) = match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        };
        (host.split('.').all(is_valid_domain_label), port)
    };
    host_ok && port.is_none_or(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-zA-Z0-9]` or `[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_valid_domain_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

/// Checks the path components; `start` is the path's byte offset in the input.
fn check_path(path: &str, start: usize) -> Result<(), (ImageRefErrorKind, usize)> {
    let mut component_start = start;
    for component in path.split('/') {
        if component.is_empty() {
            return Err((ImageRefErrorKind::EmptyPathComponent, component_start));
        }
        if let Some(bad) = first_bad_component_byte(component) {
            return Err((ImageRefErrorKind::InvalidPathComponent, component_start + bad));
        }
        component_start += component.len() + 1;
    }
    Ok(())
}

/// The offset of the first byte that breaks `[a-z0-9]+((.|_|__|-+)[a-z0-9]+)*`, if any.
fn first_bad_component_byte(component: &str) -> Option<usize> {
    let bytes = component.as_bytes();
    let is_alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut index = 0;
    loop {
        // A run of letters and digits.
        let run_start = index;
        while index < bytes.len() && is_alphanumeric(bytes[index]) {
            index += 1;
        }
        if index == run_start {
            return Some(index.min(bytes.len().saturating_sub(1)));
        }
        if index == bytes.len() {
            return None;
        }
        // A separator: `.`, `_`, `__` or one or more `-`.
        let separator_start = index;
        match bytes[index] {
            b'.' => index += 1,
            b'_' => {
                index += 1;
                if bytes.get(index) == Some(&b'_') {
                    index += 1;
                }
            }
            b'-' => {
                while bytes.get(index) == Some(&b'-') {
                    index += 1;
                }
            }
            _ => return Some(index),
        }
        // A separator must be followed by letters or digits.
        if index == bytes.len() {
            return Some(separator_start);
        }
    }
}

/// Checks `[\w][\w.-]{0,127}`; `start` is the tag's byte offset in the input.
fn check_tag(tag: &str, start: usize) -> Result<(), (ImageRefErrorKind, usize)> {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err((ImageRefErrorKind::EmptyTag, start));
    };
    if !is_word(first) {
        return Err((ImageRefErrorKind::InvalidTag, start));
    }
    if let Some(bad) = bytes.iter().position(|&b| !(is_word(b) || b == b'.' || b == b'-')) {
        return Err((ImageRefErrorKind::InvalidTag, start + bad));
    }
    if tag.len() > TAG_MAX_LENGTH {
        return Err((ImageRefErrorKind::TagTooLong { length: tag.len() }, start + TAG_MAX_LENGTH));
    }
    Ok(())
}

/// Checks `algorithm:hex`; `start` is the digest's byte offset in the input.
///
/// The algorithm is `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*`. The registered
/// algorithms need their exact length of lower-case hex (sha256: 64, sha384: 96, sha512: 128);
/// others need at least 32 hex digits, as the reference grammar says.
fn check_digest(digest: &str, start: usize) -> Result<(), (ImageRefErrorKind, usize)> {
    if digest.is_empty() {
        return Err((ImageRefErrorKind::EmptyDigest, start));
    }
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err((ImageRefErrorKind::InvalidDigest, start));
    };
    if let Some(bad) = first_bad_algorithm_byte(algorithm) {
        return Err((ImageRefErrorKind::InvalidDigest, start + bad));
    }
    let hex_start = start + algorithm.len() + 1;
    let expected = match algorithm {
        "sha256" => Some(64),
        "sha384" => Some(96),
        "sha512" => Some(128),
        _ => None,
    };
    let bad_hex = match expected {
        Some(_) => hex.bytes().position(|b| !is_lower_hex(b)),
        None => hex.bytes().position(|b| !b.is_ascii_hexdigit()),
    };
    if let Some(bad) = bad_hex {
        return Err((ImageRefErrorKind::InvalidDigest, hex_start + bad));
    }
    let length_ok = match expected {
        Some(expected) => hex.len() == expected,
        None => hex.len() >= 32,
    };
    if !length_ok {
        let reason = ImageRefErrorKind::DigestLength {
            algorithm: algorithm.to_string(),
            expected: expected.unwrap_or(32),
            found: hex.len(),
        };
        return Err((reason, hex_start));
    }
    Ok(())
}

/// The offset of the first byte that breaks the digest algorithm grammar, if any.
fn first_bad_algorithm_byte(algorithm: &str) -> Option<usize> {
    if algorithm.is_empty() {
        return Some(0);
    }
    let mut expect_letter = true;
    for (index, byte) in algorithm.bytes().enumerate() {
        let ok = if expect_letter {
            byte.is_ascii_alphabetic()
        } else {
            byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'+' | b'.')
        };
        if !ok {
            return Some(index);
        }
        expect_letter = matches!(byte, b'-' | b'_' | b'+' | b'.');
    }
    if expect_letter {
        // A trailing separator.
        return Some(algorithm.len() - 1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// What a parse should give: the normalised string, the familiar form and the last
    /// component; or the error kind and offset.
    enum Want<'a> {
        Ok { normalized: &'a str, familiar: &'a str, last: &'a str },
        Err(ImageRefErrorKind, Option<usize>),
    }

    fn ok<'a>(normalized: &'a str, familiar: &'a str, last: &'a str) -> Want<'a> {
        Want::Ok { normalized, familiar, last }
    }

    fn err(kind: ImageRefErrorKind, offset: Option<usize>) -> Want<'static> {
        Want::Err(kind, offset)
    }

    fn check(input: &str, want: Want<'_>) {
        match (ImageRef::parse(input), want) {
            (Ok(image), Want::Ok { normalized, familiar, last }) => {
                assert_eq!(image.to_string(), normalized, "normalized form of `{input}`");
                assert_eq!(image.familiar(), familiar, "familiar form of `{input}`");
                assert_eq!(image.last_component(), last, "last component of `{input}`");
                // The normalised form is a fixed point.
                let again = ImageRef::parse(&image.to_string()).expect("normalized form parses");
                assert_eq!(again, image, "re-parse of `{input}`");
                let again = ImageRef::parse(&image.familiar()).expect("familiar form parses");
                assert_eq!(again, image, "re-parse of familiar `{input}`");
            }
            (Err(error), Want::Err(kind, offset)) => {
                assert_eq!(error.reason, kind, "reason for `{input}`: {error}");
                assert_eq!(error.offset, offset, "offset for `{input}`: {error}");
                assert_eq!(error.input, input);
            }
            (Ok(image), Want::Err(kind, _)) => panic!("`{input}` parsed as {image}, want {kind:?}"),
            (Err(error), Want::Ok { normalized, .. }) => panic!("`{input}`: {error}, want {normalized}"),
        }
    }

    #[test]
    fn docker_hub_names() {
        check("busybox", ok("docker.io/library/busybox:latest", "busybox:latest", "busybox"));
        check("busybox:1.31.1", ok("docker.io/library/busybox:1.31.1", "busybox:1.31.1", "busybox"));
        check("library/busybox:1", ok("docker.io/library/busybox:1", "busybox:1", "busybox"));
        check("docker.io/busybox", ok("docker.io/library/busybox:latest", "busybox:latest", "busybox"));
        check(
            "index.docker.io/library/nginx:1.25",
            ok("docker.io/library/nginx:1.25", "nginx:1.25", "nginx"),
        );
        check(
            "grafana/grafana:7.3.5",
            ok("docker.io/grafana/grafana:7.3.5", "grafana/grafana:7.3.5", "grafana"),
        );
        check("bats/bats:v1.1.0", ok("docker.io/bats/bats:v1.1.0", "bats/bats:v1.1.0", "bats"));
        check("a/b/c:1", ok("docker.io/a/b/c:1", "a/b/c:1", "c"));
        check("library/a/b", ok("docker.io/library/a/b:latest", "library/a/b:latest", "b"));
        check(
            "docker.io/bitnami/nginx",
            ok("docker.io/bitnami/nginx:latest", "bitnami/nginx:latest", "nginx"),
        );
    }

    #[test]
    fn registries_and_ports() {
        check("quay.io/x/y:1", ok("quay.io/x/y:1", "quay.io/x/y:1", "y"));
        check("localhost/app", ok("localhost/app:latest", "localhost/app:latest", "app"));
        check("localhost:5000/x", ok("localhost:5000/x:latest", "localhost:5000/x:latest", "x"));
        check("localhost:5000/a/b:2", ok("localhost:5000/a/b:2", "localhost:5000/a/b:2", "b"));
        check("[::1]:5000/x:1", ok("[::1]:5000/x:1", "[::1]:5000/x:1", "x"));
        check(
            "10.0.0.1:443/team/app",
            ok("10.0.0.1:443/team/app:latest", "10.0.0.1:443/team/app:latest", "app"),
        );
        check(
            "registry.k8s.io/pause:3.9",
            ok("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9", "pause"),
        );
        // A bare `name:port`-looking string is a Hub name with a tag, as in Docker.
        check("localhost:5000", ok("docker.io/library/localhost:5000", "localhost:5000", "localhost"));
        // The newer rule: an upper-case first component is a domain.
        check("UPPER/case", ok("UPPER/case:latest", "UPPER/case:latest", "case"));
    }

    #[test]
    fn tags_and_digests() {
        let digest_only = format!("docker.io/bitnami/nginx@{SHA}");
        check(&digest_only, ok(&digest_only, &format!("bitnami/nginx@{SHA}"), "nginx"));
        let both = format!("nginx:1.25@{SHA}");
        check(&both, ok(&format!("docker.io/library/nginx:1.25@{SHA}"), &both, "nginx"));
        check("a:_x", ok("docker.io/library/a:_x", "a:_x", "a"));
        check(
            &format!("a:{}", "t".repeat(128)),
            ok(&format!("docker.io/library/a:{}", "t".repeat(128)), &format!("a:{}", "t".repeat(128)), "a"),
        );
        let other = format!("a@md5:{}", "f".repeat(32));
        check(&other, ok(&format!("docker.io/library/{other}"), &other, "a"));
    }

    #[test]
    fn path_components() {
        check(
            "a.b_c__d-e---f",
            ok("docker.io/library/a.b_c__d-e---f:latest", "a.b_c__d-e---f:latest", "a.b_c__d-e---f"),
        );
        check("a..b", err(ImageRefErrorKind::InvalidPathComponent, Some(2)));
        check("a___b", err(ImageRefErrorKind::InvalidPathComponent, Some(3)));
        check("a-", err(ImageRefErrorKind::InvalidPathComponent, Some(1)));
        check("-a", err(ImageRefErrorKind::InvalidPathComponent, Some(0)));
        check("a//b", err(ImageRefErrorKind::EmptyPathComponent, Some(2)));
        check("a/", err(ImageRefErrorKind::EmptyPathComponent, Some(2)));
        check("quay.io/", err(ImageRefErrorKind::EmptyPathComponent, Some(8)));
        check("a b", err(ImageRefErrorKind::InvalidPathComponent, Some(1)));
        check("https://example.com/x", err(ImageRefErrorKind::InvalidDomain, Some(0)));
    }

    #[test]
    fn malformed_references() {
        check("", err(ImageRefErrorKind::Empty, None));
        check("nginx:", err(ImageRefErrorKind::EmptyTag, Some(6)));
        check(":1.0", err(ImageRefErrorKind::EmptyName, Some(0)));
        check("@sha256:abc", err(ImageRefErrorKind::EmptyName, Some(0)));
        check("nginx@", err(ImageRefErrorKind::EmptyDigest, Some(6)));
        check("nginx:.x", err(ImageRefErrorKind::InvalidTag, Some(6)));
        check("nginx:a+b", err(ImageRefErrorKind::InvalidTag, Some(7)));
        check(
            &format!("a:{}", "t".repeat(129)),
            err(ImageRefErrorKind::TagTooLong { length: 129 }, Some(130)),
        );
        check("nginx@sha256", err(ImageRefErrorKind::InvalidDigest, Some(6)));
        check(
            "nginx@sha256:abc",
            err(
                ImageRefErrorKind::DigestLength { algorithm: "sha256".into(), expected: 64, found: 3 },
                Some(13),
            ),
        );
        check(&format!("nginx@sha256:{}", "A".repeat(64)), err(ImageRefErrorKind::InvalidDigest, Some(13)));
        check(
            "nginx@md5:abc",
            err(
                ImageRefErrorKind::DigestLength { algorithm: "md5".into(), expected: 32, found: 3 },
                Some(10),
            ),
        );
        check(&format!("nginx@1sha:{}", "a".repeat(32)), err(ImageRefErrorKind::InvalidDigest, Some(6)));
        check(&"a".repeat(64), err(ImageRefErrorKind::HexIdentifier, Some(0)));
        check("Busybox", err(ImageRefErrorKind::UppercaseRepository, Some(0)));
        check("grafana/Grafana:1", err(ImageRefErrorKind::UppercaseRepository, Some(8)));
        check("quay.io/Org/x", err(ImageRefErrorKind::UppercaseRepository, Some(8)));
        check("bad_host.io/x", err(ImageRefErrorKind::InvalidDomain, Some(0)));
        check("host.io:port/x", err(ImageRefErrorKind::InvalidDomain, Some(0)));
        check("[zz]:1/x", err(ImageRefErrorKind::InvalidDomain, Some(0)));
        check("IfNotPresent", err(ImageRefErrorKind::UppercaseRepository, Some(0)));
        check("{{ .Values.image }}", err(ImageRefErrorKind::InvalidPathComponent, Some(0)));
    }

    #[test]
    fn name_length_limit() {
        // `docker.io/` is 10 bytes: a 245-byte path fits exactly, 246 does not.
        let fits = format!("x/{}", "a".repeat(243));
        assert!(ImageRef::parse(&fits).is_ok());
        check(&format!("x/{}", "a".repeat(244)), err(ImageRefErrorKind::NameTooLong { length: 256 }, None));
    }

    #[test]
    fn accessors_and_names() {
        let image = ImageRef::parse("grafana/grafana:7.3.5").unwrap();
        assert_eq!(image.domain(), "docker.io");
        assert_eq!(image.path(), "grafana/grafana");
        assert_eq!(image.repository(), "docker.io/grafana/grafana");
        assert_eq!(image.tag(), Some("7.3.5"));
        assert_eq!(image.digest(), None);
        assert_eq!(image.familiar_name(), "grafana/grafana");
        assert_eq!(image.canonical(), "docker.io/grafana/grafana:7.3.5");
        assert_eq!(image.registry_api_host(), "registry-1.docker.io");
        assert_eq!(image.local_name("registry.local", "myapp"), "registry.local/myapp/grafana:7.3.5");
        assert_eq!(image.local_name("registry.local:5000", ""), "registry.local:5000/grafana:7.3.5");

        let both = ImageRef::parse(&format!("quay.io/org/app:1@{SHA}")).unwrap();
        assert_eq!(both.tag(), Some("1"));
        assert_eq!(both.digest(), Some(SHA));
        assert_eq!(both.canonical(), format!("quay.io/org/app@{SHA}"));
        assert_eq!(both.registry_api_host(), "quay.io");
        assert_eq!(both.local_name("r.local", "ns"), format!("r.local/ns/app@{SHA}"));

        let error = ImageRef::parse("nginx:").unwrap_err();
        assert_eq!(error.to_string(), "invalid image reference `nginx:`: empty tag after `:` (at byte 6)");
    }

    #[test]
    fn serde_round_trip() {
        let image = ImageRef::parse("busybox:1.31.1").unwrap();
        let json = serde_json::to_string(&image).unwrap();
        assert_eq!(json, "\"docker.io/library/busybox:1.31.1\"");
        let back: ImageRef = serde_json::from_str(&json).unwrap();
        assert_eq!(back, image);
        assert!(serde_json::from_str::<ImageRef>("\"Bad\"").is_err());
    }
}
