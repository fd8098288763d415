//! The template functions: Go's builtins, KOTS's Config and Static context functions, and
//! the Sprig string helpers vendors use in `manifests/`, each with the behaviour of its Go
//! original (kots `pkg/template/*_context.go`, Sprig, `text/template/funcs.go`).
//!
//! Arguments are checked like Go checks them against a function's signature: the count
//! (piped values included) and the type of each one. Where KOTS swallows an error and
//! returns a zero value (`ParseInt "x"` is 0, `Base64Decode` of bad input is ""), so do
//! these; where a mistake can only be the vendor's (a config item that does not exist, a
//! file item that is not base64, an invalid image reference) they fail instead, so the
//! build catches it.
//!
//! `and` and `or` are not here: they evaluate their arguments lazily, so the evaluator runs
//! them itself.

use std::cmp::Ordering;

use super::{eval::Value, Context, LocalRegistry, TemplateErrorKind as Kind};
use crate::input::image_ref::ImageRef;

/// A function's arguments and what it may read.
pub(super) struct Call<'a> {
    /// The context of the render.
    pub(super) ctx: &'a Context,
    /// The function's name, for errors.
    pub(super) name: &'a str,
    /// The arguments, the piped value last.
    pub(super) args: Vec<Value>,
}

type Function = fn(&Call<'_>) -> Result<Value, Kind>;

/// Every function but `and` and `or`, by name.
const FUNCTIONS: &[(&str, Function)] = &[
    // Go's builtins.
    ("not", not),
    ("eq", eq),
    ("ne", ne),
    ("lt", |call| compare(call, Ordering::is_lt)),
    ("le", |call| compare(call, Ordering::is_le)),
    ("gt", |call| compare(call, Ordering::is_gt)),
    ("ge", |call| compare(call, Ordering::is_ge)),
    ("len", len),
    ("print", |call| Ok(Value::String(sprint(&call.args)))),
    ("println", println),
    ("printf", printf),
    // KOTS, Config context.
    ("ConfigOption", |call| Ok(Value::String(config_option(call)?))),
    ("ConfigOptionEquals", |call| config_option_equals(call).map(Value::Bool)),
    ("ConfigOptionNotEquals", |call| config_option_equals(call).map(|equal| Value::Bool(!equal))),
    ("ConfigOptionData", config_option_data),
    ("HasLocalRegistry", |call| nullary(call, |ctx| Value::Bool(local_registry(ctx).is_some()))),
    ("LocalRegistryHost", |call| nullary(call, |ctx| registry_field(ctx, |r| r.host.clone()))),
    ("LocalRegistryNamespace", |call| nullary(call, |ctx| registry_field(ctx, |r| r.namespace.clone()))),
    ("LocalRegistryAddress", |call| nullary(call, |ctx| registry_field(ctx, registry_address))),
    ("LocalImageName", local_image_name),
    ("ImagePullSecretName", |call| nullary(call, |ctx| Value::String(format!("{}-registry", ctx.app_slug)))),
    // KOTS, Static and Version contexts.
    ("Namespace", |call| nullary(call, |ctx| Value::String(ctx.namespace.clone()))),
    ("IsAirgap", |call| nullary(call, |ctx| Value::Bool(ctx.airgap))),
    ("ToLower", |call| string_op(call, str::to_lowercase)),
    ("ToUpper", |call| string_op(call, str::to_uppercase)),
    ("TrimSpace", |call| string_op(call, |text| go_trim_space(text).to_string())),
    ("Trim", trim),
    ("Base64Encode", |call| string_op(call, |text| base64_encode(text.as_bytes()))),
    ("Base64Decode", |call| {
        string_op(call, |text| base64_decode(text).map(|bytes| lossy(&bytes)).unwrap_or_default())
    }),
    ("Split", split),
    ("ParseBool", parse_bool),
    ("ParseInt", parse_int),
    ("UrlEncode", |call| string_op(call, url_query_escape)),
    ("RandomString", random_string),
    // Sprig.
    ("lower", |call| string_op(call, str::to_lowercase)),
    ("upper", |call| string_op(call, str::to_uppercase)),
    ("trim", |call| string_op(call, |text| go_trim_space(text).to_string())),
    ("trimPrefix", |call| {
        two_strings(call, |prefix, text| text.strip_prefix(prefix).unwrap_or(text).to_string())
    }),
    ("trimSuffix", |call| {
        two_strings(call, |suffix, text| text.strip_suffix(suffix).unwrap_or(text).to_string())
    }),
    ("contains", |call| two_strings(call, |part, text| text.contains(part))),
    ("hasPrefix", |call| two_strings(call, |prefix, text| text.starts_with(prefix))),
    ("hasSuffix", |call| two_strings(call, |suffix, text| text.ends_with(suffix))),
    ("replace", replace),
    ("quote", |call| Ok(Value::String(quote_each(&call.args, |text| go_quote(text, '"'))))),
    ("squote", |call| Ok(Value::String(quote_each(&call.args, |text| format!("'{text}'"))))),
    ("default", default),
    ("empty", |call| call.exactly(1).map(|()| Value::Bool(!call.value(0).is_true()))),
    ("ternary", ternary),
    ("toString", |call| call.exactly(1).map(|()| Value::String(strval(call.value(0))))),
    ("toJson", |call| call.exactly(1).map(|()| Value::String(to_json(call.value(0))))),
    ("b64enc", |call| string_op(call, |text| base64_encode(text.as_bytes()))),
    ("b64dec", |call| {
        string_op(call, |text| match base64_decode(text) {
            Ok(bytes) => lossy(&bytes),
            Err(offset) => format!("illegal base64 data at input byte {offset}"),
        })
    }),
    ("indent", |call| indent(call, false)),
    ("nindent", |call| indent(call, true)),
];

/// The function called `name`, if it exists (`and` and `or` excluded).
pub(super) fn lookup(name: &str) -> Option<Function> {
    FUNCTIONS.iter().find(|(known, _)| *known == name).map(|(_, function)| *function)
}

/// Whether a template may call `name`.
pub(super) fn is_defined(name: &str) -> bool {
    name == "and" || name == "or" || lookup(name).is_some()
}

/// The longest padding `indent` and `printf` widths may ask for.
const MAX_PADDING: usize = 10_000;

static NIL: Value = Value::Nil;

impl Call<'_> {
    /// Checks the number of arguments; `expected` says it in words.
    fn count(&self, range: std::ops::RangeInclusive<usize>, expected: &'static str) -> Result<(), Kind> {
        if range.contains(&self.args.len()) {
            return Ok(());
        }
        Err(Kind::WrongArgCount { function: self.name.to_string(), expected, found: self.args.len() })
    }

    fn exactly(&self, count: usize) -> Result<(), Kind> {
        let expected = match count {
            0 => "0",
            1 => "1",
            2 => "2",
            _ => "3",
        };
        self.count(count..=count, expected)
    }

    fn value(&self, index: usize) -> &Value {
        self.args.get(index).unwrap_or(&NIL)
    }

    fn wrong_type(&self, index: usize, expected: &'static str) -> Kind {
        Kind::WrongArgType {
            function: self.name.to_string(),
            position: index + 1,
            expected,
            found: self.value(index).type_name(),
        }
    }

    fn string(&self, index: usize) -> Result<&str, Kind> {
        match self.value(index) {
            Value::String(text) => Ok(text),
            _ => Err(self.wrong_type(index, "string")),
        }
    }

    fn int(&self, index: usize) -> Result<i64, Kind> {
        match self.value(index) {
            Value::Int(value) => Ok(*value),
            _ => Err(self.wrong_type(index, "int")),
        }
    }

    fn bool(&self, index: usize) -> Result<bool, Kind> {
        match self.value(index) {
            Value::Bool(value) => Ok(*value),
            _ => Err(self.wrong_type(index, "bool")),
        }
    }
}

