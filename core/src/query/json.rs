//! Reading the JSON form by hand.
//!
//! serde's derive for these externally tagged and untagged enums instantiated
//! visitors per deserializer plus `Content` buffering: about half of the wasm
//! build. Here every type has one conversion from a parsed [`Node`] tree (see
//! [`crate::json_text`] for the text), and each `Deserialize` impl parses a
//! tree and converts it. The accepted form is exactly the one the derive
//! accepted, quirks included (a struct may be a positional array; keys beside
//! a query's body are ignored), so definitions that parsed before still parse.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use crate::json_text::Node;

use super::expr::{Agg, AggFunc, Case, Cast, Expr, Extract, Func, JsonGet, When};
use super::filter::{
    Between, ColumnKey, ColumnValue, Compare, Filter, Has, InList, Pattern, TextSearch,
};
use super::mutate::{
    ConflictAction, Delete, Insert, InsertSelect, InsertSource, OnConflict, Update,
};
use super::select::{
    Cte, Direction, Include, Join, JoinKind, Lock, LockStrength, LockWait, Nulls, OrderBy, Select,
    SelectItem, SetOp, SetQuery,
};
use super::{Query, QueryBody, Raw, RawParam, RowShape};
use crate::types::PgType;

/// Why a definition does not match the format, and where in it: a key path
/// (`select.where.and[1]`) or, for text that is not JSON, `line 1 column 5`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", if path.is_empty() { String::new() } else { format!(" at {path}") })]
pub struct FormatError {
    pub message: String,
    pub path: String,
}

impl FormatError {
    #[cold]
    #[inline(never)]
    pub(crate) fn new(message: impl Into<String>) -> Error {
        Box::new(FormatError {
            message: message.into(),
            path: String::new(),
        })
    }

    pub(crate) fn in_key(mut self: Box<Self>, key: &str) -> Error {
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, key);
        self
    }

    pub(crate) fn in_index(mut self: Box<Self>, index: usize) -> Error {
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, &format!("[{index}]"));
        self
    }
}

/// Boxed inside the readers: a pointer instead of two `String`s makes every
/// `Result` they pass up smaller, and so every move and check of one.
pub(crate) type Error = Box<FormatError>;
pub(crate) type R<T> = Result<T, Error>;

impl Node {
    /// serde's wording for a value of the wrong type.
    fn unexpected(&self) -> String {
        match self {
            Node::Null => "null".into(),
            Node::Bool(b) => format!("boolean `{b}`"),
            Node::PosInt(u) => format!("integer `{u}`"),
            Node::NegInt(i) => format!("integer `{i}`"),
            // serde_json's float formatting, as in the `Number` it would hold.
            Node::Float(f) => format!(
                "floating point `{}`",
                Number::from_f64(*f)
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ),
            Node::String(s) => format!("string {s:?}"),
            Node::Array(_) => "sequence".into(),
            Node::Object(_) => "map".into(),
        }
    }

    pub(crate) fn invalid(&self, expected: &str) -> Error {
        FormatError::new(format!(
            "invalid type: {}, expected {expected}",
            self.unexpected()
        ))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(match u64::try_from(v) {
            Ok(u) => Node::PosInt(u),
            Err(_) => Node::NegInt(v),
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::PosInt(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        if v.is_finite() {
            Ok(Node::Float(v))
        } else {
            Err(E::custom("a number must be finite"))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut pairs = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            pairs.push((key, value));
        }
        Ok(Node::Object(pairs))
    }
}

/// serde's "expected ..." list of names: `` `a` ``, `` `a` or `b` ``,
/// `` one of `a`, `b`, `c` ``.
fn one_of(names: &[&str]) -> String {
    let mut out = String::new();
    if names.len() > 2 {
        out.push_str("one of ");
    }
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(if names.len() == 2 { " or " } else { ", " });
        }
        out.push('`');
        out.push_str(name);
        out.push('`');
    }
    if names.is_empty() {
        out.push_str("nothing");
    }
    out
}

#[cold]
#[inline(never)]
fn duplicate_field(key: &str) -> Error {
    FormatError::new(format!("duplicate field `{key}`"))
}

pub(crate) fn string(n: Node) -> R<String> {
    match n {
        Node::String(s) => Ok(s),
        other => Err(other.invalid("a string")),
    }
}

pub(crate) fn boolean(n: Node) -> R<bool> {
    match n {
        Node::Bool(b) => Ok(b),
        other => Err(other.invalid("a boolean")),
    }
}

fn unsigned(n: Node, ty: &str, max: u64) -> R<u64> {
    let num = match n {
        Node::PosInt(v) if v <= max => return Ok(v),
        Node::PosInt(v) => v.to_string(),
        Node::NegInt(v) => v.to_string(),
        other => return Err(other.invalid(ty)),
    };
    Err(FormatError::new(format!(
        "invalid value: integer `{num}`, expected {ty}"
    )))
}

fn u64_(n: Node) -> R<u64> {
    unsigned(n, "u64", u64::MAX)
}

fn u32_(n: Node) -> R<u32> {
    unsigned(n, "u32", u64::from(u32::MAX)).map(|v| v as u32)
}

fn value(n: Node) -> R<Value> {
    Ok(n.into_value())
}

pub(crate) fn list<T>(n: Node, item: fn(Node) -> R<T>) -> R<Vec<T>> {
    let mut out = Vec::new();
    each_item(n, &mut |n| item(n).map(|v| out.push(v)))?;
    Ok(out)
}

/// The loop of [`list`], shared by every element type.
fn each_item(n: Node, item: &mut dyn FnMut(Node) -> R<()>) -> R<()> {
    let Node::Array(items) = n else {
        return Err(n.invalid("a sequence"));
    };
    for (i, n) in items.into_iter().enumerate() {
        item(n).map_err(|e| e.in_index(i))?;
    }
    Ok(())
}

pub(crate) fn strings(n: Node) -> R<Vec<String>> {
    list(n, string)
}

/// A JSON object as a map; a repeated key keeps its last value, as a
/// `BTreeMap`'s `Deserialize` does.
fn map<T>(n: Node, item: fn(Node) -> R<T>) -> R<BTreeMap<String, T>> {
    let mut out = BTreeMap::new();
    each_entry(n, &mut |k, v| match item(v) {
        Ok(v) => {
            out.insert(k, v);
            Ok(())
        }
        Err(e) => Err(e.in_key(&k)),
    })?;
    Ok(out)
}

/// The loop of [`map`], shared by every value type.
fn each_entry(n: Node, entry: &mut dyn FnMut(String, Node) -> R<()>) -> R<()> {
    let Node::Object(pairs) = n else {
        return Err(n.invalid("a map"));
    };
    for (k, v) in pairs {
        entry(k, v)?;
    }
    Ok(())
}

/// An externally tagged enum's tag and content: `{"tag": content}`, or a
/// bare `"tag"` without content.
fn tag_and_content(n: Node) -> R<(String, Option<Node>)> {
    match n {
        Node::String(tag) => Ok((tag, None)),
        Node::Object(mut pairs) => match (pairs.pop(), pairs.is_empty()) {
            (Some((tag, content)), true) => Ok((tag, Some(content))),
            _ => Err(FormatError::new(
                "invalid value: map, expected map with a single key",
            )),
        },
        other => Err(other.invalid("string or map")),
    }
}

fn variant_index(name: &str, names: &[&str]) -> R<usize> {
    names
        .iter()
        .position(|n| *n == name)
        .ok_or_else(|| unknown_variant(name, names))
}

/// A unit-only enum: `"name"`, or `{"name": null}` as serde also accepts.
pub(crate) fn unit_variant(n: Node, names: &[&str]) -> R<usize> {
    let (name, content) = tag_and_content(n)?;
    if let Some(value) = content.filter(|v| !matches!(v, Node::Null)) {
        return Err(value.invalid("unit"));
    }
    variant_index(&name, names)
}

fn unknown_variant(name: &str, names: &[&str]) -> Error {
    FormatError::new(format!(
        "unknown variant `{name}`, expected {}",
        one_of(names)
    ))
}

/// An externally tagged enum with data: `{"tag": content}`. A bare string
/// names a variant without its content, which only unit variants allow.
fn tagged(n: Node, names: &[&str], unit: &[&str]) -> R<(usize, Option<Node>)> {
    let (tag, content) = tag_and_content(n)?;
    let i = variant_index(&tag, names)?;
    if content.is_none() && !unit.iter().any(|u| *u == tag) {
        return Err(
            FormatError::new(format!("`{tag}` needs a value: {{\"{tag}\": ...}}")).in_key(&tag),
        );
    }
    Ok((i, content))
}

/// A struct's fields, by their index in `names`, read in declaration order.
/// Reading stops at the first error, as with the derive; the error is kept
/// here and [`Fields::done`] returns it, so a reader builds its struct
/// without an early return (and its drop code) after every field.
pub(crate) struct Fields {
    expecting: &'static str,
    names: &'static [&'static str],
    slots: Vec<Option<Node>>,
    /// Whether the struct was written positionally, as an array.
    positional: bool,
    error: Option<Error>,
}

