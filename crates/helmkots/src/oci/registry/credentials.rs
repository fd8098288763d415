//! Registry credentials from Docker's `config.json`, the way the docker CLI finds them.
//!
//! The file is `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; a missing file means
//! no credentials (anonymous access). For a registry host the lookup order is docker's:
//! 1. `credHelpers[<host>]`: run `docker-credential-<helper> get`;
//! 2. `auths[<host>]`: `auth` (base64 `user:password`), or `username`/`password`, or
//!    `identitytoken` / `registrytoken`;
//! 3. `credsStore`: the same helper protocol, for every host.
//!
//! Keys are compared after normalisation: the scheme and any path are dropped and Docker Hub's
//! aliases (`docker.io`, `index.docker.io`, `registry-1.docker.io`, and the historic key
//! `https://index.docker.io/v1/`) are one host.
//!
//! Hand-written rather than `docker_credential`: that crate reads only `auth` in `auths` (no
//! `username`/`password`, no identity tokens) and matches keys without Docker Hub's aliases.
//!
//! Secrets live in [`Secret`], whose `Debug` prints `<redacted>` and which has no `Display`;
//! no error built here quotes the file's content or a helper's output.

use std::{
    collections::BTreeMap,
    io::Write,
    process::{Command, Stdio},
};

use base64::Engine as _;
use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;

use super::RegistryError;

/// The file name inside the Docker config directory.
pub const CONFIG_FILE: &str = "config.json";
/// The environment variable that names the Docker config directory.
pub const DOCKER_CONFIG_ENV: &str = "DOCKER_CONFIG";
/// The server URL docker uses for Docker Hub in `auths` and with credential helpers.
pub const DOCKER_HUB_SERVER_URL: &str = "https://index.docker.io/v1/";

/// A secret string (password, token). `Debug` never shows it; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, to hand to the HTTP client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Credentials for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// User name and password (or a token used as a password).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// An OAuth2 refresh token from `docker login` (`identitytoken`, or a helper's `<token>` user).
    IdentityToken(Secret),
    /// A bearer token sent as is (`registrytoken`).
    Bearer(Secret),
}

impl Credential {
    /// The secret strings in this credential, for redaction.
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Credential::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose());
                vec![
                    password.expose().to_string(),
                    base64::engine::general_purpose::STANDARD.encode(&pair),
                    base64::engine::general_purpose::STANDARD_NO_PAD.encode(&pair),
                ]
            }
            Credential::IdentityToken(token) | Credential::Bearer(token) => vec![token.expose().to_string()],
        }
    }
}

/// Where a credential came from (for messages; never the credential itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `auths` of this config file.
    ConfigFile(Utf8PathBuf),
    /// This credential helper program, e.g. `docker-credential-pass`.
    Helper(String),
}

impl std::fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::ConfigFile(path) => write!(f, "`auths` in {path}"),
            CredentialSource::Helper(program) => write!(f, "credential helper {program}"),
        }
    }
}

/// A credential and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCredential {
    /// The credential.
    pub credential: Credential,
    /// Its source.
    pub source: CredentialSource,
}

/// A loaded Docker `config.json` (only the parts about credentials).
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: Utf8PathBuf,
    auths: BTreeMap<String, (String, AuthEntry)>,
    creds_store: Option<String>,
    cred_helpers: BTreeMap<String, (String, String)>,
}

#[derive(Clone, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthEntry(<redacted>)")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

impl DockerConfig {
    /// The Docker config directory: `$DOCKER_CONFIG`, else `$HOME/.docker`.
    pub fn default_dir() -> Option<Utf8PathBuf> {
        config_dir_from(std::env::var(DOCKER_CONFIG_ENV).ok(), std::env::var("HOME").ok())
    }

