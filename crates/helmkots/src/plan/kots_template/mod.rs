//! A KOTS template evaluator: renders the `repl` templates of a KOTS release the way the KOTS
//! admin console does, so that helmkots can preview and prove a configuration (the values
//! document the Job passes to helm, the vendor's own `manifests/`) without a cluster.
//!
//! KOTS runs Go's `text/template` twice over every file (kots `pkg/template/builder.go`,
//! `RenderTemplate`): first with the delimiters `{{repl` … `}}`, then over that output with
//! `repl{{` … `}}`. Text outside an action is copied verbatim in both passes, so plain Helm
//! actions (`{{ .Values.x }}`, `{{- include ... }}`) are never touched: they do not start
//! with the active delimiter. Like Go, the delimiter is found by plain string search: an
//! occurrence of `{{repl` inside a Helm action (`{{ "{{repl" }}`) starts a KOTS action, and
//! KOTS fails on such a file too.
//!
//! Each pass is `lexer` (text and action tokens, trim markers, comments) → `parser` (an AST
//! of text, actions and `if` chains; unknown functions and undefined variables are refused
//! here, in every branch) → `eval` (Go's semantics for truth, pipelines, `and`/`or`
//! short-circuit, variable scopes, printing), with the functions in `functions`.
//!
//! Errors name the file and the 1-based line of the action in the *original* text, in both
//! passes: the first pass records where each piece of its output came from, and second-pass
//! errors are mapped back through that record (an error inside a value that the first pass
//! printed points at the first-pass action that printed it).
//!
//! Hand-written rather than `gtmpl`: KOTS needs configurable delimiters, functions that read
//! a context, and exact Go printing rules, and `gtmpl` is unmaintained.
//!
//! Architecture Invariant: pure functions on strings and the [`Context`]; no I/O, no network,
//! no panics on any input (nesting is bounded by [`MAX_DEPTH`]).

mod eval;
mod functions;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::{
    diagnostic::nearest, input::image_ref::ImageRefError, input::release::Release,
    plan::image_routing::Routing,
};

/// The largest value a template function may produce: no real manifest value comes close.
pub const MAX_VALUE_BYTES: usize = 16 << 20;

/// The largest output a template may render to.
pub const MAX_OUTPUT_BYTES: usize = 64 << 20;

/// How deeply `if` blocks and parenthesised pipelines may nest, together.
pub const MAX_DEPTH: usize = 64;

/// Everything the template functions may read: the configuration, the registry, the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Config items by name: what `ConfigOption` and friends read.
    pub config: BTreeMap<String, ConfigValue>,
    /// The customer's local registry, when one is configured (always in airgap installs).
    pub local_registry: Option<LocalRegistry>,
    /// What `Namespace` returns: the namespace KOTS deploys into.
    pub namespace: String,
    /// The KOTS app slug (`ImagePullSecretName` is `<slug>-registry`).
    pub app_slug: String,
    /// Private registries and the proxy prefix, for `LocalImageName` without a local registry.
    pub routing: Routing,
    /// What `IsAirgap` returns.
    pub airgap: bool,
}

/// One config item's value and default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigValue {
    /// The value the user set, if any.
    pub value: Option<String>,
    /// The item's default, if any.
    pub default: Option<String>,
}

impl ConfigValue {
    /// The item's current value: the value set when it is not empty, else the default, else
    /// the empty string (KOTS falls back to the default when a field is cleared).
    pub fn current(&self) -> &str {
        match (&self.value, &self.default) {
            (Some(value), _) if !value.is_empty() => value,
            (_, Some(default)) => default,
            (Some(value), None) => value,
            (None, None) => "",
        }
    }
}

/// A customer's local registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRegistry {
    /// Host name, with the port if any, e.g. `registry.local:5000`.
    pub host: String,
    /// Namespace (path prefix) within the registry; may be empty.
    pub namespace: String,
}

