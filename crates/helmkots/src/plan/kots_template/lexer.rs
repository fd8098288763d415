//! The lexer of one template pass: splits the text into verbatim text and the tokens of each
//! action, the way Go's `text/template/parse` lexer does with custom delimiters.
//!
//! An action starts at the first occurrence of the left delimiter (plain string search, as in
//! Go) and ends at the right delimiter found between tokens, so `"}}"` inside a string does not
//! end it. `{{repl- ` / `repl{{- ` trims the whitespace before the action and ` -}}` the
//! whitespace after it; `/* ... */` right inside the delimiters is a comment. Strings are
//! decoded here (Go escapes, backtick strings verbatim minus carriage returns), numbers parsed.

use super::{PassError, TemplateErrorKind as Kind};

/// The delimiters of one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Delimiters {
    /// The opening delimiter.
    pub(super) left: &'static str,
    /// The closing delimiter.
    pub(super) right: &'static str,
}

/// KOTS's first pass.
pub(super) const FIRST_PASS: Delimiters = Delimiters { left: "{{repl", right: "}}" };
/// KOTS's second pass.
pub(super) const SECOND_PASS: Delimiters = Delimiters { left: "repl{{", right: "}}" };

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    /// Verbatim text between actions: the byte range in the input.
    Text { start: usize, end: usize },
    /// The left delimiter.
    Open,
    /// The right delimiter.
    Close,
    /// A function name or a keyword (`if`, `true`, `nil`, ...).
    Identifier(String),
    /// A field chain on the data, e.g. `.Values.x`.
    Field(String),
    /// The data itself, `.`.
    Dot,
    /// A variable with its `$`, or `$` alone.
    Variable(String),
    /// A decoded string literal.
    String(String),
    /// An integer literal or a character constant.
    Int(i64),
    /// A floating-point literal.
    Float(f64),
    /// `|`.
    Pipe,
    /// `(`.
    LeftParen,
    /// `)`.
    RightParen,
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
    /// `,`.
    Comma,
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    /// What it is.
    pub(super) kind: TokenKind,
    /// Where it starts in the pass's input.
    pub(super) offset: usize,
}

/// Splits `input` into tokens.
pub(super) fn lex(input: &str, delimiters: Delimiters) -> Result<Vec<Token>, PassError> {
    let mut lexer = Lexer { input, delimiters, tokens: Vec::new() };
    lexer.run()?;
    Ok(lexer.tokens)
}

/// Go's white space inside actions and for trim markers.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

const SPACES: [char; 4] = [' ', '\t', '\r', '\n'];

/// Characters of identifiers, variable names and field names.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

