//! A span-aware YAML reader: turns a config file into a small tree that remembers the line of
//! every key, so errors and `config show` can name `file:line`.
//!
//! yaml-rust2's `Yaml` type drops positions; its event parser keeps them, so the tree is built
//! from marked events here.

use std::collections::HashMap;

use yaml_rust2::parser::{MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::{Event, ScanError};

/// One YAML node with the position where it starts (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar as written. `plain` is false for quoted and block scalars, which are always strings.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order; keys are scalars, with their own position.
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub line: usize,
    pub col: usize,
    pub value: Node,
}

/// Why a file could not be read as a config tree. Lines and columns are 1-based.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl From<ScanError> for SyntaxError {
    fn from(e: ScanError) -> Self {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Self { line: e.marker().line(), col: e.marker().col() + 1, message: e.info().to_string() }
    }
}

impl Node {
    /// True for `~`, `null` and an empty plain value (`key:` with nothing after it).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What a user would call this node, for "found ..." in error messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            _ if self.is_null() => "an empty value".to_string(),
            Kind::Scalar { text, plain: true } => format!("`{}`", text.escape_debug()),
            Kind::Scalar { text, plain: false } => {
                format!("the string \"{}\"", text.escape_debug())
            }
            Kind::Seq(_) => "a list".to_string(),
            Kind::Map(_) => "a mapping".to_string(),
        }
    }
}

/// Parse one YAML document. `None` for a file with no document (empty, or only comments).
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut sink = Sink::default();
    Parser::new_from_str(text).load(&mut sink, true)?;
    let mut builder = Builder { events: sink.events.into_iter().peekable(), anchors: HashMap::new() };
    let mut root = None;
    let mut documents = 0;
    while let Some((event, mark)) = builder.events.next() {
        match event {
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError {
                        line: mark.line(),
                        col: mark.col() + 1,
                        message: "a config file holds one YAML document; remove the second `---`".into(),
                    });
                }
                let (event, mark) = builder.next_event(mark)?;
                root = Some(builder.node(event, mark)?);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            other => return Err(unexpected(&other, mark)),
        }
    }
    // A document holding only `~` is as empty as no document.
    Ok(root.filter(|n| !n.is_null()))
}

#[derive(Default)]
struct Sink {
    events: Vec<(Event, Marker)>,
}

impl MarkedEventReceiver for Sink {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        self.events.push((ev, mark));
    }
}

struct Builder {
    events: std::iter::Peekable<std::vec::IntoIter<(Event, Marker)>>,
    anchors: HashMap<usize, Node>,
}

fn unexpected(event: &Event, mark: Marker) -> SyntaxError {
    SyntaxError { line: mark.line(), col: mark.col() + 1, message: format!("unexpected YAML event {event:?}") }
}

impl Builder {
    fn next_event(&mut self, last: Marker) -> Result<(Event, Marker), SyntaxError> {
        self.events.next().ok_or(SyntaxError {
            line: last.line(),
            col: last.col() + 1,
            message: "the document ends in the middle of a value".into(),
        })
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn node(&mut self, event: Event, mark: Marker) -> Result<Node, SyntaxError> {
        let (line, col) = (mark.line(), mark.col() + 1);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Node { kind: Kind::Scalar { text, plain: style == TScalarStyle::Plain }, line, col };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::Alias(anchor) => self.anchors.get(&anchor).cloned().ok_or(SyntaxError {
                line,
                col,
                message: "an alias names an anchor that is not defined before it".into(),
            }),
            Event::SequenceStart(anchor, _tag) => {
                let mut items = Vec::new();
                loop {
                    let (event, mark) = self.next_event(mark)?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(event, mark)?);
                }
                let node = Node { kind: Kind::Seq(items), line, col };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, _tag) => {
                let mut entries: Vec<Entry> = Vec::new();
                loop {
                    let (event, kmark) = self.next_event(mark)?;
                    if event == Event::MappingEnd {
                        break;
                    }
                    let key = self.node(event, kmark)?;
                    let Kind::Scalar { text: key_text, .. } = key.kind else {
                        return Err(SyntaxError {
                            line: key.line,
                            col: key.col,
                            message: "a key must be a plain name, not a list or mapping".into(),
                        });
                    };
                    if let Some(first) = entries.iter().find(|e| e.key == key_text) {
                        return Err(SyntaxError {
                            line: key.line,
                            col: key.col,
                            message: format!(
                                "duplicate key `{}` (first given on line {})",
                                key_text.escape_debug(),
                                first.line
                            ),
                        });
                    }
                    let (event, vmark) = self.next_event(kmark)?;
                    let value = self.node(event, vmark)?;
                    entries.push(Entry { key: key_text, line: key.line, col: key.col, value });
                }
                let node = Node { kind: Kind::Map(entries), line, col };
                self.remember(anchor, &node);
                Ok(node)
            }
            other => Err(unexpected(&other, mark)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn map(node: &Node) -> &[Entry] {
        match &node.kind {
            Kind::Map(entries) => entries,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn keys_carry_their_lines() {
        let root = parse("# comment\napi:\n  rate_limit: 0.5\n  regions: [gb, ire]\n").unwrap().unwrap();
        let top = map(&root);
        assert_eq!((top[0].key.as_str(), top[0].line, top[0].col), ("api", 2, 1));
        let api = map(&top[0].value);
        assert_eq!((api[0].key.as_str(), api[0].line, api[0].col), ("rate_limit", 3, 3));
        assert_eq!(api[0].value.kind, Kind::Scalar { text: "0.5".into(), plain: true });
        assert_eq!(api[1].line, 4);
        assert!(matches!(&api[1].value.kind, Kind::Seq(items) if items.len() == 2));
    }

    #[test]
    fn quoted_scalars_are_not_plain() {
        let root = parse("a: '123'\nb: 123\nc:\n").unwrap().unwrap();
        let top = map(&root);
        assert_eq!(top[0].value.kind, Kind::Scalar { text: "123".into(), plain: false });
        assert_eq!(top[1].value.kind, Kind::Scalar { text: "123".into(), plain: true });
        assert!(top[2].value.is_null());
    }

    #[test]
    fn empty_and_comment_only_files_have_no_document() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# nothing here\n").unwrap(), None);
        assert_eq!(parse("~\n").unwrap(), None);
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let e = parse("api:\n  rate_limit: [1, 2\nother: 3\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
        let e = parse("a: 1\n b: 2\n").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        let e = parse("a: \"unterminated\n").unwrap_err();
        assert!(e.line >= 1 && e.col >= 1, "{e:?}");
    }

    #[test]
    fn duplicate_keys_and_second_documents_are_errors() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("duplicate key `a`"), "{e:?}");
        let e = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn aliases_resolve_to_their_anchor() {
        let root = parse("a: &x [1, 2]\nb: *x\n").unwrap().unwrap();
        let top = map(&root);
        assert!(matches!(&top[1].value.kind, Kind::Seq(items) if items.len() == 2));
    }
}
