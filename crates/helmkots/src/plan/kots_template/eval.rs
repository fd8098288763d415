//! The evaluator of one template pass: walks the parsed tree, runs pipelines and prints
//! values, with the semantics of Go's `text/template` (`exec.go`).
//!
//! A pipeline passes each command's value to the next as its *last* argument; `and` and `or`
//! evaluate their arguments lazily and return one of them; `if` takes the first branch whose
//! condition is true (false, 0, nil and empty strings or lists are false); variables
//! declared inside an `if` chain go out of scope at its `end`. Printed values follow Go's
//! `fmt`: strings as they are, `true`/`false`, decimal integers, nil as `<no value>`.
//!
//! The output records where each piece came from (copied text or an action's value), so that
//! errors of the next pass can be reported at a line of the original file.

use std::fmt;

use super::{
    functions::{self, Call},
    lexer::{self, Delimiters},
    parser::{self, Command, Node, Operand, OperandKind, Pipeline},
    Context, LineIndex, PassError, TemplateErrorKind as Kind,
};

/// A template value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// Go's nil, e.g. the data `.`, which KOTS leaves empty.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer (Go's `int` and `int64`).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    String(String),
    /// A list, e.g. from `Split`.
    List(Vec<Value>),
}

impl Value {
    /// Go's truth: false, 0, nil and empty strings or lists are false.
    pub(super) fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(value) => *value,
            Value::Int(value) => *value != 0,
            Value::Float(value) => *value != 0.0,
            Value::String(value) => !value.is_empty(),
            Value::List(values) => !values.is_empty(),
        }
    }

    /// The Go type name, for error messages and `printf`'s bad-verb output.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "[]string",
        }
    }
}

impl fmt::Display for Value {
    /// Go's `%v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("<nil>"),
            Value::Bool(value) => write!(f, "{value}"),
            Value::Int(value) => write!(f, "{value}"),
            Value::Float(value) => f.write_str(&functions::go_float(*value)),
            Value::String(value) => f.write_str(value),
            Value::List(values) => {
                f.write_str("[")?;
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{value}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// The output of a pass and where each piece of it came from.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Rendered {
    /// The text.
    pub(super) text: String,
    /// Pieces of `text`, in order.
    segments: Vec<Segment>,
}

/// A piece of a pass's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    /// Where the piece starts in the output.
    output: usize,
    /// Where its text (copied) or its action (printed) starts in the input.
    source: usize,
    /// Copied text, rather than a printed value.
    copied: bool,
}

impl Rendered {
    /// The line, in the input whose lines `lines` indexes, of byte `offset` of the output.
    pub(super) fn original_line(&self, offset: usize, lines: &LineIndex) -> usize {
        let index = self.segments.partition_point(|segment| segment.output <= offset);
        let Some(segment) = index.checked_sub(1).and_then(|index| self.segments.get(index)) else {
            return 1;
        };
        let line = lines.line_of(segment.source);
        if !segment.copied {
            return line;
        }
        let end = offset.min(self.text.len());
        let bytes = self.text.as_bytes().get(segment.output..end).unwrap_or_default();
        line + bytes.iter().filter(|byte| **byte == b'\n').count()
    }
}

/// Runs one pass over `input`.
pub(super) fn render_pass(input: &str, delimiters: Delimiters, ctx: &Context) -> Result<Rendered, PassError> {
    let tokens = lexer::lex(input, delimiters)?;
    let nodes = parser::parse(&tokens, input.len())?;
    let mut evaluator = Evaluator {
        ctx,
        input,
        variables: vec![("$".to_string(), Value::Nil)],
        output: Rendered { text: String::with_capacity(input.len()), segments: Vec::new() },
    };
    evaluator.nodes(&nodes)?;
    Ok(evaluator.output)
}

struct Evaluator<'a> {
    ctx: &'a Context,
    input: &'a str,
    /// Variables in scope, innermost last.
    variables: Vec<(String, Value)>,
    output: Rendered,
}

