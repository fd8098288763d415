//! Helm values paths as written in release.toml: `a.b.c`, `a[0].b`, `a."dotted.key"`.
//!
//! A `value = "..."` of a config item names where in the chart's values the item's setting
//! goes. The path is parsed once here and used by validation, manifest rendering and preview.

use std::fmt;

/// One step of a values path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A parsed values path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValuePath {
    segments: Vec<Segment>,
}

/// Why a values path is malformed, and where (byte offset into the path text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at character {offset} of `{path}`")]
pub struct ValuePathError {
    /// The path as written.
    pub path: String,
    /// Byte offset of the problem within `path`.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

impl ValuePath {
    /// Parses `a.b[0]."c.d"`. Plain keys are `[A-Za-z0-9_-]+`; anything else must be quoted.
    pub fn parse(text: &str) -> Result<ValuePath, ValuePathError> {
        let fail = |offset: usize, reason: &str| ValuePathError {
            path: text.to_string(),
            offset,
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(fail(0, "empty values path"));
        }
        let bytes = text.as_bytes();
        let mut segments = Vec::new();
        let mut position = 0;
        // True where a key must come next: at the start and after a dot.
        let mut expect_key = true;
        while position < bytes.len() {
            match bytes[position] {
                b'.' if !expect_key => {
                    expect_key = true;
                    position += 1;
                    if position == bytes.len() {
                        return Err(fail(position, "trailing `.`"));
                    }
                }
                b'[' if !expect_key => {
                    let close = text[position..]
                        .find(']')
                        .map(|i| position + i)
                        .ok_or_else(|| fail(position, "unclosed `[`"))?;
                    let digits = &text[position + 1..close];
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(fail(position + 1, "a list index must be a number, like `[0]`"));
                    }
                    let index = digits.parse().map_err(|_| fail(position + 1, "list index too large"))?;
                    segments.push(Segment::Index(index));
                    position = close + 1;
                }
                b'"' if expect_key => {
                    // A quoted key ends at the next unescaped quote; `\"` and `\\` are escapes.
                    let mut key = String::new();
                    let mut chars = text[position + 1..].char_indices();
                    let mut close = None;
                    while let Some((index, c)) = chars.next() {
                        match c {
                            '"' => {
                                close = Some(position + 1 + index);
                                break;
                            }
                            '\\' => match chars.next() {
                                Some((_, escaped @ ('"' | '\\'))) => key.push(escaped),
                                _ => {
                                    return Err(fail(
                                        position + 1 + index,
                                        "only `\\\"` and `\\\\` escapes are allowed in a quoted key",
                                    ))
                                }
                            },
                            other => key.push(other),
                        }
                    }
                    let close = close.ok_or_else(|| fail(position, "unclosed quote"))?;
                    // `""` is the empty key, which YAML allows.
                    segments.push(Segment::Key(key));
                    position = close + 1;
                    expect_key = false;
                }
                _ if expect_key => {
                    let end = text[position..]
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                        .map_or(text.len(), |i| position + i);
                    if end == position {
                        let reason = if bytes[position] == b'.' {
                            "empty key (two dots in a row, or a leading dot)"
                        } else {
                            "unexpected character; quote keys that hold it, like `a.\"b/c\"`"
                        };
                        return Err(fail(position, reason));
                    }
                    segments.push(Segment::Key(text[position..end].to_string()));
                    position = end;
                    expect_key = false;
                }
                _ => {
                    return Err(fail(position, "expected `.` or `[` after a key"));
                }
            }
        }
        Ok(ValuePath { segments })
    }

    /// The steps of the path, outermost first.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Builds a path from segments.
    pub fn from_segments(segments: Vec<Segment>) -> ValuePath {
        ValuePath { segments }
    }

    /// Builds a path from plain map keys.
    pub fn from_keys<S: Into<String>>(keys: impl IntoIterator<Item = S>) -> ValuePath {
        ValuePath { segments: keys.into_iter().map(|key| Segment::Key(key.into())).collect() }
    }
}

impl fmt::Display for ValuePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Key(key) => {
                    if index > 0 {
                        f.write_str(".")?;
                    }
                    let plain = !key.is_empty()
                        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if plain {
                        f.write_str(key)?;
                    } else {
                        write!(f, "\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))?;
                    }
                }
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<&str, usize>) {
        match (ValuePath::parse(text), expected) {
            (Ok(path), Ok(display)) => assert_eq!(path.to_string(), display, "{text}"),
            (Err(error), Err(offset)) => assert_eq!(error.offset, offset, "{text}: {error}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn well_formed_paths() {
        check("persistence.enabled", Ok("persistence.enabled"));
        check("a[0].b", Ok("a[0].b"));
        check("a.\"b.c\".d", Ok("a.\"b.c\".d"));
        check("\"x/y\"", Ok("\"x/y\""));
        check("ingress.hosts[0][1]", Ok("ingress.hosts[0][1]"));
        check("kebab-key.snake_key", Ok("kebab-key.snake_key"));
    }

    #[test]
    fn malformed_paths_say_where() {
        check("", Err(0));
        check("a..b", Err(2));
        check(".a", Err(0));
        check("a.", Err(2));
        check("a[x]", Err(2));
        check("a[0", Err(1));
        check("a b", Err(1));
        check("a.\"b", Err(2));
        check("[0]", Err(0));
    }
}