/// A struct: an object (unknown keys rejected when `deny_unknown`) or, as
/// serde's derive also accepts, an array of the fields in declaration order.
/// An error here is kept like a field's, so readers need no check of their own.
pub(crate) fn fields(
    n: Node,
    expecting: &'static str,
    names: &'static [&'static str],
    deny_unknown: bool,
    allow_array: bool,
) -> Fields {
    let mut f = Fields::new(expecting, names);
    if let Err(e) = f.fill(n, deny_unknown, allow_array) {
        f.error = Some(e);
    }
    f
}

/// A struct with a flattened externally tagged enum, as the derive reads
/// one: an object only, whose keys are the struct's `names` or the enum's
/// `tags`. The first tag present is the enum, with its content; a later tag
/// or an unknown key is ignored, or an error when `strict`.
fn flattened(
    n: Node,
    expecting: &'static str,
    names: &'static [&'static str],
    tags: &[&str],
    strict: bool,
) -> R<(Fields, Option<(usize, Node)>)> {
    let Node::Object(pairs) = n else {
        return Err(n.invalid(expecting));
    };
    let mut f = Fields::new(expecting, names);
    let mut tagged = None;
    for (key, value) in pairs {
        match names.iter().position(|n| *n == key) {
            Some(i) => match f.slots.get_mut(i) {
                Some(Some(_)) => return Err(duplicate_field(&key)),
                Some(slot) => *slot = Some(value),
                None => {}
            },
            None => match tags.iter().position(|t| *t == key) {
                Some(i) if tagged.is_none() => tagged = Some((i, value)),
                _ if strict => return Err(FormatError::new(format!("unknown field `{key}`"))),
                _ => {}
            },
        }
    }
    Ok((f, tagged))
}

/// How a field may be absent: see [`Fields::required`], [`Fields::or_default`]
/// and [`Fields::optional`].
#[derive(Clone, Copy, PartialEq)]
enum Absent {
    Refused,
    Default,
    OrNull,
}

impl Fields {
    fn new(expecting: &'static str, names: &'static [&'static str]) -> Fields {
        Fields {
            expecting,
            names,
            slots: names.iter().map(|_| None).collect(),
            positional: false,
            error: None,
        }
    }

    fn fill(&mut self, n: Node, deny_unknown: bool, allow_array: bool) -> R<()> {
        match n {
            Node::Object(pairs) => {
                for (key, value) in pairs {
                    match self.names.iter().position(|n| *n == key) {
                        Some(i) => match self.slots.get_mut(i) {
                            Some(Some(_)) => return Err(duplicate_field(&key)),
                            Some(slot) => *slot = Some(value),
                            None => {}
                        },
                        None if deny_unknown => {
                            return Err(FormatError::new(format!(
                                "unknown field `{key}`, expected {}",
                                one_of(self.names)
                            )))
                        }
                        None => {}
                    }
                }
            }
            Node::Array(items) if allow_array => {
                if items.len() > self.names.len() {
                    return Err(FormatError::new(format!(
                        "invalid length {}, expected {} elements in sequence",
                        items.len(),
                        self.names.len()
                    )));
                }
                self.positional = true;
                for (slot, item) in self.slots.iter_mut().zip(items) {
                    *slot = Some(item);
                }
            }
            other => return Err(other.invalid(self.expecting)),
        }
        Ok(())
    }

    /// Field `i`, or `None` once an error is kept; a missing field that
    /// must be there is that error.
    fn node(&mut self, i: usize, absent: Absent) -> Option<Node> {
        if self.error.is_some() {
            return None;
        }
        let node = self.slots.get_mut(i).and_then(Option::take);
        match node {
            None if absent == Absent::Refused => {
                self.error = Some(self.missing(i));
                None
            }
            Some(Node::Null) if absent == Absent::OrNull => None,
            node => node,
        }
    }

    #[cold]
    #[inline(never)]
    fn missing(&self, i: usize) -> Error {
        FormatError::new(if self.positional {
            // The derive counts the missing element by its field's index.
            format!(
                "invalid length {i}, expected {} with {} elements",
                self.expecting,
                self.names.len()
            )
        } else {
            format!(
                "missing field `{}`",
                self.names.get(i).copied().unwrap_or_default()
            )
        })
    }

    #[cold]
    #[inline(never)]
    fn fail(&mut self, i: usize, e: Error) {
        self.error = Some(e.in_key(self.names.get(i).copied().unwrap_or_default()));
    }

    /// The one copy per field type; the three ways to call it differ only
    /// in the non-generic [`Fields::node`].
    #[inline(never)]
    fn read<T>(&mut self, i: usize, absent: Absent, f: fn(Node) -> R<T>) -> Option<T> {
        // Opaque, so LLVM does not fold each type's only `f` into its copy:
        // copies for types of one layout (every `Vec`) then stay identical,
        // and wasm-opt merges them.
        let f = std::hint::black_box(f);
        match f(self.node(i, absent)?) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(i, e);
                None
            }
        }
    }

    pub(crate) fn required<T>(&mut self, i: usize, f: fn(Node) -> R<T>) -> Option<T> {
        self.read(i, Absent::Refused, f)
    }

    /// A field with `#[serde(default)]`: absent means the default, but
    /// `null` is only accepted where the type is an `Option`.
    pub(crate) fn or_default<T: Default>(&mut self, i: usize, f: fn(Node) -> R<T>) -> T {
        self.read(i, Absent::Default, f).unwrap_or_default()
    }

    pub(crate) fn optional<T>(&mut self, i: usize, f: fn(Node) -> R<T>) -> Option<T> {
        self.read(i, Absent::OrNull, f)
    }

    /// The struct read, or the first error reading its fields.
    pub(crate) fn done<T>(self, value: T) -> R<T> {
        match self.error {
            None => Ok(value),
            Some(e) => Err(e),
        }
    }

    /// The error kept, for a reader that lacks a field it cannot default.
    pub(crate) fn error(self) -> Error {
        self.error
            .unwrap_or_else(|| FormatError::new(format!("invalid {}", self.expecting)))
    }
}