impl Evaluator<'_> {
    fn push(&mut self, text: &str, source: usize, copied: bool) {
        if text.is_empty() {
            return;
        }
        self.output.segments.push(Segment { output: self.output.text.len(), source, copied });
        self.output.text.push_str(text);
    }

    fn nodes(&mut self, nodes: &[Node]) -> Result<(), PassError> {
        for node in nodes {
            match node {
                Node::Text { start, end } => {
                    let text = self.input.get(*start..*end).unwrap_or_default();
                    self.push(text, *start, true);
                }
                Node::Action { offset, pipeline } => {
                    let value = self.pipeline(pipeline)?;
                    if pipeline.declaration.is_none() {
                        let text = match value {
                            Value::Nil => "<no value>".to_string(),
                            Value::String(text) => text,
                            value => value.to_string(),
                        };
                        self.push(&text, *offset, false);
                        if self.output.text.len() > super::MAX_OUTPUT_BYTES {
                            return Err(PassError::new(
                                *offset,
                                Kind::TooLarge { limit: super::MAX_OUTPUT_BYTES },
                            ));
                        }
                    }
                }
                Node::If { branches, otherwise } => {
                    let scope = self.variables.len();
                    let mut chosen = None;
                    for branch in branches {
                        if self.pipeline(&branch.condition)?.is_true() {
                            chosen = Some(&branch.body);
                            break;
                        }
                    }
                    if let Some(body) = chosen.or(otherwise.as_ref()) {
                        self.nodes(body)?;
                    }
                    self.variables.truncate(scope);
                }
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, pipeline: &Pipeline) -> Result<Value, PassError> {
        let mut value = None;
        for command in &pipeline.commands {
            value = Some(self.command(command, value.take())?);
        }
        let value = value.unwrap_or(Value::Nil);
        if let Some(declaration) = &pipeline.declaration {
            if declaration.declare {
                self.variables.push((declaration.variable.clone(), value.clone()));
            } else if let Some(slot) =
                self.variables.iter_mut().rev().find(|(name, _)| *name == declaration.variable)
            {
                slot.1 = value.clone();
            }
        }
        Ok(value)
    }

    /// Runs a command; `piped` is the previous command's value, if any.
    fn command(&mut self, command: &Command, piped: Option<Value>) -> Result<Value, PassError> {
        let Some((first, arguments)) = command.operands.split_first() else { return Ok(Value::Nil) };
        match &first.kind {
            OperandKind::Function(name) => self.call(name, first.offset, arguments, piped),
            OperandKind::Nil => Err(PassError::new(first.offset, Kind::NilCommand)),
            kind if !arguments.is_empty() || piped.is_some() => {
                Err(PassError::new(first.offset, Kind::NotAFunction { found: kind.describe() }))
            }
            _ => self.operand(first),
        }
    }

    fn operand(&mut self, operand: &Operand) -> Result<Value, PassError> {
        Ok(match &operand.kind {
            OperandKind::Function(name) => return self.call(name, operand.offset, &[], None),
            OperandKind::Variable(name) => self
                .variables
                .iter()
                .rev()
                .find(|(variable, _)| variable == name)
                .map_or(Value::Nil, |(_, value)| value.clone()),
            OperandKind::Data(_) | OperandKind::Nil => Value::Nil,
            OperandKind::Bool(value) => Value::Bool(*value),
            OperandKind::Int(value) => Value::Int(*value),
            OperandKind::Float(value) => Value::Float(*value),
            OperandKind::String(value) => Value::String(value.clone()),
            OperandKind::Pipeline(pipeline) => return self.pipeline(pipeline),
        })
    }

    /// Calls function `name` (at `offset`) with `arguments`, then `piped` as the last one.
    fn call(
        &mut self,
        name: &str,
        offset: usize,
        arguments: &[Operand],
        piped: Option<Value>,
    ) -> Result<Value, PassError> {
        if name == "and" || name == "or" {
            if arguments.is_empty() && piped.is_none() {
                let kind =
                    Kind::WrongArgCount { function: name.to_string(), expected: "at least 1", found: 0 };
                return Err(PassError::new(offset, kind));
            }
            // `and` stops at the first false argument, `or` at the first true one.
            let stop_when = name == "or";
            let mut last = Value::Nil;
            for argument in arguments {
                last = self.operand(argument)?;
                if last.is_true() == stop_when {
                    return Ok(last);
                }
            }
            return Ok(piped.unwrap_or(last));
        }
        let Some(function) = functions::lookup(name) else {
            return Err(PassError::new(offset, Kind::UnsupportedFunction { name: name.to_string() }));
        };
        let mut args = Vec::with_capacity(arguments.len() + 1);
        for argument in arguments {
            args.push(self.operand(argument)?);
        }
        args.extend(piped);
        let value =
            function(&Call { ctx: self.ctx, name, args }).map_err(|kind| PassError::new(offset, kind))?;
        match &value {
            Value::String(text) if text.len() > super::MAX_VALUE_BYTES => {
                Err(PassError::new(offset, Kind::TooLarge { limit: super::MAX_VALUE_BYTES }))
            }
            _ => Ok(value),
        }
    }
}