/// The namespace [`Context::from_release`] assumes for `Namespace`; callers that know the
/// namespace KOTS deploys into set [`Context::namespace`].
pub const DEFAULT_NAMESPACE: &str = "default";

impl Context {
    /// The context of an online install of `release` with no local registry, the config items'
    /// defaults overridden by `set` (item name → value), in namespace [`DEFAULT_NAMESPACE`].
    ///
    /// Fails when `set` names an item the release does not have.
    pub fn from_release(release: &Release, set: &BTreeMap<String, String>) -> Result<Context, ContextError> {
        Context::for_config(&release.config, release.app.slug.get_ref(), Routing::from_release(release), set)
    }

    /// [`Context::from_release`] from the parts of a release it reads: the Config screen, the
    /// app slug and the image routing (what a written release tree records).
    pub fn for_config(
        groups: &[crate::input::release::ConfigGroup],
        app_slug: &str,
        routing: Routing,
        set: &BTreeMap<String, String>,
    ) -> Result<Context, ContextError> {
        let mut config = BTreeMap::new();
        for item in groups.iter().flat_map(|group| &group.items) {
            config.insert(
                item.name.get_ref().clone(),
                ConfigValue { value: None, default: item.default.clone() },
            );
        }
        let items: BTreeMap<&str, &crate::input::release::ConfigItem> = groups
            .iter()
            .flat_map(|group| &group.items)
            .map(|item| (item.name.get_ref().as_str(), item))
            .collect();
        for (name, value) in set {
            if let Some(item) = items.get(name.as_str()) {
                check_value(item, value)?;
            }
            match config.get_mut(name) {
                Some(item) => item.value = Some(value.clone()),
                None => {
                    let suggestion = nearest(name, config.keys().map(String::as_str)).map(str::to_string);
                    let known =
                        groups.iter().flat_map(|group| &group.items).map(|item| item.name.get_ref().clone());
                    return Err(ContextError::UnknownItem {
                        name: name.clone(),
                        suggestion,
                        known: known.collect(),
                    });
                }
            }
        }
        Ok(Context {
            config,
            local_registry: None,
            namespace: DEFAULT_NAMESPACE.to_string(),
            app_slug: app_slug.to_string(),
            routing,
            airgap: false,
        })
    }
}

/// A value the admin console could not give `item`: a bool other than `0`/`1`, a choice it
/// does not offer, or any value for an item that holds none (a label or heading).
fn check_value(item: &crate::input::release::ConfigItem, value: &str) -> Result<(), ContextError> {
    use crate::input::release::ItemType;
    let allowed: Option<Vec<String>> = match item.item_type {
        ItemType::Bool => Some(vec!["0".into(), "1".into()]),
        ItemType::SelectOne | ItemType::Radio | ItemType::Dropdown => {
            Some(item.choices.iter().map(|choice| choice.name.clone()).collect())
        }
        ItemType::Label | ItemType::Heading => Some(Vec::new()),
        _ => None,
    };
    match allowed {
        Some(allowed) if !allowed.iter().any(|a| a == value) => Err(ContextError::InvalidValue {
            name: item.name.get_ref().clone(),
            value: value.to_string(),
            allowed,
        }),
        _ => Ok(()),
    }
}

/// Why a [`Context`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// A value was given for a config item the release does not define.
    #[error(
        "no config item named `{name}`{}; the items are {}",
        suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(),
        if known.is_empty() { "none: the release has no Config screen".to_string() } else { known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ") }
    )]
    UnknownItem {
        /// The name given.
        name: String,
        /// The closest item name, if one is close.
        suggestion: Option<String>,
        /// Every item of the Config screen, in its order.
        known: Vec<String>,
    },
    /// A value the item cannot hold.
    #[error(
        "config item `{name}` cannot be `{value}`: {}",
        if allowed.is_empty() { "it holds no value".to_string() } else { format!("it is one of {}", allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")) }
    )]
    InvalidValue {
        /// The item.
        name: String,
        /// The value given.
        value: String,
        /// What it can be (empty: nothing).
        allowed: Vec<String>,
    },
}