/// Named conversions for lists, maps and boxes, so the generic helpers are
/// instantiated once per element type rather than once per call site.
fn exprs(n: Node) -> R<Vec<Expr>> {
    list(n, expr)
}
fn filters(n: Node) -> R<Vec<Filter>> {
    list(n, filter)
}
fn values(n: Node) -> R<Vec<Value>> {
    list(n, value)
}
fn order_bys(n: Node) -> R<Vec<OrderBy>> {
    list(n, order_by)
}
fn includes(n: Node) -> R<Vec<Include>> {
    list(n, include)
}
fn select_items(n: Node) -> R<Vec<SelectItem>> {
    list(n, select_item)
}
fn selects(n: Node) -> R<Vec<Select>> {
    list(n, select)
}
fn assignments(n: Node) -> R<BTreeMap<String, Expr>> {
    map(n, expr)
}
fn row(n: Node) -> R<BTreeMap<String, Value>> {
    map(n, value)
}
fn raw_params(n: Node) -> R<Vec<RawParam>> {
    list(n, raw_param)
}
fn whens(n: Node) -> R<Vec<When>> {
    list(n, when)
}
fn ctes(n: Node) -> R<Vec<Cte>> {
    list(n, cte)
}
fn joins(n: Node) -> R<Vec<Join>> {
    list(n, join)
}
fn boxed_expr(n: Node) -> R<Box<Expr>> {
    expr(n).map(Box::new)
}
fn boxed_filter(n: Node) -> R<Box<Filter>> {
    filter(n).map(Box::new)
}
fn boxed_select(n: Node) -> R<Box<Select>> {
    select(n).map(Box::new)
}
fn boxed_query_body(n: Node) -> R<Box<QueryBody>> {
    query_body(n).map(Box::new)
}

pub(crate) fn pg_type(n: Node) -> R<PgType> {
    let text = string(n)?;
    if text.trim().is_empty() {
        return Err(FormatError::new("a type name cannot be empty"));
    }
    Ok(PgType::parse(&text))
}

const BODY_TAGS: &[&str] = &["select", "set_op", "insert", "update", "delete", "raw"];

pub(crate) fn query(n: Node) -> R<Query> {
    // Like the derive's flatten: the first body key wins, other keys are ignored.
    let (mut f, body) = flattened(
        n,
        "struct Query",
        &["version", "row_shape"],
        BODY_TAGS,
        false,
    )?;
    let version = f.required(0, u32_);
    let row_shape = f.or_default(1, row_shape);
    let Some(version) = version.filter(|_| f.error.is_none()) else {
        return Err(f.error());
    };
    let Some((tag, content)) = body else {
        return Err(FormatError::new(format!(
            "missing the query body: {}",
            one_of(BODY_TAGS)
        )));
    };
    let body = query_body_variant(tag, content).map_err(|e| e.in_key(BODY_TAGS[tag]))?;
    f.done(Query {
        version,
        body,
        row_shape,
    })
}

fn row_shape(n: Node) -> R<RowShape> {
    Ok(match unit_variant(n, &["objects", "values"])? {
        0 => RowShape::Objects,
        _ => RowShape::Values,
    })
}

fn query_body_variant(tag: usize, n: Node) -> R<QueryBody> {
    Ok(match tag {
        0 => QueryBody::Select(select(n)?),
        1 => QueryBody::SetOp(set_query(n)?),
        2 => QueryBody::Insert(insert(n)?),
        3 => QueryBody::Update(update(n)?),
        4 => QueryBody::Delete(delete(n)?),
        _ => QueryBody::Raw(raw(n)?),
    })
}

pub(crate) fn query_body(n: Node) -> R<QueryBody> {
    let (tag, content) = tagged(n, BODY_TAGS, &[])?;
    let content = content.unwrap_or(Node::Null);
    query_body_variant(tag, content).map_err(|e| e.in_key(BODY_TAGS[tag]))
}

pub(crate) fn raw(n: Node) -> R<Raw> {
    let mut f = fields(n, "struct Raw", &["sql", "params", "columns"], true, true);
    let value = Raw {
        sql: f.required(0, string).unwrap_or_default(),
        params: f.or_default(1, raw_params),
        columns: f.or_default(2, strings),
    };
    f.done(value)
}

pub(crate) fn raw_param(n: Node) -> R<RawParam> {
    let mut f = fields(n, "struct RawParam", &["value", "type"], true, true);
    let value = f.required(0, value).unwrap_or_default();
    let ty = f.required(1, pg_type);
    let Some(ty) = ty else {
        return Err(f.error());
    };
    f.done(RawParam { value, ty })
}