fn nullary(call: &Call<'_>, function: impl Fn(&Context) -> Value) -> Result<Value, Kind> {
    call.exactly(0)?;
    Ok(function(call.ctx))
}

fn string_op(call: &Call<'_>, function: impl Fn(&str) -> String) -> Result<Value, Kind> {
    call.exactly(1)?;
    Ok(Value::String(function(call.string(0)?)))
}

fn two_strings<T: Into<Value>>(call: &Call<'_>, function: impl Fn(&str, &str) -> T) -> Result<Value, Kind> {
    call.exactly(2)?;
    Ok(function(call.string(0)?, call.string(1)?).into())
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::String(text)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

// ---------------------------------------------------------------------------------------------
// Go's builtins.

fn not(call: &Call<'_>) -> Result<Value, Kind> {
    call.exactly(1)?;
    Ok(Value::Bool(!call.value(0).is_true()))
}

/// Go's `eq` on two values: basic kinds compare by value, nil equals only nil.
fn equal(left: &Value, right: &Value) -> Result<bool, Kind> {
    match (left, right) {
        (Value::Bool(a), Value::Bool(b)) => Ok(a == b),
        (Value::Int(a), Value::Int(b)) => Ok(a == b),
        (Value::Float(a), Value::Float(b)) => Ok(a == b),
        (Value::String(a), Value::String(b)) => Ok(a == b),
        (Value::Nil, Value::Nil) => Ok(true),
        (Value::Nil, _) | (_, Value::Nil) => Ok(false),
        (left, right) => Err(Kind::Incomparable { left: left.type_name(), right: right.type_name() }),
    }
}

/// `eq a b c ...`: whether `a` equals any of the others.
fn eq(call: &Call<'_>) -> Result<Value, Kind> {
    call.count(2..=usize::MAX, "at least 2")?;
    let (first, others) = call.args.split_first().unwrap_or((&NIL, &[]));
    for other in others {
        if equal(first, other)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn ne(call: &Call<'_>) -> Result<Value, Kind> {
    call.exactly(2)?;
    Ok(Value::Bool(!equal(call.value(0), call.value(1))?))
}

fn compare(call: &Call<'_>, test: fn(Ordering) -> bool) -> Result<Value, Kind> {
    call.exactly(2)?;
    let ordering = match (call.value(0), call.value(1)) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    };
    let ordering = ordering
        .ok_or(Kind::Incomparable { left: call.value(0).type_name(), right: call.value(1).type_name() })?;
    Ok(Value::Bool(test(ordering)))
}

fn len(call: &Call<'_>) -> Result<Value, Kind> {
    call.exactly(1)?;
    let length = match call.value(0) {
        Value::String(text) => text.len(),
        Value::List(values) => values.len(),
        _ => return Err(call.wrong_type(0, "string or list")),
    };
    Ok(Value::Int(i64::try_from(length).unwrap_or(i64::MAX)))
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn sprint(args: &[Value]) -> String {
    let mut text = String::new();
    for (index, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if index > 0 && !is_string && !matches!(args[index - 1], Value::String(_)) {
            text.push(' ');
        }
        text.push_str(&arg.to_string());
    }
    text
}

fn println(call: &Call<'_>) -> Result<Value, Kind> {
    let mut text = call.args.iter().map(Value::to_string).collect::<Vec<_>>().join(" ");
    text.push('\n');
    Ok(Value::String(text))
}

fn printf(call: &Call<'_>) -> Result<Value, Kind> {
    call.count(1..=usize::MAX, "at least 1")?;
    let format = call.string(0)?;
    Ok(Value::String(sprintf(format, &call.args[1..])))
}

/// Go's `fmt.Sprintf` for the common verbs (`%s %d %v %q %t %f %x %c %%`), with flags `-`,
/// `+`, `0`, a width and a precision; mistakes print the way Go prints them.
fn sprintf(format: &str, args: &[Value]) -> String {
    let mut text = String::new();
    let mut next_arg = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        let (mut minus, mut plus, mut zero) = (false, false, false);
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let mut value: Option<usize> = None;
            while let Some(digit) = chars.peek().and_then(|c| c.to_digit(10)) {
                value = Some((value.unwrap_or(0) * 10 + digit as usize).min(MAX_PADDING));
                chars.next();
            }
            value
        };
        let width = number(&mut chars);
        let precision = if chars.peek() == Some(&'.') {
            chars.next();
            Some(number(&mut chars).unwrap_or(0))
        } else {
            None
        };
        let Some(verb) = chars.next() else {
            text.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            text.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            text.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_arg += 1;
        let Some(formatted) = format_verb(verb, arg, precision, plus) else {
            match arg {
                Value::Nil => text.push_str(&format!("%!{verb}(<nil>)")),
                arg => text.push_str(&format!("%!{verb}({}={arg})", arg.type_name())),
            }
            continue;
        };
        let numeric = matches!(arg, Value::Int(_) | Value::Float(_));
        text.push_str(&pad(formatted, width.unwrap_or(0), minus, zero && numeric));
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|arg| match arg {
                Value::Nil => "<nil>".to_string(),
                arg => format!("{}={arg}", arg.type_name()),
            })
            .collect();
        text.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    text
}

/// One `printf` verb applied to `arg`, or `None` when Go would print a bad-verb marker.
fn format_verb(verb: char, arg: &Value, precision: Option<usize>, plus: bool) -> Option<String> {
    let sign = |negative: bool| {
        if negative {
            "-"
        } else if plus {
            "+"
        } else {
            ""
        }
    };
    Some(match (verb, arg) {
        ('v', Value::Int(value)) | ('d', Value::Int(value)) => {
            format!("{}{}", sign(*value < 0), value.unsigned_abs())
        }
        ('v', Value::Float(value)) | ('g', Value::Float(value)) => {
            format!("{}{}", if plus && *value >= 0.0 { "+" } else { "" }, go_float(*value))
        }
        ('v', arg) => arg.to_string(),
        ('s', Value::String(text)) => match precision {
            Some(precision) => text.chars().take(precision).collect(),
            None => text.clone(),
        },
        ('s', Value::List(_)) => arg.to_string(),
        ('q', Value::String(text)) => go_quote(text, '"'),
        ('q', Value::Int(value)) => go_quote(
            &u32::try_from(*value).ok().and_then(char::from_u32).unwrap_or('\u{fffd}').to_string(),
            '\'',
        ),
        ('c', Value::Int(value)) => {
            u32::try_from(*value).ok().and_then(char::from_u32).unwrap_or('\u{fffd}').to_string()
        }
        ('t', Value::Bool(value)) => value.to_string(),
        ('f' | 'F', Value::Float(value)) => {
            let text = format!("{:.*}", precision.unwrap_or(6).min(MAX_PADDING), value.abs());
            format!("{}{text}", sign(value.is_sign_negative() && *value != 0.0))
        }
        ('x', Value::Int(value)) => format!("{}{:x}", sign(*value < 0), value.unsigned_abs()),
        ('X', Value::Int(value)) => format!("{}{:X}", sign(*value < 0), value.unsigned_abs()),
        ('x', Value::String(text)) => text.bytes().map(|byte| format!("{byte:02x}")).collect(),
        ('X', Value::String(text)) => text.bytes().map(|byte| format!("{byte:02X}")).collect(),
        _ => return None,
    })
}

/// Pads `text` to `width` characters: on the left, with zeros after the sign for numbers
/// when `zero`, or on the right when `left_align`.
fn pad(text: String, width: usize, left_align: bool, zero: bool) -> String {
    let length = text.chars().count();
    if length >= width {
        return text;
    }
    let padding = width - length;
    if left_align {
        format!("{text}{}", " ".repeat(padding))
    } else if zero {
        let (sign, digits) = match text.strip_prefix(['-', '+']) {
            Some(digits) => (&text[..1], digits),
            None => ("", text.as_str()),
        };
        format!("{sign}{}{digits}", "0".repeat(padding))
    } else {
        format!("{}{text}", " ".repeat(padding))
    }
}

/// Go's `%v` for a float64: the shortest representation, in exponent form below 1e-4 and
/// from 1e21 up.
pub(super) fn go_float(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return match value {
            v if v.is_nan() => "NaN".to_string(),
            v if v == f64::INFINITY => "+Inf".to_string(),
            v if v == f64::NEG_INFINITY => "-Inf".to_string(),
            v if v.is_sign_negative() => "-0".to_string(),
            _ => "0".to_string(),
        };
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..21).contains(&exponent) {
        return value.to_string();
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

/// Go's `strconv.Quote` (with `quote` `"`) or `QuoteRune` (with `'`).
pub(super) fn go_quote(text: &str, quote: char) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push(quote);
    for c in text.chars() {
        match c {
            '\x07' => quoted.push_str("\\a"),
            '\x08' => quoted.push_str("\\b"),
            '\x0c' => quoted.push_str("\\f"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\x0b' => quoted.push_str("\\v"),
            '\\' => quoted.push_str("\\\\"),
            c if c == quote => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if u32::from(c) < 0x20 || c == '\x7f' => quoted.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if !is_printable(c) => match u32::from(c) {
                code if code <= 0xffff => quoted.push_str(&format!("\\u{code:04x}")),
                code => quoted.push_str(&format!("\\U{code:08x}")),
            },
            c => quoted.push(c),
        }
    }
    quoted.push(quote);
    quoted
}

/// An approximation of Go's `unicode.IsPrint`: not a control, format or separator character.
fn is_printable(c: char) -> bool {
    !c.is_control()
        && !matches!(c, '\u{00ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{feff}')
}

// ---------------------------------------------------------------------------------------------
// KOTS: Config context.

fn config_option(call: &Call<'_>) -> Result<String, Kind> {
    call.exactly(1)?;
    item_value(call, 0)
}

fn item_value(call: &Call<'_>, index: usize) -> Result<String, Kind> {
    let name = call.string(index)?;
    match call.ctx.config.get(name) {
        Some(item) => Ok(item.current().to_string()),
        None => Err(Kind::UnknownConfigItem { name: name.to_string() }),
    }
}

fn config_option_equals(call: &Call<'_>) -> Result<bool, Kind> {
    call.exactly(2)?;
    let expected = call.string(1)?;
    Ok(item_value(call, 0)? == expected)
}

fn config_option_data(call: &Call<'_>) -> Result<Value, Kind> {
    call.exactly(1)?;
    let value = item_value(call, 0)?;
    match base64_decode(&value) {
        Ok(bytes) => Ok(Value::String(lossy(&bytes))),
        Err(_) => Err(Kind::InvalidFileItem { name: call.string(0)?.to_string() }),
    }
}

/// The local registry, when one is configured (KOTS tests for a host).
fn local_registry(ctx: &Context) -> Option<&LocalRegistry> {
    ctx.local_registry.as_ref().filter(|registry| !registry.host.is_empty())
}

/// A field of the local registry, or "" without one.
fn registry_field(ctx: &Context, field: impl Fn(&LocalRegistry) -> String) -> Value {
    Value::String(local_registry(ctx).map(field).unwrap_or_default())
}

/// `host/namespace`, or `host` when the namespace is empty.
fn registry_address(registry: &LocalRegistry) -> String {
    if registry.namespace.is_empty() {
        registry.host.clone()
    } else {
        format!("{}/{}", registry.host, registry.namespace)
    }
}

/// With a local registry, where KOTS puts the image there; without, the reference through
/// the proxy when its registry is private, else the reference as written.
fn local_image_name(call: &Call<'_>) -> Result<Value, Kind> {
    call.exactly(1)?;
    let reference = call.string(0)?;
    let image = ImageRef::parse(reference)?;
    let name = match local_registry(call.ctx) {
        Some(registry) => image.local_name(&registry.host, &registry.namespace),
        None if call.ctx.routing.is_private(&image) && !call.ctx.routing.proxy.is_empty() => {
            call.ctx.routing.online_reference(&image)
        }
        None => reference.to_string(),
    };
    Ok(Value::String(name))
}

// ---------------------------------------------------------------------------------------------
// KOTS: Static context.

/// Go's `strings.TrimSpace` (Unicode white space).
fn go_trim_space(text: &str) -> &str {
    text.trim_matches(char::is_whitespace)
}

/// `Trim s` trims white space; `Trim s cutset` trims the characters of `cutset`.
fn trim(call: &Call<'_>) -> Result<Value, Kind> {
    call.count(1..=2, "1 or 2")?;
    let text = call.string(0)?;
    let trimmed = if call.args.len() == 2 {
        let cutset = call.string(1)?;
        text.trim_matches(|c| cutset.contains(c))
    } else {
        go_trim_space(text)
    };
    Ok(Value::String(trimmed.to_string()))
}

/// `Split s sep`: Go's `strings.Split`.
fn split(call: &Call<'_>) -> Result<Value, Kind> {
    call.exactly(2)?;
    let (text, separator) = (call.string(0)?, call.string(1)?);
    let parts: Vec<Value> = if separator.is_empty() {
        text.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        text.split(separator).map(|part| Value::String(part.to_string())).collect()
    };
    Ok(Value::List(parts))
}

/// Go's `strconv.ParseBool`; false when it fails, like KOTS.
fn parse_bool(call: &Call<'_>) -> Result<Value, Kind> {
    call.exactly(1)?;
    let value = matches!(call.string(0)?, "1" | "t" | "T" | "true" | "TRUE" | "True");
    Ok(Value::Bool(value))
}

/// `ParseInt s [base]`: Go's `strconv.ParseInt`, base 10 by default; 0 when it fails, like KOTS.
/// KOTS's `RandomString length`: KOTS draws a new string for each install; the proof and
/// `preview` only need one of that length from the same alphabet (`[_A-Za-z0-9]`), so this
/// one is derived from the length, the same every run (renders stay cacheable and
/// reproducible). The charset form (`RandomString 16 "[a-z]"`) is refused rather than
/// guessed.
fn random_string(call: &Call<'_>) -> Result<Value, Kind> {
    use sha2::Digest as _;
    call.exactly(1)?;
    let length = usize::try_from(call.int(0)?).unwrap_or(0).min(4096);
    const ALPHABET: &[u8] = b"_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut text = String::with_capacity(length);
    let mut block = 0u64;
    while text.len() < length {
        let digest = sha2::Sha256::digest(format!("helmkots-random-string-{length}-{block}"));
        text.extend(digest.iter().map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char));
        block += 1;
    }
    text.truncate(length);
    Ok(Value::String(text))
}

fn parse_int(call: &Call<'_>) -> Result<Value, Kind> {
    call.count(1..=2, "1 or 2")?;
    let text = call.string(0)?;
    let base = if call.args.len() == 2 { call.int(1)? } else { 10 };
    Ok(Value::Int(go_parse_int(text, base).unwrap_or(0)))
}

fn go_parse_int(text: &str, base: i64) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = match base {
        0 => {
            let lower = digits.get(..2).map(str::to_ascii_lowercase);
            let digits = digits.replace('_', "");
            match lower.as_deref() {
                Some("0x") => (16, digits[2..].to_string()),
                Some("0o") => (8, digits[2..].to_string()),
                Some("0b") => (2, digits[2..].to_string()),
                _ if digits.len() > 1 && digits.starts_with('0') => (8, digits[1..].to_string()),
                _ => (10, digits),
            }
        }
        2..=36 => (u32::try_from(base).ok()?, digits.to_string()),
        _ => return None,
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from(u64::from_str_radix(&digits, radix).ok()?);
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// Go's `url.QueryEscape`.
fn url_query_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                escaped.push(char::from(byte))
            }
            b' ' => escaped.push('+'),
            byte => escaped.push_str(&format!("%{byte:02X}")),
        }
    }
    escaped
}