/// Renders a KOTS file: the `{{repl ...}}` pass, then the `repl{{ ... }}` pass. `file` names
/// the file in errors.
pub fn render(text: &str, ctx: &Context, file: &str) -> Result<String, TemplateError> {
    let lines = LineIndex::new(text);
    let first = eval::render_pass(text, lexer::FIRST_PASS, ctx)
        .map_err(|error| error.locate(file, |offset| lines.line_of(offset)))?;
    let second = eval::render_pass(&first.text, lexer::SECOND_PASS, ctx)
        .map_err(|error| error.locate(file, |offset| first.original_line(offset, &lines)))?;
    Ok(second.text)
}

/// A template that cannot be rendered, located in its file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {kind}")]
pub struct TemplateError {
    /// The file, as given to [`render`].
    pub file: String,
    /// The 1-based line of the offending action (or token) in the original text.
    pub line: usize,
    /// What is wrong.
    pub kind: TemplateErrorKind,
}

impl TemplateError {
    /// The function or token to blame, when one is.
    pub fn token(&self) -> Option<&str> {
        use TemplateErrorKind as K;
        match &self.kind {
            K::UnsupportedFunction { name }
            | K::UnsupportedAction { keyword: name }
            | K::UndefinedVariable { name }
            | K::UnknownConfigItem { name }
            | K::InvalidFileItem { name } => Some(name),
            K::UnexpectedToken { found, .. } | K::NotAFunction { found } => Some(found),
            K::WrongArgCount { function, .. }
            | K::WrongArgType { function, .. }
            | K::InvalidArgument { function, .. } => Some(function),
            K::UnexpectedKeyword { keyword } => Some(keyword),
            _ => None,
        }
    }
}

