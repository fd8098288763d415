//! The parser of one template pass: tokens → a tree of text, actions and `if` chains.
//!
//! It follows Go's `text/template/parse` for the subset KOTS templates use: pipelines of
//! commands, parenthesised pipelines, variables declared with `:=` (scoped to the enclosing
//! `if` chain, else to the file) and assigned with `=`, `if` / `else if` / `else` / `end`.
//! Like Go, it refuses unknown functions and undefined variables in every branch, taken or
//! not, so a typo in a branch the preview does not take still fails the build.

use super::{
    functions,
    lexer::{Token, TokenKind},
    PassError, TemplateErrorKind as Kind, MAX_DEPTH,
};

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// Text copied verbatim: the byte range in the pass's input.
    Text { start: usize, end: usize },
    /// An action that prints its pipeline's value (unless the pipeline declares a variable).
    Action { offset: usize, pipeline: Pipeline },
    /// `if` / `else if` ... / `else` / `end`: the first branch whose condition is true runs.
    If { branches: Vec<Branch>, otherwise: Option<Vec<Node>> },
}

/// One `if` or `else if` branch.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Branch {
    /// The condition.
    pub(super) condition: Pipeline,
    /// What runs when the condition is true.
    pub(super) body: Vec<Node>,
}

/// Commands joined by `|`, optionally stored in a variable.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pipeline {
    /// `$x :=` or `$x =`.
    pub(super) declaration: Option<Declaration>,
    /// The commands; never empty.
    pub(super) commands: Vec<Command>,
}

/// The variable a pipeline's value goes to.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Declaration {
    /// The variable, with its `$`.
    pub(super) variable: String,
    /// `:=` (a new variable) rather than `=` (an existing one).
    pub(super) declare: bool,
}

/// A function call or a single value: operands separated by spaces; never empty.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Command {
    /// The function (or value) first, then its arguments.
    pub(super) operands: Vec<Operand>,
}

/// One operand and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Operand {
    /// Byte offset in the pass's input.
    pub(super) offset: usize,
    /// What it is.
    pub(super) kind: OperandKind,
}

/// The kinds of operands.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum OperandKind {
    /// A function: called with the rest of the command as arguments when first, else with none.
    Function(String),
    /// A variable, with its `$`.
    Variable(String),
    /// `.` or a field chain like `.Values.x`; KOTS renders with no data, so these are nil.
    Data(String),
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer or a character constant.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    String(String),
    /// `( pipeline )`.
    Pipeline(Box<Pipeline>),
}

impl OperandKind {
    /// The operand as it would be written, for error messages.
    pub(super) fn describe(&self) -> String {
        match self {
            OperandKind::Function(name) | OperandKind::Variable(name) | OperandKind::Data(name) => {
                name.clone()
            }
            OperandKind::Nil => "nil".to_string(),
            OperandKind::Bool(value) => value.to_string(),
            OperandKind::Int(value) => value.to_string(),
            OperandKind::Float(value) => value.to_string(),
            OperandKind::String(value) => format!("{value:?}"),
            OperandKind::Pipeline(_) => "(...)".to_string(),
        }
    }
}

/// Keywords of Go templates that this evaluator does not implement.
const UNSUPPORTED_ACTIONS: [&str; 7] = ["range", "with", "define", "template", "block", "break", "continue"];

/// Parses the tokens of one pass.
pub(super) fn parse(tokens: &[Token], input_length: usize) -> Result<Vec<Node>, PassError> {
    let mut parser = Parser { tokens, pos: 0, variables: vec!["$".to_string()], depth: 0, input_length };
    let (nodes, stop) = parser.list()?;
    match stop {
        Stop::Eof => Ok(nodes),
        Stop::Else { offset } | Stop::ElseIf { offset } => {
            Err(PassError::new(offset, Kind::UnexpectedKeyword { keyword: "else".to_string() }))
        }
        Stop::End { offset } => {
            Err(PassError::new(offset, Kind::UnexpectedKeyword { keyword: "end".to_string() }))
        }
    }
}

/// What ended a list of nodes.
enum Stop {
    Eof,
    Else { offset: usize },
    ElseIf { offset: usize },
    End { offset: usize },
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    /// The variables in scope, innermost last.
    variables: Vec<String>,
    /// The current nesting of `if` chains and parentheses.
    depth: usize,
    input_length: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a TokenKind> {
        self.tokens.get(self.pos).map(|token| &token.kind)
    }