    /// Loads `<dir>/config.json`; a missing file is an empty configuration.
    pub fn load(dir: &Utf8Path) -> Result<DockerConfig, RegistryError> {
        let path = dir.join(CONFIG_FILE);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DockerConfig::empty(path))
            }
            Err(error) => {
                return Err(RegistryError::Credentials {
                    host: None,
                    source_name: path.to_string(),
                    reason: format!("cannot read it: {error}"),
                })
            }
        };
        DockerConfig::parse(path, &text)
    }

    /// A configuration without credentials (anonymous access everywhere).
    pub fn empty(path: Utf8PathBuf) -> DockerConfig {
        DockerConfig { path, auths: BTreeMap::new(), creds_store: None, cred_helpers: BTreeMap::new() }
    }

    /// Parses the text of a `config.json` found at `path`.
    pub fn parse(path: Utf8PathBuf, text: &[u8]) -> Result<DockerConfig, RegistryError> {
        // serde_json's messages quote no input text, only positions, so secrets stay out.
        let raw: RawConfig = serde_json::from_slice(text).map_err(|error| RegistryError::Credentials {
            host: None,
            source_name: path.to_string(),
            reason: format!(
                "not a valid Docker config.json (line {}, column {})",
                error.line(),
                error.column()
            ),
        })?;
        let auths = raw.auths.into_iter().map(|(key, entry)| (normalize_host(&key), (key, entry))).collect();
        let cred_helpers =
            raw.cred_helpers.into_iter().map(|(key, helper)| (normalize_host(&key), (key, helper))).collect();
        let creds_store = raw.creds_store.filter(|store| !store.is_empty());
        Ok(DockerConfig { path, auths, creds_store, cred_helpers })
    }

    /// The file this configuration was read from (or would be).
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// The credential for a registry domain (`docker.io`, `quay.io`, `127.0.0.1:5000`), if any.
    pub fn lookup(&self, domain: &str) -> Result<Option<FoundCredential>, RegistryError> {
        let host = normalize_host(domain);
        let server_url = |key: Option<&str>| {
            if host == "docker.io" {
                DOCKER_HUB_SERVER_URL.to_string()
            } else {
                key.unwrap_or(domain).to_string()
            }
        };
        if let Some((key, helper)) = self.cred_helpers.get(&host) {
            return run_helper(helper, &server_url(Some(key)), domain);
        }
        if let Some((_, entry)) = self.auths.get(&host) {
            if let Some(credential) = self.credential_of(entry, domain)? {
                return Ok(Some(FoundCredential {
                    credential,
                    source: CredentialSource::ConfigFile(self.path.clone()),
                }));
            }
        }
        if let Some(store) = &self.creds_store {
            let key = self.auths.get(&host).map(|(key, _)| key.as_str());
            return run_helper(store, &server_url(key), domain);
        }
        Ok(None)
    }

    fn credential_of(&self, entry: &AuthEntry, domain: &str) -> Result<Option<Credential>, RegistryError> {
        if let Some(token) = entry.registrytoken.as_deref().filter(|token| !token.is_empty()) {
            return Ok(Some(Credential::Bearer(Secret::new(token))));
        }
        if let Some(token) = entry.identitytoken.as_deref().filter(|token| !token.is_empty()) {
            return Ok(Some(Credential::IdentityToken(Secret::new(token))));
        }
        if let Some(auth) = entry.auth.as_deref().filter(|auth| !auth.is_empty()) {
            let malformed = || RegistryError::Credentials {
                host: Some(domain.to_string()),
                source_name: self.path.to_string(),
                reason: "its `auth` value is not base64 of `user:password`".to_string(),
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(auth.trim()))
                .map_err(|_| malformed())?;
            let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
            let (username, password) = decoded.split_once(':').ok_or_else(malformed)?;
            return Ok(Some(Credential::Basic {
                username: username.to_string(),
                password: Secret::new(password),
            }));
        }
        match (&entry.username, &entry.password) {
            (Some(username), Some(password)) if !username.is_empty() => Ok(Some(Credential::Basic {
                username: username.clone(),
                password: Secret::new(password.clone()),
            })),
            _ => Ok(None),
        }
    }
}

/// `$DOCKER_CONFIG` when set and not empty, else `$HOME/.docker`.
pub fn config_dir_from(docker_config: Option<String>, home: Option<String>) -> Option<Utf8PathBuf> {
    match docker_config.filter(|dir| !dir.is_empty()) {
        Some(dir) => Some(Utf8PathBuf::from(dir)),
        None => home.filter(|home| !home.is_empty()).map(|home| Utf8PathBuf::from(home).join(".docker")),
    }
}

/// The host a config key or registry domain stands for: no scheme, no path, lower case, and
/// Docker Hub's aliases folded into `docker.io`.
pub fn normalize_host(key: &str) -> String {
    let key = key.trim();
    let without_scheme = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = without_scheme.split('/').next().unwrap_or(without_scheme).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_string(),
        _ => host,
    }
}