const EXPR_TAGS: &[&str] = &[
    "column",
    "value",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "neg",
    "cast",
    "func",
    "extract",
    "agg",
    "json_text",
    "json_get",
    "subquery",
    "excluded",
    "case",
];

pub(crate) fn expr(n: Node) -> R<Expr> {
    let (tag, content) = tagged(n, EXPR_TAGS, &[])?;
    let n = content.unwrap_or(Node::Null);
    // One call per payload type: the variant is chosen after it is read.
    let e = match tag {
        0 | 15 => string(n).map(|s| match tag {
            0 => Expr::Column(s),
            _ => Expr::Excluded(s),
        }),
        1 => value(n).map(Expr::Value),
        2..=6 => operands(n).map(Box::new).map(|o| match tag {
            2 => Expr::Add(o),
            3 => Expr::Sub(o),
            4 => Expr::Mul(o),
            5 => Expr::Div(o),
            _ => Expr::Mod(o),
        }),
        7 => boxed_expr(n).map(Expr::Neg),
        8 => cast(n).map(Box::new).map(Expr::Cast),
        9 => func(n).map(Expr::Func),
        10 => extract(n).map(Box::new).map(Expr::Extract),
        11 => agg(n).map(Box::new).map(Expr::Agg),
        12 | 13 => json_get(n).map(Box::new).map(|g| match tag {
            12 => Expr::JsonText(g),
            _ => Expr::JsonGet(g),
        }),
        14 => boxed_select(n).map(Expr::Subquery),
        _ => case(n).map(Box::new).map(Expr::Case),
    };
    e.map_err(|e| e.in_key(EXPR_TAGS[tag]))
}

fn operands(n: Node) -> R<[Expr; 2]> {
    match n {
        Node::Array(items) if items.len() == 2 => {
            let mut items = items.into_iter();
            let mut next = |i: usize| match items.next() {
                Some(n) => expr(n).map_err(|e| e.in_index(i)),
                None => Err(FormatError::new("expected two operands")),
            };
            Ok([next(0)?, next(1)?])
        }
        Node::Array(items) => Err(FormatError::new(format!(
            "invalid length {}, expected an array of length 2",
            items.len()
        ))),
        other => Err(other.invalid("an array of length 2")),
    }
}

pub(crate) fn cast(n: Node) -> R<Cast> {
    let mut f = fields(n, "struct Cast", &["expr", "type"], true, true);
    let expr = f.required(0, expr);
    let ty = f.required(1, pg_type);
    let (Some(expr), Some(ty)) = (expr, ty) else {
        return Err(f.error());
    };
    f.done(Cast { expr, ty })
}

pub(crate) fn func(n: Node) -> R<Func> {
    let mut f = fields(n, "struct Func", &["name", "args"], true, true);
    let value = Func {
        name: f.required(0, string).unwrap_or_default(),
        args: f.or_default(1, exprs),
    };
    f.done(value)
}

pub(crate) fn extract(n: Node) -> R<Extract> {
    let mut f = fields(n, "struct Extract", &["field", "from"], true, true);
    let field = f.required(0, string).unwrap_or_default();
    let from = f.required(1, expr);
    let Some(from) = from else {
        return Err(f.error());
    };
    f.done(Extract { field, from })
}

pub(crate) fn json_get(n: Node) -> R<JsonGet> {
    let mut f = fields(n, "struct JsonGet", &["expr", "key"], true, true);
    let expr = f.required(0, expr);
    let key = f.required(1, string).unwrap_or_default();
    let Some(expr) = expr else {
        return Err(f.error());
    };
    f.done(JsonGet { expr, key })
}

pub(crate) fn case(n: Node) -> R<Case> {
    let mut f = fields(n, "struct Case", &["when", "else"], true, true);
    let value = Case {
        when: f.required(0, whens).unwrap_or_default(),
        otherwise: f.optional(1, expr),
    };
    f.done(value)
}

pub(crate) fn when(n: Node) -> R<When> {
    let mut f = fields(n, "struct When", &["if", "then"], true, true);
    let condition = f.required(0, filter);
    let then = f.required(1, expr);
    let (Some(condition), Some(then)) = (condition, then) else {
        return Err(f.error());
    };
    f.done(When { condition, then })
}

pub(crate) fn agg(n: Node) -> R<Agg> {
    let mut f = fields(
        n,
        "struct Agg",
        &["func", "arg", "distinct", "separator", "order_by"],
        true,
        true,
    );
    let func = f.required(0, agg_func);
    let arg = f.optional(1, expr);
    let distinct = f.or_default(2, boolean);
    let separator = f.optional(3, string);
    let order_by = f.or_default(4, order_bys);
    let Some(func) = func else {
        return Err(f.error());
    };
    f.done(Agg {
        func,
        arg,
        distinct,
        separator,
        order_by,
    })
}

const AGG_FUNCS: [AggFunc; 10] = [
    AggFunc::Count,
    AggFunc::Sum,
    AggFunc::Avg,
    AggFunc::Min,
    AggFunc::Max,
    AggFunc::StringAgg,
    AggFunc::ArrayAgg,
    AggFunc::JsonAgg,
    AggFunc::BoolAnd,
    AggFunc::BoolOr,
];

/// The JSON names of [`AGG_FUNCS`], their [`AggFunc::sql_name`]s: written
/// out rather than mapped on every read (a test checks that they agree).
const AGG_NAMES: [&str; 10] = [
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "string_agg",
    "array_agg",
    "json_agg",
    "bool_and",
    "bool_or",
];

pub(crate) fn agg_func(n: Node) -> R<AggFunc> {
    let i = unit_variant(n, &AGG_NAMES)?;
    Ok(AGG_FUNCS.get(i).copied().unwrap_or(AggFunc::Count))
}

const FILTER_TAGS: &[&str] = &[
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "is_distinct_from",
    "is_not_distinct_from",
    "in",
    "not_in",
    "between",
    "like",
    "ilike",
    "not_like",
    "not_ilike",
    "is_null",
    "is_not_null",
    "json_contains",
    "json_has_key",
    "array_contains",
    "array_overlaps",
    "text_search",
    "and",
    "or",
    "not",
    "exists",
    "not_exists",
    "has",
    "expr",
];