// ---------------------------------------------------------------------------------------------
// Sprig.

/// Sprig's `strval`: strings as they are, anything else as Go's `%v`.
fn strval(value: &Value) -> String {
    value.to_string()
}

/// Sprig's `quote` and `squote`: each non-nil argument quoted, joined by spaces.
fn quote_each(args: &[Value], quote: impl Fn(&str) -> String) -> String {
    args.iter().filter(|arg| **arg != Value::Nil).map(|arg| quote(&strval(arg))).collect::<Vec<_>>().join(" ")
}

/// `replace old new src`.
fn replace(call: &Call<'_>) -> Result<Value, Kind> {
    call.exactly(3)?;
    let (old, new, text) = (call.string(0)?, call.string(1)?, call.string(2)?);
    // Size the result before building it: a chain of replaces grows exponentially.
    let count = if old.is_empty() { text.chars().count() + 1 } else { text.matches(old).count() };
    let size = text.len().saturating_add(count.saturating_mul(new.len()));
    if size > super::MAX_VALUE_BYTES {
        return Err(Kind::TooLarge { limit: super::MAX_VALUE_BYTES });
    }
    Ok(Value::String(text.replace(old, new)))
}

/// `default fallback value`: `value` when it is not empty, else `fallback`.
fn default(call: &Call<'_>) -> Result<Value, Kind> {
    call.count(1..=usize::MAX, "at least 1")?;
    match call.args.get(1) {
        Some(value) if value.is_true() => Ok(value.clone()),
        _ => Ok(call.value(0).clone()),
    }
}