/// Runs `docker-credential-<helper> get` with the server URL on stdin.
fn run_helper(
    helper: &str,
    server_url: &str,
    domain: &str,
) -> Result<Option<FoundCredential>, RegistryError> {
    let program = format!("docker-credential-{helper}");
    let fail = |reason: String| RegistryError::Credentials {
        host: Some(domain.to_string()),
        source_name: program.clone(),
        reason,
    };
    if helper.is_empty()
        || !helper.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(fail("the helper name may hold only letters, digits, `-`, `_` and `.`".to_string()));
    }
    let mut child = match Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        // A `credsStore` left behind by another machine's Docker is common; like an empty
        // store, it means anonymous access (a refusal then names the missing helper).
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(fail(format!("cannot run it: {error}"))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is reported by its status below.
        let _ = stdin.write_all(server_url.as_bytes());
    }
    let output = child.wait_with_output().map_err(|error| fail(format!("cannot run it: {error}")))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stdout).to_ascii_lowercase()
            + &String::from_utf8_lossy(&output.stderr).to_ascii_lowercase();
        if said.contains("credentials not found") {
            return Ok(None);
        }
        // The helper's output is not quoted: it may hold a secret.
        return Err(fail(format!("`{program} get` failed ({})", output.status)));
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct HelperAnswer {
        #[serde(default)]
        username: String,
        #[serde(default)]
        secret: String,
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout)
        .map_err(|_| fail(format!("`{program} get` did not print the expected JSON")))?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    let credential = if answer.username == "<token>" {
        Credential::IdentityToken(Secret::new(answer.secret))
    } else {
        Credential::Basic { username: answer.username, password: Secret::new(answer.secret) }
    };
    Ok(Some(FoundCredential { credential, source: CredentialSource::Helper(program) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> DockerConfig {
        DockerConfig::parse("/home/u/.docker/config.json".into(), text.as_bytes()).unwrap()
    }

    fn basic(user: &str, password: &str) -> Credential {
        Credential::Basic { username: user.into(), password: Secret::new(password) }
    }

    #[test]
    fn hosts_normalise_like_docker() {
        assert_eq!(normalize_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_host("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_host("docker.io"), "docker.io");
        assert_eq!(normalize_host("http://127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(normalize_host("https://Quay.io/v2/"), "quay.io");
    }

    #[test]
    fn auths_in_every_spelling() {
        // "user:pa:ss" base64; a password may contain colons.
        let found = config(r#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpwYTpzcw=="}}}"#)
            .lookup("127.0.0.1:5000")
            .unwrap();
        let found = found.unwrap();
        assert_eq!(found.credential, basic("user", "pa:ss"));
        assert_eq!(found.source, CredentialSource::ConfigFile("/home/u/.docker/config.json".into()));

        let hub = config(r#"{"auths":{"https://index.docker.io/v1/":{"username":"me","password":"pw"}}}"#);
        assert_eq!(hub.lookup("docker.io").unwrap().unwrap().credential, basic("me", "pw"));

        let token = config(r#"{"auths":{"acr.example.io":{"auth":"","identitytoken":"tok"}}}"#);
        assert_eq!(
            token.lookup("acr.example.io").unwrap().unwrap().credential,
            Credential::IdentityToken(Secret::new("tok"))
        );

        let none = config(r#"{"auths":{"other.io":{"auth":"dTpw"}}}"#);
        assert_eq!(none.lookup("quay.io").unwrap(), None);
        assert_eq!(config("{}").lookup("quay.io").unwrap(), None);
    }

    #[test]
    fn malformed_entries_say_where_without_quoting_secrets() {
        let error = config(r#"{"auths":{"q.io":{"auth":"c2VjcmV0LXdpdGhvdXQtY29sb24="}}}"#)
            .lookup("q.io")
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("config.json"), "{message}");
        assert!(!message.contains("secret-without-colon") && !message.contains("c2VjcmV0"), "{message}");

        let error = DockerConfig::parse("/x/config.json".into(), br#"{"auths": {"q.io": {"auth": "hunter2""#)
            .unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn helpers_win_and_missing_helpers_mean_anonymous() {
        let with_helper = config(
            r#"{"auths":{"q.io":{"auth":"dTpw"}},"credHelpers":{"q.io":"helmkots-test-no-such-helper"},"credsStore":"helmkots-test-none"}"#,
        );
        // The helper is not installed: anonymous, not the `auths` entry (docker's order).
        assert_eq!(with_helper.lookup("q.io").unwrap(), None);
        let store = config(r#"{"credsStore":"bad/name"}"#);
        assert!(store.lookup("q.io").is_err());
    }

    #[test]
    fn secrets_cover_the_base64_form_and_debug_hides_them() {
        let credential = basic("user", "pass");
        let secrets = credential.secrets();
        assert!(secrets.contains(&"pass".to_string()));
        assert!(secrets.contains(&"dXNlcjpwYXNz".to_string()));
        assert!(!format!("{credential:?}").contains("pass\""));
    }

    #[test]
    fn config_dir_from_env() {
        assert_eq!(config_dir_from(Some("/c".into()), Some("/h".into())), Some("/c".into()));
        assert_eq!(config_dir_from(Some(String::new()), Some("/h".into())), Some("/h/.docker".into()));
        assert_eq!(config_dir_from(None, None), None);
    }
}