pub(crate) fn filter(n: Node) -> R<Filter> {
    let (tag, content) = tagged(n, FILTER_TAGS, &[])?;
    let n = content.unwrap_or(Node::Null);
    // One call per payload type: the variant is chosen after it is read.
    let f = match tag {
        0..=7 => compare(n).map(|c| match tag {
            0 => Filter::Eq(c),
            1 => Filter::Ne(c),
            2 => Filter::Lt(c),
            3 => Filter::Lte(c),
            4 => Filter::Gt(c),
            5 => Filter::Gte(c),
            6 => Filter::IsDistinctFrom(c),
            _ => Filter::IsNotDistinctFrom(c),
        }),
        8 | 9 => in_list(n).map(|l| match tag {
            8 => Filter::In(l),
            _ => Filter::NotIn(l),
        }),
        10 => between(n).map(Filter::Between),
        11..=14 => pattern(n).map(|p| match tag {
            11 => Filter::Like(p),
            12 => Filter::Ilike(p),
            13 => Filter::NotLike(p),
            _ => Filter::NotIlike(p),
        }),
        15 | 16 => string(n).map(|c| match tag {
            15 => Filter::IsNull(c),
            _ => Filter::IsNotNull(c),
        }),
        18 => column_key(n).map(Filter::JsonHasKey),
        17 | 19 | 20 => column_value(n).map(|c| match tag {
            17 => Filter::JsonContains(c),
            19 => Filter::ArrayContains(c),
            _ => Filter::ArrayOverlaps(c),
        }),
        21 => text_search(n).map(Filter::TextSearch),
        22 | 23 => filters(n).map(|f| match tag {
            22 => Filter::And(f),
            _ => Filter::Or(f),
        }),
        24 => boxed_filter(n).map(Filter::Not),
        25 | 26 => boxed_select(n).map(|s| match tag {
            25 => Filter::Exists(s),
            _ => Filter::NotExists(s),
        }),
        27 => has(n).map(Box::new).map(Filter::Has),
        _ => expr(n).map(Filter::Expr),
    };
    f.map_err(|e| e.in_key(FILTER_TAGS[tag]))
}