struct Lexer<'a> {
    input: &'a str,
    delimiters: Delimiters,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn push(&mut self, kind: TokenKind, offset: usize) {
        self.tokens.push(Token { kind, offset });
    }

    fn run(&mut self) -> Result<(), PassError> {
        let mut pos = 0;
        loop {
            let Some(found) = self.input[pos..].find(self.delimiters.left) else {
                self.push_text(pos, self.input.len());
                return Ok(());
            };
            let open = pos + found;
            let mut cursor = open + self.delimiters.left.len();
            let rest = &self.input[cursor..];
            let trim_left = rest.starts_with('-') && rest[1..].starts_with(is_space);
            let text_end =
                if trim_left { pos + self.input[pos..open].trim_end_matches(SPACES).len() } else { open };
            self.push_text(pos, text_end);
            if trim_left {
                cursor += 2;
            }
            pos = if self.input[cursor..].starts_with("/*") {
                self.comment(open, cursor)?
            } else {
                self.push(TokenKind::Open, open);
                self.action(open, cursor)?
            };
        }
    }

    fn push_text(&mut self, start: usize, end: usize) {
        if start < end {
            self.push(TokenKind::Text { start, end }, start);
        }
    }

    /// At `pos`, the right delimiter (with its trim marker, if any): the position after it,
    /// past the trimmed white space.
    fn at_close(&self, pos: usize) -> Option<usize> {
        let rest = &self.input[pos..];
        let right = self.delimiters.right;
        let mut chars = rest.chars();
        if chars.next().is_some_and(is_space) && chars.next() == Some('-') && rest[2..].starts_with(right) {
            let after = pos + 2 + right.len();
            return Some(self.input.len() - self.input[after..].trim_start_matches(SPACES).len());
        }
        rest.starts_with(right).then_some(pos + right.len())
    }

    /// A comment starting at `cursor` (at its `/*`): the position after the action.
    fn comment(&self, open: usize, cursor: usize) -> Result<usize, PassError> {
        let Some(length) = self.input[cursor + 2..].find("*/") else {
            return Err(PassError::new(open, Kind::BadComment));
        };
        self.at_close(cursor + 2 + length + 2).ok_or(PassError::new(open, Kind::BadComment))
    }

    /// The tokens of an action whose content starts at `cursor`: the position after it.
    fn action(&mut self, open: usize, mut pos: usize) -> Result<usize, PassError> {
        let mut parens = 0usize;
        loop {
            if let Some(after) = self.at_close(pos) {
                if parens > 0 {
                    return Err(PassError::new(pos, Kind::UnbalancedParens));
                }
                self.push(TokenKind::Close, pos);
                return Ok(after);
            }
            let Some(c) = self.input[pos..].chars().next() else {
                return Err(PassError::new(open, Kind::UnclosedAction { delimiter: self.delimiters.left }));
            };
            let next = self.input[pos + c.len_utf8()..].chars().next();
            pos = match c {
                c if is_space(c) => pos + 1,
                '|' => self.single(TokenKind::Pipe, pos),
                ',' => self.single(TokenKind::Comma, pos),
                '=' => self.single(TokenKind::Assign, pos),
                '(' => {
                    parens += 1;
                    self.single(TokenKind::LeftParen, pos)
                }
                ')' => {
                    if parens == 0 {
                        return Err(PassError::new(pos, Kind::UnbalancedParens));
                    }
                    parens -= 1;
                    if next == Some('.') {
                        return Err(PassError::new(pos + 1, Kind::FieldAccess));
                    }
                    self.single(TokenKind::RightParen, pos)
                }
                ':' if next == Some('=') => {
                    self.push(TokenKind::Declare, pos);
                    pos + 2
                }
                '"' => self.quoted(pos)?,
                '`' => self.raw(pos)?,
                '\'' => self.character(pos)?,
                '$' => {
                    let end = self.word_end(pos + 1);
                    self.push(TokenKind::Variable(self.input[pos..end].to_string()), pos);
                    self.terminated(end)?
                }
                '.' if next.is_some_and(|c| c.is_ascii_digit()) => self.number(pos)?,
                '.' if next.is_some_and(is_word) => self.field(pos)?,
                '.' => self.single(TokenKind::Dot, pos),
                '+' | '-' | '0'..='9' => self.number(pos)?,
                c if is_word(c) => {
                    let end = self.word_end(pos);
                    self.push(TokenKind::Identifier(self.input[pos..end].to_string()), pos);
                    self.terminated(end)?
                }
                character => return Err(PassError::new(pos, Kind::BadCharacter { character })),
            };
        }
    }

    fn single(&mut self, kind: TokenKind, pos: usize) -> usize {
        self.push(kind, pos);
        pos + 1
    }

    /// The end of the run of word characters starting at `pos`.
    fn word_end(&self, pos: usize) -> usize {
        let rest = &self.input[pos..];
        pos + rest.find(|c: char| !is_word(c)).unwrap_or(rest.len())
    }

    /// Checks that a word ending at `end` is followed by something that may follow it.
    fn terminated(&self, end: usize) -> Result<usize, PassError> {
        let rest = &self.input[end..];
        match rest.chars().next() {
            None => Ok(end),
            Some('.') => Err(PassError::new(end, Kind::FieldAccess)),
            Some(c) if is_space(c) || matches!(c, ',' | '|' | ':' | ')' | '(') => Ok(end),
            Some(_) if rest.starts_with(self.delimiters.right) => Ok(end),
            Some(character) => Err(PassError::new(end, Kind::BadCharacter { character })),
        }
    }

    /// A field chain `.a.b.c` starting at `pos`.
    fn field(&mut self, pos: usize) -> Result<usize, PassError> {
        let mut end = pos;
        while self.input[end..].starts_with('.') && self.input[end + 1..].starts_with(is_word) {
            end = self.word_end(end + 1);
        }
        self.push(TokenKind::Field(self.input[pos..end].to_string()), pos);
        match self.input[end..].chars().next() {
            Some('.') => Err(PassError::new(end, Kind::BadCharacter { character: '.' })),
            _ => self.terminated(end),
        }
    }

    /// A number (Go syntax: sign, decimal or `0x` hex, fraction, exponent, `_` separators).
    fn number(&mut self, pos: usize) -> Result<usize, PassError> {
        let bytes = self.input.as_bytes();
        let digits = |mut end: usize, hex: bool| {
            while bytes
                .get(end)
                .is_some_and(|b| *b == b'_' || if hex { b.is_ascii_hexdigit() } else { b.is_ascii_digit() })
            {
                end += 1;
            }
            end
        };
        let mut end = pos;
        if matches!(bytes.get(end), Some(b'+' | b'-')) {
            end += 1;
        }
        let hex = matches!(bytes.get(end..end + 2), Some(b"0x" | b"0X"));
        if hex {
            end = digits(end + 2, true);
        } else {
            end = digits(end, false);
            if bytes.get(end) == Some(&b'.') {
                end = digits(end + 1, false);
            }
            if matches!(bytes.get(end), Some(b'e' | b'E')) {
                end += 1;
                if matches!(bytes.get(end), Some(b'+' | b'-')) {
                    end += 1;
                }
                end = digits(end, false);
            }
        }
        let bad =
            |end: usize| PassError::new(pos, Kind::BadNumber { text: self.input[pos..end].to_string() });
        if let Some(c) = self.input[end..].chars().next().filter(|c| is_word(*c) || *c == '.') {
            return Err(bad(self.word_end(end + c.len_utf8())));
        }
        let text = self.input[pos..end].replace('_', "");
        let kind = if hex {
            let (negative, magnitude) = match text.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, text.strip_prefix('+').unwrap_or(&text)),
            };
            let value = i64::from_str_radix(&magnitude[2..], 16).map_err(|_| bad(end))?;
            TokenKind::Int(if negative { -value } else { value })
        } else if text.contains(['.', 'e', 'E']) {
            TokenKind::Float(text.parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(|| bad(end))?)
        } else {
            TokenKind::Int(text.parse::<i64>().map_err(|_| bad(end))?)
        };
        self.push(kind, pos);
        self.terminated(end)
    }

    /// A `"` string starting at `pos`.
    fn quoted(&mut self, pos: usize) -> Result<usize, PassError> {
        let mut value = Vec::new();
        let mut index = pos + 1;
        loop {
            let Some(c) = self.input[index..].chars().next() else {
                return Err(PassError::new(pos, Kind::UnterminatedString));
            };
            match c {
                '\n' => return Err(PassError::new(pos, Kind::UnterminatedString)),
                '"' => {
                    self.push(TokenKind::String(String::from_utf8_lossy(&value).into_owned()), pos);
                    return Ok(index + 1);
                }
                '\\' => {
                    let (escaped, length) = unescape(&self.input[index + 1..], '"')
                        .map_err(|kind| PassError::new(index, kind))?;
                    escaped.push_to(&mut value);
                    index += 1 + length;
                }
                c => {
                    value.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    index += c.len_utf8();
                }
            }
        }
    }

    /// A backtick string starting at `pos`.
    fn raw(&mut self, pos: usize) -> Result<usize, PassError> {
        let Some(length) = self.input[pos + 1..].find('`') else {
            return Err(PassError::new(pos, Kind::UnterminatedRawString));
        };
        let value = self.input[pos + 1..pos + 1 + length].replace('\r', "");
        self.push(TokenKind::String(value), pos);
        Ok(pos + 1 + length + 1)
    }

    /// A character constant starting at `pos`: its code point, as an integer.
    fn character(&mut self, pos: usize) -> Result<usize, PassError> {
        let bad = || PassError::new(pos, Kind::BadCharacterConstant);
        let rest = &self.input[pos + 1..];
        let (value, length) = match rest.chars().next() {
            Some('\\') => {
                let (escaped, length) = unescape(&rest[1..], '\'').map_err(|_| bad())?;
                let value = match escaped {
                    Escaped::Byte(byte) => i64::from(byte),
                    Escaped::Char(c) => i64::from(u32::from(c)),
                };
                (value, 1 + length)
            }
            Some(c) if c != '\'' && c != '\n' => (i64::from(u32::from(c)), c.len_utf8()),
            _ => return Err(bad()),
        };
        if !rest[length..].starts_with('\'') {
            return Err(bad());
        }
        self.push(TokenKind::Int(value), pos);
        Ok(pos + 1 + length + 1)
    }
}