/// The kinds of template errors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateErrorKind {
    /// An action without its closing `}}`.
    #[error("unclosed action: no `}}}}` after `{delimiter}`")]
    UnclosedAction {
        /// The opening delimiter.
        delimiter: &'static str,
    },
    /// A `"` string without its closing quote on the same line.
    #[error("unterminated quoted string")]
    UnterminatedString,
    /// A `` ` `` string without its closing backtick.
    #[error("unterminated raw (backtick) string")]
    UnterminatedRawString,
    /// A character constant that is not one quoted character.
    #[error("malformed character constant")]
    BadCharacterConstant,
    /// A `/* ... */` comment that is not closed, or not followed by the closing delimiter.
    #[error("unclosed comment, or a comment not followed by `}}}}`")]
    BadComment,
    /// A backslash escape a Go string does not have.
    #[error("invalid escape `{escape}` in string")]
    BadEscape {
        /// The escape as written.
        escape: String,
    },
    /// A character that starts no token.
    #[error("unexpected character {character:?} in action")]
    BadCharacter {
        /// The character.
        character: char,
    },
    /// A malformed or out-of-range number.
    #[error("bad number `{text}`")]
    BadNumber {
        /// The number as written.
        text: String,
    },
    /// A `(` without `)`, or a `)` without `(`.
    #[error("unbalanced parentheses")]
    UnbalancedParens,
    /// Field access (`.Values.x`, `$x.y`, `(f).y`) chained on a value: KOTS data has no fields.
    #[error("field access on a value is not supported in KOTS templates")]
    FieldAccess,
    /// A token where it does not belong.
    #[error("unexpected `{found}` in {place}")]
    UnexpectedToken {
        /// The token as written.
        found: String,
        /// Where it was found, e.g. "command".
        place: &'static str,
    },
    /// An `if`, a command or a parenthesised pipeline with nothing in it.
    #[error("missing value for {place}")]
    MissingValue {
        /// What lacks a value, e.g. "if".
        place: &'static str,
    },
    /// `else` or `end` with no open `if`, or a second `else`.
    #[error("unexpected `{keyword}`: no open `if` for it")]
    UnexpectedKeyword {
        /// `else` or `end`.
        keyword: String,
    },
    /// An `if` never closed by `end`.
    #[error("`if` is never closed by an `end`")]
    UnclosedIf,
    /// Control structures Go has but this evaluator does not (`range`, `with`, `define`, ...).
    #[error("unsupported template action `{keyword}`")]
    UnsupportedAction {
        /// The keyword.
        keyword: String,
    },
    /// A function this evaluator does not know.
    #[error("unsupported KOTS template function `{name}`")]
    UnsupportedFunction {
        /// The function's name.
        name: String,
    },
    /// A variable used before it is declared with `:=`.
    #[error("undefined variable `{name}`")]
    UndefinedVariable {
        /// The variable, with its `$`.
        name: String,
    },
    /// A value or the whole output grew past [`MAX_VALUE_BYTES`] / [`MAX_OUTPUT_BYTES`]
    /// (a template whose output grows exponentially).
    #[error("template output too large: more than {limit} bytes")]
    TooLarge {
        /// The limit that was hit.
        limit: usize,
    },
    /// `if` blocks and parentheses nested deeper than [`MAX_DEPTH`].
    #[error("template nested too deeply (more than {MAX_DEPTH} levels of `if` and parentheses)")]
    TooDeep,
    /// Arguments given to something that is not a function, or `nil` used as a command.
    #[error("`{found}` is not a function and cannot take arguments")]
    NotAFunction {
        /// The value's description.
        found: String,
    },
    /// `nil` used as a command.
    #[error("nil is not a command")]
    NilCommand,
    /// A function called with the wrong number of arguments (piped values count as the last).
    #[error("wrong number of arguments for `{function}`: want {expected}, got {found}")]
    WrongArgCount {
        /// The function.
        function: String,
        /// How many it takes, e.g. "1" or "at least 2".
        expected: &'static str,
        /// How many it got.
        found: usize,
    },
    /// A function argument of the wrong type.
    #[error("wrong type for argument {position} of `{function}`: expected {expected}, got {found}")]
    WrongArgType {
        /// The function.
        function: String,
        /// The 1-based position of the argument.
        position: usize,
        /// The type wanted.
        expected: &'static str,
        /// The type given.
        found: &'static str,
    },
    /// An argument of the right type with a value the function cannot use.
    #[error("invalid argument for `{function}`: {reason}")]
    InvalidArgument {
        /// The function.
        function: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `eq`, `ne`, `lt`, ... on values of different kinds.
    #[error("incompatible types for comparison: {left} and {right}")]
    Incomparable {
        /// The left value's type.
        left: &'static str,
        /// The right value's type.
        right: &'static str,
    },
    /// A config item the context does not have.
    #[error("no config item named `{name}`")]
    UnknownConfigItem {
        /// The item's name.
        name: String,
    },
    /// `ConfigOptionData` on an item whose value is not base64.
    #[error("config item `{name}` is not valid base64 (ConfigOptionData decodes file items)")]
    InvalidFileItem {
        /// The item's name.
        name: String,
    },
    /// `LocalImageName` on something that is not an image reference.
    #[error("LocalImageName: {0}")]
    InvalidImage(#[from] ImageRefError),
}

/// A template error at a byte offset of one pass's input, before it is placed in a file.
#[derive(Debug, Clone, PartialEq)]
struct PassError {
    offset: usize,
    kind: TemplateErrorKind,
}

impl PassError {
    fn new(offset: usize, kind: TemplateErrorKind) -> PassError {
        PassError { offset, kind }
    }

    /// Places the error in `file`, with `line_of` turning its offset into a line.
    fn locate(self, file: &str, line_of: impl FnOnce(usize) -> usize) -> TemplateError {
        TemplateError { file: file.to_string(), line: line_of(self.offset), kind: self.kind }
    }
}

/// The offsets of the newlines of a text, to turn byte offsets into 1-based lines.
struct LineIndex {
    newlines: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        LineIndex {
            newlines: text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i).collect(),
        }
    }

    /// The 1-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&newline| newline < offset) + 1
    }
}