/// `{"column", "value"}` or `{"left", "right"}`, objects only (serde's
/// untagged struct variants took no arrays), with no other keys.
pub(crate) fn compare(n: Node) -> R<Compare> {
    let Node::Object(pairs) = &n else {
        return Err(n.invalid(r#"{"column", "value"} or {"left", "right"}"#));
    };
    let operands = pairs.iter().any(|(k, _)| k == "left" || k == "right");
    if operands {
        let mut f = fields(
            n,
            "struct variant Compare::Exprs",
            &["left", "right"],
            true,
            false,
        );
        let left = f.required(0, expr);
        let right = f.required(1, expr);
        let (Some(left), Some(right)) = (left, right) else {
            return Err(f.error());
        };
        f.done(Compare::Exprs { left, right })
    } else {
        let mut f = fields(
            n,
            "struct variant Compare::ColumnValue",
            &["column", "value"],
            true,
            false,
        );
        let value = Compare::ColumnValue {
            column: f.required(0, string).unwrap_or_default(),
            value: f.required(1, value).unwrap_or_default(),
        };
        f.done(value)
    }
}

pub(crate) fn in_list(n: Node) -> R<InList> {
    let mut f = fields(
        n,
        "struct InList",
        &["column", "values", "subquery"],
        true,
        true,
    );
    let value = InList {
        column: f.required(0, string).unwrap_or_default(),
        values: f.optional(1, values),
        subquery: f.optional(2, boxed_select),
    };
    f.done(value)
}

pub(crate) fn between(n: Node) -> R<Between> {
    let mut f = fields(n, "struct Between", &["column", "low", "high"], true, true);
    let value = Between {
        column: f.required(0, string).unwrap_or_default(),
        low: f.required(1, value).unwrap_or_default(),
        high: f.required(2, value).unwrap_or_default(),
    };
    f.done(value)
}

pub(crate) fn pattern(n: Node) -> R<Pattern> {
    let mut f = fields(n, "struct Pattern", &["column", "pattern"], true, true);
    let value = Pattern {
        column: f.required(0, string).unwrap_or_default(),
        pattern: f.required(1, string).unwrap_or_default(),
    };
    f.done(value)
}

pub(crate) fn column_value(n: Node) -> R<ColumnValue> {
    let mut f = fields(n, "struct ColumnValue", &["column", "value"], true, true);
    let value = ColumnValue {
        column: f.required(0, string).unwrap_or_default(),
        value: f.required(1, value).unwrap_or_default(),
    };
    f.done(value)
}

pub(crate) fn column_key(n: Node) -> R<ColumnKey> {
    let mut f = fields(n, "struct ColumnKey", &["column", "key"], true, true);
    let value = ColumnKey {
        column: f.required(0, string).unwrap_or_default(),
        key: f.required(1, string).unwrap_or_default(),
    };
    f.done(value)
}

pub(crate) fn text_search(n: Node) -> R<TextSearch> {
    let mut f = fields(
        n,
        "struct TextSearch",
        &["column", "query", "config"],
        true,
        true,
    );
    let value = TextSearch {
        column: f.required(0, string).unwrap_or_default(),
        query: f.required(1, string).unwrap_or_default(),
        config: f.optional(2, string),
    };
    f.done(value)
}

pub(crate) fn has(n: Node) -> R<Has> {
    let mut f = fields(n, "struct Has", &["relation", "where"], true, true);
    let value = Has {
        relation: f.required(0, string).unwrap_or_default(),
        filter: f.optional(1, filter),
    };
    f.done(value)
}

const SELECT_FIELDS: &[&str] = &[
    "ctes",
    "distinct",
    "distinct_on",
    "from",
    "as",
    "columns",
    "defer",
    "joins",
    "where",
    "group_by",
    "having",
    "order_by",
    "after",
    "limit",
    "offset",
    "lock",
    "with",
];

pub(crate) fn select(n: Node) -> R<Select> {
    let mut f = fields(n, "struct Select", SELECT_FIELDS, true, true);
    let value = Select {
        ctes: f.or_default(0, ctes),
        distinct: f.or_default(1, boolean),
        distinct_on: f.or_default(2, exprs),
        from: f.required(3, string).unwrap_or_default(),
        alias: f.optional(4, string),
        columns: f.required(5, all_or_list).unwrap_or_default(),
        defer: f.or_default(6, strings),
        joins: f.or_default(7, joins),
        filter: f.optional(8, filter),
        group_by: f.or_default(9, exprs),
        having: f.optional(10, filter),
        order_by: f.or_default(11, order_bys),
        after: f.optional(12, values),
        limit: f.optional(13, u64_),
        offset: f.optional(14, u64_),
        lock: f.optional(15, lock),
        with: f.or_default(16, includes),
    };
    f.done(value)
}

/// `"*"` (every column: `None`) or a list of select items.
fn all_or_list(n: Node) -> R<Option<Vec<SelectItem>>> {
    match n {
        Node::String(s) if s == "*" => Ok(None),
        // The derive read `"*"` as a unit variant, which may also be written `{"*": null}`.
        Node::Object(pairs)
            if pairs.len() == 1
                && pairs
                    .first()
                    .is_some_and(|(k, v)| k == "*" && matches!(v, Node::Null)) =>
        {
            Ok(None)
        }
        Node::Array(_) => list(n, select_item).map(Some),
        other => Err(other.invalid(r#""*" or a list of columns"#)),
    }
}

/// A column name, or `{"expr", "as"}` (other keys ignored, no array form:
/// the derive's untagged enum did the same).
pub(crate) fn select_item(n: Node) -> R<SelectItem> {
    match n {
        Node::String(s) => Ok(SelectItem::Column(s)),
        Node::Object(_) => {
            let mut f = fields(
                n,
                "struct variant SelectItem::Expr",
                &["expr", "as"],
                false,
                false,
            );
            let expr = f.required(0, expr);
            let alias = f.required(1, string).unwrap_or_default();
            let Some(expr) = expr else {
                return Err(f.error());
            };
            f.done(SelectItem::Expr { expr, alias })
        }
        other => Err(other.invalid(r#"a column name or {"expr", "as"}"#)),
    }
}

pub(crate) fn join(n: Node) -> R<Join> {
    let mut f = fields(
        n,
        "struct Join",
        &["relation", "table", "as", "kind", "on"],
        true,
        true,
    );
    let value = Join {
        relation: f.optional(0, string),
        table: f.optional(1, string),
        alias: f.optional(2, string),
        kind: f.or_default(3, join_kind),
        on: f.optional(4, filter),
    };
    f.done(value)
}

pub(crate) fn join_kind(n: Node) -> R<JoinKind> {
    Ok(match unit_variant(n, &["inner", "left"])? {
        0 => JoinKind::Inner,
        _ => JoinKind::Left,
    })
}

pub(crate) fn order_by(n: Node) -> R<OrderBy> {
    let mut f = fields(
        n,
        "struct OrderBy",
        &["column", "expr", "direction", "nulls"],
        true,
        true,
    );
    let value = OrderBy {
        column: f.optional(0, string),
        expr: f.optional(1, expr),
        direction: f.or_default(2, direction),
        nulls: f.optional(3, nulls),
    };
    f.done(value)
}

pub(crate) fn direction(n: Node) -> R<Direction> {
    Ok(match unit_variant(n, &["asc", "desc"])? {
        0 => Direction::Asc,
        _ => Direction::Desc,
    })
}

pub(crate) fn nulls(n: Node) -> R<Nulls> {
    Ok(match unit_variant(n, &["first", "last"])? {
        0 => Nulls::First,
        _ => Nulls::Last,
    })
}

pub(crate) fn lock(n: Node) -> R<Lock> {
    let mut f = fields(n, "struct Lock", &["strength", "of", "wait"], true, true);
    let strength = f.required(0, lock_strength);
    let of = f.or_default(1, strings);
    let wait = f.optional(2, lock_wait);
    let Some(strength) = strength else {
        return Err(f.error());
    };
    f.done(Lock { strength, of, wait })
}

pub(crate) fn lock_strength(n: Node) -> R<LockStrength> {
    const ALL: [LockStrength; 4] = [
        LockStrength::Update,
        LockStrength::NoKeyUpdate,
        LockStrength::Share,
        LockStrength::KeyShare,
    ];
    let i = unit_variant(n, &["update", "no_key_update", "share", "key_share"])?;
    Ok(ALL.get(i).copied().unwrap_or(LockStrength::Update))
}

pub(crate) fn lock_wait(n: Node) -> R<LockWait> {
    Ok(match unit_variant(n, &["nowait", "skip_locked"])? {
        0 => LockWait::Nowait,
        _ => LockWait::SkipLocked,
    })
}

pub(crate) fn cte(n: Node) -> R<Cte> {
    let mut f = fields(n, "struct Cte", &["name", "recursive", "query"], true, true);
    let name = f.required(0, string).unwrap_or_default();
    let recursive = f.or_default(1, boolean);
    let query = f.required(2, boxed_query_body);
    let Some(query) = query else {
        return Err(f.error());
    };
    f.done(Cte {
        name,
        recursive,
        query,
    })
}

pub(crate) fn set_query(n: Node) -> R<SetQuery> {
    let mut f = fields(
        n,
        "struct SetQuery",
        &["op", "queries", "order_by", "limit", "offset"],
        true,
        true,
    );
    let op = f.required(0, set_op);
    let queries = f.required(1, selects).unwrap_or_default();
    let order_by = f.or_default(2, order_bys);
    let limit = f.optional(3, u64_);
    let offset = f.optional(4, u64_);
    let Some(op) = op else {
        return Err(f.error());
    };
    f.done(SetQuery {
        op,
        queries,
        order_by,
        limit,
        offset,
    })
}

pub(crate) fn set_op(n: Node) -> R<SetOp> {
    const ALL: [SetOp; 6] = [
        SetOp::Union,
        SetOp::UnionAll,
        SetOp::Intersect,
        SetOp::IntersectAll,
        SetOp::Except,
        SetOp::ExceptAll,
    ];
    let i = unit_variant(
        n,
        &[
            "union",
            "union_all",
            "intersect",
            "intersect_all",
            "except",
            "except_all",
        ],
    )?;
    Ok(ALL.get(i).copied().unwrap_or(SetOp::Union))
}

pub(crate) fn include(n: Node) -> R<Include> {
    let mut f = fields(
        n,
        "struct Include",
        &["relation", "columns", "where", "order_by", "with"],
        true,
        true,
    );
    let value = Include {
        relation: f.required(0, string).unwrap_or_default(),
        columns: f.optional(1, strings),
        filter: f.optional(2, filter),
        order_by: f.or_default(3, order_bys),
        with: f.or_default(4, includes),
    };
    f.done(value)
}

const INSERT_SOURCES: &[&str] = &["rows", "select"];

/// An object only, like any struct with a flattened field: `into`,
/// `on_conflict`, `returning` and the first of `rows`/`select`; any other
/// key, a second source included, is an error.
pub(crate) fn insert(n: Node) -> R<Insert> {
    let (mut f, source) = flattened(
        n,
        "struct Insert",
        &["into", "on_conflict", "returning"],
        INSERT_SOURCES,
        true,
    )?;
    let Some(into) = f.required(0, string) else {
        return Err(f.error());
    };
    let Some((tag, content)) = source else {
        return Err(FormatError::new(
            "missing the rows to insert: `rows` or `select`",
        ));
    };
    let source = insert_source_variant(tag, content).map_err(|e| e.in_key(INSERT_SOURCES[tag]))?;
    let value = Insert {
        into,
        source,
        on_conflict: f.optional(1, on_conflict),
        returning: f.or_default(2, select_items),
    };
    f.done(value)
}

fn insert_source_variant(tag: usize, n: Node) -> R<InsertSource> {
    match tag {
        0 => list(n, row).map(InsertSource::Rows),
        _ => insert_select(n).map(InsertSource::Select),
    }
}

pub(crate) fn insert_source(n: Node) -> R<InsertSource> {
    let (tag, content) = tagged(n, INSERT_SOURCES, &[])?;
    insert_source_variant(tag, content.unwrap_or(Node::Null))
        .map_err(|e| e.in_key(INSERT_SOURCES[tag]))
}

pub(crate) fn insert_select(n: Node) -> R<InsertSelect> {
    let mut f = fields(n, "struct InsertSelect", &["columns", "query"], true, true);
    let columns = f.required(0, strings).unwrap_or_default();
    let query = f.required(1, boxed_select);
    let Some(query) = query else {
        return Err(f.error());
    };
    f.done(InsertSelect { columns, query })
}

pub(crate) fn on_conflict(n: Node) -> R<OnConflict> {
    let mut f = fields(
        n,
        "struct OnConflict",
        &["columns", "constraint", "do"],
        true,
        true,
    );
    let columns = f.or_default(0, strings);
    let constraint = f.optional(1, string);
    let action = f.required(2, conflict_action);
    let Some(action) = action else {
        return Err(f.error());
    };
    f.done(OnConflict {
        columns,
        constraint,
        action,
    })
}

pub(crate) fn conflict_action(n: Node) -> R<ConflictAction> {
    const TAGS: &[&str] = &["nothing", "update"];
    let (tag, content) = tagged(n, TAGS, &["nothing"])?;
    match (tag, content) {
        (0, None | Some(Node::Null)) => Ok(ConflictAction::Nothing),
        (0, Some(other)) => Err(other.invalid("unit").in_key("nothing")),
        (_, content) => {
            conflict_update(content.unwrap_or(Node::Null)).map_err(|e| e.in_key("update"))
        }
    }
}

fn conflict_update(n: Node) -> R<ConflictAction> {
    // Unknown keys pass, as they did for this struct variant.
    let mut f = fields(
        n,
        "struct variant ConflictAction::Update",
        &["set", "where"],
        false,
        true,
    );
    let value = ConflictAction::Update {
        set: f.required(0, assignments).unwrap_or_default(),
        filter: f.optional(1, filter),
    };
    f.done(value)
}

pub(crate) fn update(n: Node) -> R<Update> {
    let mut f = fields(
        n,
        "struct Update",
        &["table", "set", "where", "all_rows", "returning"],
        true,
        true,
    );
    let value = Update {
        table: f.required(0, string).unwrap_or_default(),
        set: f.required(1, assignments).unwrap_or_default(),
        filter: f.optional(2, filter),
        all_rows: f.or_default(3, boolean),
        returning: f.or_default(4, select_items),
    };
    f.done(value)
}

pub(crate) fn delete(n: Node) -> R<Delete> {
    let mut f = fields(
        n,
        "struct Delete",
        &["from", "where", "all_rows", "returning"],
        true,
        true,
    );
    let value = Delete {
        from: f.required(0, string).unwrap_or_default(),
        filter: f.optional(1, filter),
        all_rows: f.or_default(2, boolean),
        returning: f.or_default(3, select_items),
    };
    f.done(value)
}

impl Query {
    /// Reads a definition from an already parsed JSON value. A value has no
    /// key order or repeated keys, so this is the same as parsing its text.
    pub fn from_json_value(value: &Value) -> Result<Query, FormatError> {
        query(Node::from_value(value)).map_err(|e| *e)
    }
}

/// Each public AST type deserializes by parsing a [`Node`] and converting
/// it, so serde instantiates one visitor per deserializer instead of one per
/// type and enum form.
macro_rules! deserialize_via_node {
    ($($ty:ty => $convert:path),* $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let node = <$crate::json_text::Node as serde::Deserialize>::deserialize(d)?;
                $convert(node).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

pub(crate) use deserialize_via_node;

deserialize_via_node! {
    Query => query,
    QueryBody => query_body,
    RowShape => row_shape,
    Raw => raw,
    RawParam => raw_param,
    Expr => expr,
    Cast => cast,
    Func => func,
    Extract => extract,
    JsonGet => json_get,
    Case => case,
    When => when,
    Agg => agg,
    AggFunc => agg_func,
    Filter => filter,
    Compare => compare,
    InList => in_list,
    Between => between,
    Pattern => pattern,
    ColumnValue => column_value,
    ColumnKey => column_key,
    TextSearch => text_search,
    Has => has,
    Select => select,
    SelectItem => select_item,
    Join => join,
    JoinKind => join_kind,
    OrderBy => order_by,
    Direction => direction,
    Nulls => nulls,
    Lock => lock,
    LockStrength => lock_strength,
    LockWait => lock_wait,
    Cte => cte,
    SetQuery => set_query,
    SetOp => set_op,
    Include => include,
    Insert => insert,
    InsertSource => insert_source,
    InsertSelect => insert_select,
    OnConflict => on_conflict,
    ConflictAction => conflict_action,
    Update => update,
    Delete => delete,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error(json: &str) -> String {
        match Query::from_json(json) {
            Ok(q) => panic!("accepted: {q:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn wrong_types_name_the_expected_type_and_the_path() {
        assert_eq!(
            error(r#"{"version":1,"select":{"from":"t","columns":"*","limit":1.5}}"#),
            "invalid type: floating point `1.5`, expected u64 at select.limit"
        );
        assert_eq!(
            error(r#"{"version":-1,"select":{"from":"t","columns":"*"}}"#),
            "invalid value: integer `-1`, expected u32 at version"
        );
        assert_eq!(
            error(
                r#"{"version":1,"select":{"from":"t","columns":"*","where":{"and":[{"is_null":"a"},{"is_null":2}]}}}"#
            ),
            "invalid type: integer `2`, expected a string at select.where.and[1].is_null"
        );
        assert_eq!(
            error(r#"{"version":1,"select":{"from":"t","columns":[1]}}"#),
            r#"invalid type: integer `1`, expected a column name or {"expr", "as"} at select.columns[0]"#
        );
        assert_eq!(
            error(r#"{"version":1,"select":{"from":"t","columns":"a"}}"#),
            r#"invalid type: string "a", expected "*" or a list of columns at select.columns"#
        );
        assert_eq!(
            error(r#"{"version":1,"select":{"from":"t","columns":"*","where":{"eq":["a",1]}}}"#),
            r#"invalid type: sequence, expected {"column", "value"} or {"left", "right"} at select.where.eq"#
        );
        assert_eq!(
            error(r#"{"version":1,"raw":{"sql":"select $1","params":[{"value":1,"type":" "}]}}"#),
            "a type name cannot be empty at raw.params[0].type"
        );
    }

    #[test]
    fn unknown_tags_and_fields_list_what_is_allowed() {
        assert_eq!(
            error(
                r#"{"version":1,"select":{"from":"t","columns":"*","order_by":[{"column":"a","direction":"up"}]}}"#
            ),
            "unknown variant `up`, expected `asc` or `desc` at select.order_by[0].direction"
        );
        assert_eq!(
            error(r#"{"version":1,"select":{"from":"t","columns":"*","where":{"equals":{"column":"a","value":1}}}}"#)
                .split(", expected")
                .next(),
            Some("unknown variant `equals`")
        );
        assert_eq!(
            error(r#"{"version":1,"update":{"table":"t","set":{},"al_rows":true}}"#),
            "unknown field `al_rows`, expected one of `table`, `set`, `where`, `all_rows`, `returning` at update"
        );
        assert_eq!(
            error(r#"{"version":1,"insert":{"into":"t","rows":[],"zz":1}}"#),
            "unknown field `zz` at insert"
        );
        assert_eq!(
            error(
                r#"{"version":1,"select":{"from":"t","columns":"*","where":{"is_null":"a","eq":{"column":"a","value":1}}}}"#
            ),
            "invalid value: map, expected map with a single key at select.where"
        );
        assert_eq!(
            error(r#"{"version":1,"select":{"from":"t","columns":"*","where":"and"}}"#),
            r#"`and` needs a value: {"and": ...} at select.where.and"#
        );
        assert_eq!(
            error(r#"{"version":1,"insert":{"into":"t","rows":[],"on_conflict":{"do":"nothin"}}}"#),
            "unknown variant `nothin`, expected `nothing` or `update` at insert.on_conflict.do"
        );
    }

    #[test]
    fn missing_and_repeated_fields() {
        assert_eq!(
            error(r#"{"select":{"from":"t","columns":"*"}}"#),
            "missing field `version`"
        );
        assert_eq!(
            error(r#"{"version":1}"#),
            "missing the query body: one of `select`, `set_op`, `insert`, `update`, `delete`, `raw`"
        );
        assert_eq!(
            error(r#"{"version":1,"row_shape":"rows"}"#),
            "unknown variant `rows`, expected `objects` or `values` at row_shape"
        );
        assert_eq!(
            error(r#"{"version":1,"insert":{"into":"t"}}"#),
            "missing the rows to insert: `rows` or `select` at insert"
        );
        assert_eq!(
            error(r#"{"version":1,"select":{"from":"t","from":"u","columns":"*"}}"#),
            "duplicate field `from` at select"
        );
        assert_eq!(
            error(r#"{"version":1,"delete":[]}"#),
            "invalid length 0, expected struct Delete with 4 elements at delete"
        );
        assert_eq!(
            error(r#"{"version":1,"delete":["t",null,true,[],1]}"#),
            "invalid length 5, expected 4 elements in sequence at delete"
        );
        assert_eq!(
            error(
                r#"{"version":1,"select":{"from":"t","columns":[{"expr":{"add":[{"column":"a"}]},"as":"n"}]}}"#
            ),
            "invalid length 1, expected an array of length 2 at select.columns[0].expr.add"
        );
    }

    #[test]
    fn quirks_of_the_derived_form_are_kept() {
        // The first body key is the query; keys beside it are ignored.
        let q = Query::from_json(
            r#"{"version":1,"delete":{"from":"t","all_rows":true},"select":{"from":"t","columns":"*"},"note":1}"#,
        )
        .unwrap();
        assert!(matches!(q.body, QueryBody::Delete(_)));
        // A struct may be written as an array of its fields in order.
        let q = Query::from_json(r#"{"version":1,"delete":["t",null,true]}"#).unwrap();
        let QueryBody::Delete(d) = q.body else {
            panic!("not a delete")
        };
        assert!(d.all_rows);
        // A map keeps the last of repeated keys; a struct refuses them.
        let q = Query::from_json(
            r#"{"version":1,"update":{"table":"t","set":{"a":{"value":1},"a":{"value":2}},"all_rows":true}}"#,
        )
        .unwrap();
        let QueryBody::Update(u) = q.body else {
            panic!("not an update")
        };
        assert_eq!(u.set.get("a"), Some(&Expr::Value(json!(2))));
        // Unit variants may be written as a map with a null value.
        let q = Query::from_json(
            r#"{"version":1,"select":{"from":"t","columns":{"*":null},"order_by":[{"column":"a","direction":{"desc":null}}]}}"#,
        )
        .unwrap();
        let QueryBody::Select(s) = q.body else {
            panic!("not a select")
        };
        assert_eq!(s.columns, None);
        assert_eq!(s.order_by[0].direction, Direction::Desc);
    }

    #[test]
    fn a_value_and_its_text_read_the_same() {
        let v = json!({"version": 1, "select": {"from": "t", "columns": ["a", {"expr": {"neg": {"column": "b"}}, "as": "nb"}],
            "where": {"in": {"column": "a", "values": [1, 2]}}}, "row_shape": "values"});
        let from_value = Query::from_json_value(&v).unwrap();
        assert_eq!(from_value, Query::from_json(&v.to_string()).unwrap());
        assert_eq!(from_value, serde_json::from_value::<Query>(v).unwrap());
        let err =
            Query::from_json_value(&json!({"version": 1, "select": {"from": 1}})).unwrap_err();
        assert_eq!(err.path, "select.from");
        assert_eq!(err.message, "invalid type: integer `1`, expected a string");
    }

    #[test]
    fn aggregate_names_are_their_sql_names() {
        assert_eq!(AGG_FUNCS.map(AggFunc::sql_name), AGG_NAMES);
    }

    #[test]
    fn sub_types_deserialize_on_their_own() {
        let f: Filter =
            serde_json::from_str(r#"{"eq":{"left":{"column":"a"},"right":{"value":1}}}"#).unwrap();
        assert!(matches!(f, Filter::Eq(Compare::Exprs { .. })));
        let e = serde_json::from_str::<Expr>(r#"{"nope":1}"#).unwrap_err();
        assert!(e.to_string().starts_with("unknown variant `nope`"), "{e}");
    }
}
