//! Where a customer's cluster pulls each image from: the customer's local registry (airgap),
//! the vendor's proxy (private images online), or the original registry (public images).
//!
//! The rules live here once; the values rewrites ([`crate::plan::kots`]) turn them into KOTS
//! templates, and the template evaluator ([`crate::plan::kots_template`]) applies them when it
//! previews or proves a configuration.

use crate::{input::image_ref::ImageRef, input::release::Release};

/// The proxy prefix KOTS uses for private images when `[images] proxy` is empty; the app slug
/// follows it.
pub(crate) const DEFAULT_PROXY_PREFIX: &str = "proxy.replicated.com/proxy";

/// The registries an image may be pulled through, from `[images]` in release.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// The proxy prefix for private images online, e.g. `proxy.replicated.com/proxy/my-app`.
    pub proxy: String,
    /// Globs over `domain/path` (and the familiar name) of private images, e.g. `ghcr.io/acme/*`.
    pub private: Vec<String>,
}

impl Routing {
    /// The routing `[images]` of a release describes; an empty `proxy` means Replicated's
    /// proxy for the app (`proxy.replicated.com/proxy/<slug>`).
    pub fn from_release(release: &Release) -> Routing {
        let proxy = if release.images.proxy.is_empty() {
            format!("{DEFAULT_PROXY_PREFIX}/{}", release.app.slug.get_ref())
        } else {
            release.images.proxy.trim_end_matches('/').to_string()
        };
        Routing { proxy, private: release.images.private.clone() }
    }

    /// Whether `image` comes from a private registry and so goes through the proxy online.
    pub fn is_private(&self, image: &ImageRef) -> bool {
        let spellings = [image.repository(), image.familiar_name(), image.domain().to_string()];
        self.private.iter().any(|pattern| spellings.iter().any(|spelling| glob_match(pattern, spelling)))
    }

    /// The repository (no tag or digest) an image is pulled from online.
    pub fn online_repository(&self, image: &ImageRef) -> String {
        if self.is_private(image) && !self.proxy.is_empty() {
            format!("{}/{}", self.proxy.trim_end_matches('/'), image.repository())
        } else {
            image.repository()
        }
    }

    /// The full reference an image is pulled from online.
    pub fn online_reference(&self, image: &ImageRef) -> String {
        format!("{}{}", self.online_repository(image), tag_and_digest(image))
    }
}

/// `:tag`, `@digest`, or both, as present in the reference.
pub(crate) fn tag_and_digest(image: &ImageRef) -> String {
    let mut text = String::new();
    if let Some(tag) = image.tag() {
        text.push(':');
        text.push_str(tag);
    }
    if let Some(digest) = image.digest() {
        text.push('@');
        text.push_str(digest);
    }
    text
}

/// What KOTS keeps after the last component in a local registry: `@digest` when there is
/// one (KOTS drops the tag then), else `:tag`.
pub(crate) fn local_suffix(image: &ImageRef) -> String {
    match (image.digest(), image.tag()) {
        (Some(digest), _) => format!("@{digest}"),
        (None, Some(tag)) => format!(":{tag}"),
        (None, None) => String::new(),
    }
}

/// A glob where `*` matches any run of characters (`/` included) and `?` one character.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it has swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text: &str) -> ImageRef {
        ImageRef::parse(text).unwrap()
    }

    #[test]
    fn private_images_go_through_the_proxy() {
        let routing =
            Routing { proxy: "proxy.example.com/proxy/app".into(), private: vec!["ghcr.io/acme/*".into()] };
        assert_eq!(
            routing.online_reference(&image("ghcr.io/acme/web:1")),
            "proxy.example.com/proxy/app/ghcr.io/acme/web:1"
        );
        assert_eq!(routing.online_reference(&image("redis:7")), "docker.io/library/redis:7");
    }

    #[test]
    fn globs() {
        assert!(glob_match("ghcr.io/acme/*", "ghcr.io/acme/a/b"));
        assert!(glob_match("*.example.com*", "r.example.com/x"));
        assert!(!glob_match("ghcr.io/acme/*", "ghcr.io/other/a"));
        assert!(glob_match("busybox", "busybox"));
    }

    #[test]
    fn local_suffix_prefers_the_digest() {
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(local_suffix(&image(&format!("x/y:1@{digest}"))), format!("@{digest}"));
        assert_eq!(local_suffix(&image("x/y")), ":latest");
    }
}