/// A decoded escape: `\x`/octal escapes give bytes, the others characters.
enum Escaped {
    Byte(u8),
    Char(char),
}

impl Escaped {
    fn push_to(self, value: &mut Vec<u8>) {
        match self {
            Escaped::Byte(byte) => value.push(byte),
            Escaped::Char(c) => value.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

/// Decodes the escape whose text starts at `rest` (just after the backslash), inside a literal
/// quoted with `quote`: the value and the length of the escape's text.
fn unescape(rest: &str, quote: char) -> Result<(Escaped, usize), Kind> {
    let Some(first) = rest.chars().next() else { return Err(Kind::UnterminatedString) };
    let simple = match first {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        c if c == quote => Some(c),
        _ => None,
    };
    if let Some(c) = simple {
        return Ok((Escaped::Char(c), 1));
    }
    let bad = |length: usize| Kind::BadEscape {
        escape: format!("\\{}", rest.chars().take(length).collect::<String>()),
    };
    let digits = |start: usize, count: usize, radix: u32| {
        rest.get(start..start + count)
            .filter(|text| text.chars().all(|c| c.is_digit(radix)))
            .and_then(|text| u32::from_str_radix(text, radix).ok())
    };
    match first {
        'x' => digits(1, 2, 16).map(|value| (Escaped::Byte(value as u8), 3)).ok_or_else(|| bad(3)),
        'u' => digits(1, 4, 16).and_then(char::from_u32).map(|c| (Escaped::Char(c), 5)).ok_or_else(|| bad(5)),
        'U' => digits(1, 8, 16).and_then(char::from_u32).map(|c| (Escaped::Char(c), 9)).ok_or_else(|| bad(9)),
        '0'..='7' => digits(0, 3, 8)
            .and_then(|value| u8::try_from(value).ok())
            .map(|byte| (Escaped::Byte(byte), 3))
            .ok_or_else(|| bad(3)),
        '\n' => Err(Kind::UnterminatedString),
        _ => Err(bad(1)),
    }
}