    fn next(&mut self) -> Option<&'a Token> {
        let token = self.tokens.get(self.pos)?;
        self.pos += 1;
        Some(token)
    }

    /// The offset of the next token (the end of the input when there is none).
    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.input_length, |token| token.offset)
    }

    fn enter(&mut self, offset: usize) -> Result<(), PassError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PassError::new(offset, Kind::TooDeep));
        }
        Ok(())
    }

    /// Consumes the token that ends an action, or fails on what is there instead.
    fn close(&mut self, place: &'static str) -> Result<(), PassError> {
        let offset = self.offset();
        match self.next() {
            Some(Token { kind: TokenKind::Close, .. }) => Ok(()),
            Some(token) => {
                Err(PassError::new(offset, Kind::UnexpectedToken { found: describe(&token.kind), place }))
            }
            None => Err(PassError::new(
                offset,
                Kind::UnexpectedToken { found: "end of input".to_string(), place },
            )),
        }
    }

    /// Nodes up to the end of the input, an `else` or an `end`.
    fn list(&mut self) -> Result<(Vec<Node>, Stop), PassError> {
        let mut nodes = Vec::new();
        loop {
            let Some(token) = self.next() else { return Ok((nodes, Stop::Eof)) };
            let offset = token.offset;
            match &token.kind {
                TokenKind::Text { start, end } => nodes.push(Node::Text { start: *start, end: *end }),
                TokenKind::Open => {
                    let keyword = match self.peek() {
                        Some(TokenKind::Identifier(word)) => word.as_str(),
                        _ => "",
                    };
                    match keyword {
                        "if" => {
                            self.pos += 1;
                            nodes.push(self.if_chain(offset)?);
                        }
                        "else" => {
                            self.pos += 1;
                            if matches!(self.peek(), Some(TokenKind::Identifier(word)) if word == "if") {
                                self.pos += 1;
                                return Ok((nodes, Stop::ElseIf { offset }));
                            }
                            self.close("else")?;
                            return Ok((nodes, Stop::Else { offset }));
                        }
                        "end" => {
                            self.pos += 1;
                            self.close("end")?;
                            return Ok((nodes, Stop::End { offset }));
                        }
                        keyword if UNSUPPORTED_ACTIONS.contains(&keyword) => {
                            let offset = self.offset();
                            return Err(PassError::new(
                                offset,
                                Kind::UnsupportedAction { keyword: keyword.to_string() },
                            ));
                        }
                        _ => {
                            let pipeline = self.pipeline("command")?;
                            self.close("action")?;
                            nodes.push(Node::Action { offset, pipeline });
                        }
                    }
                }
                other => {
                    return Err(PassError::new(
                        offset,
                        Kind::UnexpectedToken { found: describe(other), place: "text" },
                    ))
                }
            }
        }
    }

    /// An `if` chain whose `if` keyword has been read; `offset` is its action's.
    fn if_chain(&mut self, offset: usize) -> Result<Node, PassError> {
        self.enter(offset)?;
        let scope = self.variables.len();
        let mut branches = Vec::new();
        let mut condition = self.pipeline("if")?;
        self.close("if")?;
        let otherwise = loop {
            let (body, stop) = self.list()?;
            branches.push(Branch { condition, body });
            match stop {
                Stop::End { .. } => break None,
                Stop::ElseIf { .. } => {
                    condition = self.pipeline("if")?;
                    self.close("if")?;
                }
                Stop::Else { .. } => {
                    let (body, stop) = self.list()?;
                    match stop {
                        Stop::End { .. } => break Some(body),
                        Stop::Eof => return Err(PassError::new(offset, Kind::UnclosedIf)),
                        Stop::Else { offset } | Stop::ElseIf { offset } => {
                            return Err(PassError::new(
                                offset,
                                Kind::UnexpectedKeyword { keyword: "else".to_string() },
                            ))
                        }
                    }
                }
                Stop::Eof => return Err(PassError::new(offset, Kind::UnclosedIf)),
            }
        };
        self.variables.truncate(scope);
        self.depth -= 1;
        Ok(Node::If { branches, otherwise })
    }

    /// A pipeline, up to the `}}` or `)` that ends it (not consumed).
    fn pipeline(&mut self, place: &'static str) -> Result<Pipeline, PassError> {
        let mut declaration = None;
        if let (Some(TokenKind::Variable(variable)), Some(TokenKind::Declare | TokenKind::Assign)) =
            (self.peek(), self.tokens.get(self.pos + 1).map(|token| &token.kind))
        {
            let declare = self.tokens.get(self.pos + 1).map(|t| &t.kind) == Some(&TokenKind::Declare);
            if !declare && !self.variables.contains(variable) {
                return Err(PassError::new(
                    self.offset(),
                    Kind::UndefinedVariable { name: variable.clone() },
                ));
            }
            declaration = Some(Declaration { variable: variable.clone(), declare });
            self.pos += 2;
        }
        let mut commands: Vec<Command> = Vec::new();
        loop {
            let offset = self.offset();
            let command = self.command()?;
            let Some(first) = command.operands.first() else {
                let place = if commands.is_empty() { place } else { "command" };
                return Err(PassError::new(offset, Kind::MissingValue { place }));
            };
            if !commands.is_empty() && !matches!(first.kind, OperandKind::Function(_)) {
                return Err(PassError::new(
                    first.offset,
                    Kind::NotAFunction { found: first.kind.describe() },
                ));
            }
            commands.push(command);
            if self.peek() != Some(&TokenKind::Pipe) {
                break;
            }
            self.pos += 1;
        }
        if let Some(Declaration { variable, declare: true }) = &declaration {
            self.variables.push(variable.clone());
        }
        Ok(Pipeline { declaration, commands })
    }

    /// Operands up to a `|`, `)` or `}}`.
    fn command(&mut self) -> Result<Command, PassError> {
        let mut operands = Vec::new();
        while !matches!(self.peek(), None | Some(TokenKind::Pipe | TokenKind::Close | TokenKind::RightParen))
        {
            operands.push(self.operand()?);
        }
        Ok(Command { operands })
    }

    fn operand(&mut self) -> Result<Operand, PassError> {
        let offset = self.offset();
        let Some(token) = self.next() else {
            return Err(PassError::new(offset, Kind::MissingValue { place: "command" }));
        };
        let unexpected =
            |found: String| PassError::new(offset, Kind::UnexpectedToken { found, place: "command" });
        let kind = match &token.kind {
            TokenKind::Identifier(word) => match word.as_str() {
                "true" => OperandKind::Bool(true),
                "false" => OperandKind::Bool(false),
                "nil" => OperandKind::Nil,
                "if" | "else" | "end" => return Err(unexpected(word.clone())),
                keyword if UNSUPPORTED_ACTIONS.contains(&keyword) => return Err(unexpected(word.clone())),
                name if functions::is_defined(name) => OperandKind::Function(name.to_string()),
                name => {
                    return Err(PassError::new(offset, Kind::UnsupportedFunction { name: name.to_string() }))
                }
            },
            TokenKind::Variable(name) => {
                if !self.variables.contains(name) {
                    return Err(PassError::new(offset, Kind::UndefinedVariable { name: name.clone() }));
                }
                OperandKind::Variable(name.clone())
            }
            TokenKind::Field(name) => OperandKind::Data(name.clone()),
            TokenKind::Dot => OperandKind::Data(".".to_string()),
            TokenKind::String(value) => OperandKind::String(value.clone()),
            TokenKind::Int(value) => OperandKind::Int(*value),
            TokenKind::Float(value) => OperandKind::Float(*value),
            TokenKind::LeftParen => {
                self.enter(offset)?;
                let pipeline = self.pipeline("parenthesized pipeline")?;
                let close = self.offset();
                match self.next() {
                    Some(Token { kind: TokenKind::RightParen, .. }) => {}
                    Some(token) => {
                        return Err(PassError::new(
                            close,
                            Kind::UnexpectedToken {
                                found: describe(&token.kind),
                                place: "parenthesized pipeline",
                            },
                        ))
                    }
                    None => return Err(PassError::new(close, Kind::UnbalancedParens)),
                }
                self.depth -= 1;
                OperandKind::Pipeline(Box::new(pipeline))
            }
            other => return Err(unexpected(describe(other))),
        };
        Ok(Operand { offset, kind })
    }
}

/// A token as it would be written, for error messages.
fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Text { .. } => "text".to_string(),
        TokenKind::Open => "opening delimiter".to_string(),
        TokenKind::Close => "}}".to_string(),
        TokenKind::Identifier(text) | TokenKind::Field(text) | TokenKind::Variable(text) => text.clone(),
        TokenKind::Dot => ".".to_string(),
        TokenKind::String(value) => format!("{value:?}"),
        TokenKind::Int(value) => value.to_string(),
        TokenKind::Float(value) => value.to_string(),
        TokenKind::Pipe => "|".to_string(),
        TokenKind::LeftParen => "(".to_string(),
        TokenKind::RightParen => ")".to_string(),
        TokenKind::Declare => ":=".to_string(),
        TokenKind::Assign => "=".to_string(),
        TokenKind::Comma => ",".to_string(),
    }
}
