//! Platforms (`os/architecture[/variant]`), as `[helm_cli] platform` and `[images] platforms`
//! write them and as image indexes name them: parsed once, when release.toml is read.

use std::fmt;

/// A platform, e.g. `linux/amd64` or `linux/arm/v7`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// `linux`, `windows`, ...
    pub os: String,
    /// `amd64`, `arm64`, `arm`, ...
    pub architecture: String,
    /// `v8`, `v7`, ... when given.
    pub variant: Option<String>,
}

/// Why a platform string is not `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid platform `{input}`: expected `os/architecture` or `os/architecture/variant`, e.g. `linux/amd64`"
)]
pub struct PlatformError {
    /// The string as given.
    pub input: String,
}

impl Platform {
    /// Parses `os/architecture[/variant]`; parts are lower-case letters, digits, `_` and `.`.
    pub fn parse(input: &str) -> Result<Platform, PlatformError> {
        let fail = || PlatformError { input: input.to_string() };
        let parts: Vec<&str> = input.split('/').collect();
        let valid = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|part| valid(part)) {
            return Err(fail());
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|variant| variant.to_string()),
        })
    }

    /// `linux/amd64`, the default of `[helm_cli] platform`.
    pub fn linux_amd64() -> Platform {
        Platform { os: "linux".into(), architecture: "amd64".into(), variant: None }
    }

    /// The variant an architecture has when none is written (`arm64` → `v8`, `arm` → `v7`),
    /// as containerd's platform matcher normalises it.
    fn default_variant(&self) -> Option<&'static str> {
        match self.architecture.as_str() {
            "arm64" => Some("v8"),
            "arm" => Some("v7"),
            _ => None,
        }
    }

    /// The variant, with the architecture's default filled in.
    fn normalized_variant(&self) -> Option<&str> {
        self.variant.as_deref().or(self.default_variant())
    }

    /// True when `other` (an index entry's platform) is this platform.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && self.normalized_variant() == other.normalized_variant()
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Platform {
    type Err = PlatformError;

    fn from_str(input: &str) -> Result<Platform, PlatformError> {
        Platform::parse(input)
    }
}