/// `ternary if_true if_false condition`.
fn ternary(call: &Call<'_>) -> Result<Value, Kind> {
    call.exactly(3)?;
    let chosen = if call.bool(2)? { 0 } else { 1 };
    Ok(call.value(chosen).clone())
}

/// `indent n text` and `nindent n text`.
fn indent(call: &Call<'_>, newline_first: bool) -> Result<Value, Kind> {
    call.exactly(2)?;
    let spaces = call.int(0)?;
    let text = call.string(1)?;
    let count = usize::try_from(spaces).ok().filter(|count| *count <= MAX_PADDING).ok_or_else(|| {
        Kind::InvalidArgument {
            function: call.name.to_string(),
            reason: format!("{spaces} is not a number of spaces between 0 and {MAX_PADDING}"),
        }
    })?;
    let padding = " ".repeat(count);
    let mut indented = if newline_first { "\n".to_string() } else { String::new() };
    indented.push_str(&padding);
    indented.push_str(&text.replace('\n', &format!("\n{padding}")));
    Ok(Value::String(indented))
}

/// Sprig's `toJson`: Go's `json.Marshal`, which escapes `<`, `>`, `&`, U+2028 and U+2029.
fn to_json(value: &Value) -> String {
    let mut json = String::new();
    write_json(value, &mut json);
    json
}

