//! Who may speak plain HTTP, which credentials go to the HTTP client, and keeping secrets out
//! of every message.
//!
//! The token dance itself (401 → `WWW-Authenticate` → token endpoint → `Bearer`, or `Basic` on
//! every request when the registry asks for it) is `oci-client`'s; this module decides what it
//! is given.

use std::net::IpAddr;

use oci_client::secrets::RegistryAuth;

use super::credentials::{Credential, FoundCredential};

/// True for `localhost`, `127.0.0.0/8` and `::1`, with or without a port.
pub fn is_loopback(domain: &str) -> bool {
    let host = host_without_port(domain);
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// True when `domain` may be reached over plain HTTP: loopback hosts, and the hosts the user
/// listed as insecure (compared with their port, when the entry has one).
pub fn allows_plain_http(domain: &str, insecure: &[String]) -> bool {
    is_loopback(domain)
        || insecure.iter().any(|entry| {
            let entry = entry.trim().trim_start_matches("http://").trim_end_matches('/');
            entry.eq_ignore_ascii_case(domain)
                || (!has_port(entry) && entry.eq_ignore_ascii_case(host_without_port(domain)))
        })
}

/// `host` of `host[:port]`; for `[v6]:port`, the address without brackets.
fn host_without_port(domain: &str) -> &str {
    if let Some(rest) = domain.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match domain.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.contains(':') => host,
        _ => domain,
    }
}

fn has_port(domain: &str) -> bool {
    host_without_port(domain).len() != domain.trim_start_matches('[').trim_end_matches(']').len()
}

/// What the HTTP client sends for a found credential. Identity tokens need the OAuth2
/// refresh-token flow, which `oci-client` lacks: they go anonymous, and a refusal says so.
pub(crate) fn client_auth(found: Option<&FoundCredential>) -> RegistryAuth {
    match found.map(|found| &found.credential) {
        Some(Credential::Basic { username, password }) => {
            RegistryAuth::Basic(username.clone(), password.expose().to_string())
        }
        Some(Credential::Bearer(token)) => RegistryAuth::Bearer(token.expose().to_string()),
        Some(Credential::IdentityToken(_)) | None => RegistryAuth::Anonymous,
    }
}

/// Replaces every known secret in `text` with `<redacted>`. Every message built from a
/// foreign error goes through this before it reaches an error value.
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_string();
    // Longest first, so that a secret containing another is replaced whole.
    let mut secrets: Vec<&String> = secrets.iter().filter(|secret| secret.len() >= 3).collect();
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    for secret in secrets {
        text = text.replace(secret.as_str(), "<redacted>");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::registry::credentials::{CredentialSource, Secret};

    #[test]
    fn plain_http_only_for_loopback_and_listed_hosts() {
        for domain in
            ["127.0.0.1:5000", "127.0.0.1", "127.1.2.3:80", "localhost:5000", "localhost", "[::1]:5000"]
        {
            assert!(allows_plain_http(domain, &[]), "{domain}");
        }
        for domain in ["10.0.0.1:5000", "registry.example.com", "localhost.example.com:5000", "[::2]:5000"] {
            assert!(!allows_plain_http(domain, &[]), "{domain}");
        }
        let insecure = vec!["mirror.lan:5000".to_string(), "http://other.lan".to_string()];
        assert!(allows_plain_http("mirror.lan:5000", &insecure));
        assert!(!allows_plain_http("mirror.lan:6000", &insecure));
        assert!(allows_plain_http("other.lan:8080", &insecure));
        assert!(allows_plain_http("other.lan", &insecure));
    }

    #[test]
    fn identity_tokens_go_anonymous() {
        let found = |credential| FoundCredential { credential, source: CredentialSource::Helper("h".into()) };
        assert_eq!(client_auth(None), RegistryAuth::Anonymous);
        assert_eq!(
            client_auth(Some(&found(Credential::IdentityToken(Secret::new("t"))))),
            RegistryAuth::Anonymous
        );
        assert_eq!(
            client_auth(Some(&found(Credential::Basic { username: "u".into(), password: Secret::new("p") }))),
            RegistryAuth::Basic("u".into(), "p".into())
        );
    }

    #[test]
    fn redaction() {
        let secrets = vec!["hunter2".to_string(), "hunter2-long".to_string(), "x".to_string()];
        assert_eq!(redact("a hunter2-long b hunter2 c x", &secrets), "a <redacted> b <redacted> c x");
    }
}