fn write_json(value: &Value, json: &mut String) {
    match value {
        Value::Nil => json.push_str("null"),
        Value::Bool(value) => json.push_str(&value.to_string()),
        Value::Int(value) => json.push_str(&value.to_string()),
        Value::Float(value) => json.push_str(&json_float(*value)),
        Value::String(text) => {
            json.push('"');
            for c in text.chars() {
                match c {
                    '"' => json.push_str("\\\""),
                    '\\' => json.push_str("\\\\"),
                    '\n' => json.push_str("\\n"),
                    '\r' => json.push_str("\\r"),
                    '\t' => json.push_str("\\t"),
                    '\x08' => json.push_str("\\b"),
                    '\x0c' => json.push_str("\\f"),
                    '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                        json.push_str(&format!("\\u{:04x}", u32::from(c)))
                    }
                    c if u32::from(c) < 0x20 => json.push_str(&format!("\\u{:04x}", u32::from(c))),
                    c => json.push(c),
                }
            }
            json.push('"');
        }
        Value::List(values) => {
            json.push('[');
            for (index, value) in values.iter().enumerate() {
                if index > 0 {
                    json.push(',');
                }
                write_json(value, json);
            }
            json.push(']');
        }
    }
}

/// A float the way Go's `encoding/json` writes it. Go fails on NaN and infinities, and
/// Sprig then returns ""; `null` keeps the document valid instead.
fn json_float(value: f64) -> String {
    if !value.is_finite() {
        return "null".to_string();
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let scientific = format!("{value:e}");
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let sign = if exponent.starts_with('-') { "-" } else { "+" };
        return format!("{mantissa}e{sign}{}", exponent.trim_start_matches('-'));
    }
    value.to_string()
}

// ---------------------------------------------------------------------------------------------
// Base64 (RFC 4648 standard alphabet, padded), as Go's `base64.StdEncoding`, on the `base64`
// crate.

/// Encodes `bytes` with padding.
pub(super) fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes padded base64, skipping `\r` and `\n` like Go; on failure, the byte offset of the
/// mistake (in the text without line breaks, which is where Go counts too for such input).
pub(super) fn base64_decode(text: &str) -> Result<Vec<u8>, usize> {
    use base64::{DecodeError, Engine as _};
    let compact: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    base64::engine::general_purpose::STANDARD.decode(&compact).map_err(|error| match error {
        DecodeError::InvalidByte(offset, _) | DecodeError::InvalidLastSymbol(offset, _) => offset,
        DecodeError::InvalidLength(_) | DecodeError::InvalidPadding => compact.len(),
    })
}

/// Bytes as text, invalid UTF-8 replaced (Go keeps the bytes; YAML could not hold them).
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
