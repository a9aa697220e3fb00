//! The state of one compilation: the SQL being written, its parameters, and
//! the tables in scope that names resolve against.

use std::fmt::Arguments;
use std::rc::Rc;

use super::error::{CompileError, Error, R};
use crate::schema::{Column, NamedType, PgType, Schema, Table};
use crate::types::json::describe;
use crate::types::{Array, Value};

/// A table in scope: one from the schema, or a CTE's result, typed from its query.
#[derive(Debug, Clone)]
pub(crate) enum TableRef<'s> {
    Schema(&'s Table),
    Virtual(Rc<Table>),
}

impl std::ops::Deref for TableRef<'_> {
    type Target = Table;
    fn deref(&self) -> &Table {
        match self {
            TableRef::Schema(t) => t,
            TableRef::Virtual(t) => t,
        }
    }
}

/// A name a column can be qualified with, and the table behind it.
#[derive(Debug, Clone)]
pub(crate) struct Entry<'s> {
    pub name: String,
    pub table: TableRef<'s>,
}

/// One query level's FROM list. Unqualified names resolve here only; an
/// outer level is reached by qualifying with its name.
#[derive(Debug, Clone)]
pub(crate) struct Frame<'s> {
    pub entries: Vec<Entry<'s>>,
    /// Write columns as `"table"."column"`: needed once a second table is in
    /// scope or the level is nested, and avoided otherwise so the simple
    /// statements stay as short as hand-written SQL.
    pub qualify: bool,
}

/// A resolved column reference.
pub(crate) struct ColumnRef<'s> {
    pub entry: String,
    pub table: TableRef<'s>,
    pub index: usize,
    pub qualify: bool,
}

impl ColumnRef<'_> {
    pub fn column(&self) -> &Column {
        &self.table.columns[self.index]
    }

    /// An error about a use of this column.
    #[cold]
    #[inline(never)]
    pub fn invalid(&self, problem: Arguments<'_>) -> Error {
        CompileError::invalid_column(&self.table.name, &self.column().name, problem)
    }
}

pub(crate) struct Ctx<'s> {
    pub schema: &'s Schema,
    pub sql: String,
    pub params: Vec<Value>,
    pub param_types: Vec<PgType>,
    pub ctes: Vec<Rc<Table>>,
    pub frames: Vec<Frame<'s>>,
    /// Write values as literals rather than parameters: DDL (a materialized
    /// view's query) cannot take parameters.
    pub inline: bool,
    /// The result column or assignment being compiled, for errors that
    /// concern an expression rather than a column.
    pub subject: String,
}

impl<'s> Ctx<'s> {
    pub fn new(schema: &'s Schema) -> Ctx<'s> {
        Ctx {
            schema,
            sql: String::with_capacity(256),
            params: Vec::new(),
            param_types: Vec::new(),
            ctes: Vec::new(),
            frames: Vec::new(),
            inline: false,
            subject: String::new(),
        }
    }

    pub fn table(&self, name: &str) -> R<TableRef<'s>> {
        if let Some(t) = self.ctes.iter().rev().find(|t| t.name == name) {
            return Ok(TableRef::Virtual(Rc::clone(t)));
        }
        self.schema
            .table(name)
            .map(TableRef::Schema)
            .ok_or_else(|| CompileError::unknown_model(name))
    }

    /// The model errors name at the current level.
    pub fn model(&self) -> &str {
        self.frames
            .last()
            .and_then(|f| f.entries.first())
            .map_or("", |e| e.table.name.as_str())
    }

    // Errors about the current level's subject, out of line like the
    // constructors they call so a raising site passes only its own details.
    #[cold]
    #[inline(never)]
    pub fn unknown_function(&self, function: &str) -> Error {
        CompileError::unknown_function(self.model(), &self.subject, function)
    }

    #[cold]
    #[inline(never)]
    pub fn wrong_arity(&self, function: &str, expected: Arguments<'_>, found: usize) -> Error {
        CompileError::wrong_arity(self.model(), &self.subject, function, expected, found)
    }

    #[cold]
    #[inline(never)]
    pub fn aggregate_not_allowed(&self, clause: &'static str) -> Error {
        CompileError::aggregate_not_allowed(self.model(), &self.subject, clause)
    }

    #[cold]
    #[inline(never)]
    pub fn invalid_subject(&self, problem: Arguments<'_>) -> Error {
        CompileError::invalid_column(self.model(), &self.subject, problem)
    }

    pub fn push_frame(&mut self, entry: Entry<'s>) {
        let qualify = !self.frames.is_empty();
        self.frames.push(Frame {
            entries: vec![entry],
            qualify,
        });
    }

    pub fn pop_frame(&mut self) {
        self.frames.pop();
    }

    pub fn add_entry(&mut self, entry: Entry<'s>) -> R<()> {
        let Some(frame) = self.frames.last_mut() else {
            // No level, so no model to name.
            return Err(CompileError::invalid(
                "",
                format_args!("a join outside a select"),
            ));
        };
        if frame.entries.iter().any(|e| e.name == entry.name) {
            let model = frame.entries.first().map_or("", |e| e.table.name.as_str());
            return Err(CompileError::invalid(
                model,
                format_args!(
                    "{:?} is joined twice; give one an alias with \"as\"",
                    entry.name
                ),
            ));
        }
        frame.entries.push(entry);
        frame.qualify = true;
        Ok(())
    }

    /// Resolves `column` or `qualifier.column`.
    pub fn resolve(&self, name: &str) -> R<ColumnRef<'s>> {
        let unknown = |model: &str| CompileError::unknown_column(model, name);
        if let Some((qualifier, column)) = name.rsplit_once('.') {
            for frame in self.frames.iter().rev() {
                if let Some(entry) = frame.entries.iter().find(|e| e.name == qualifier) {
                    let index = entry
                        .table
                        .columns
                        .iter()
                        .position(|c| c.name == column)
                        .ok_or_else(|| CompileError::unknown_column(&entry.table.name, column))?;
                    return Ok(ColumnRef {
                        entry: entry.name.clone(),
                        table: entry.table.clone(),
                        index,
                        qualify: true,
                    });
                }
            }
            // Not a qualifier in scope: the name may itself contain a dot.
        }
        let frame = self.frames.last().ok_or_else(|| unknown(""))?;
        // The level's own table first, then a unique match among its joins.
        let mut found = None;
        for entry in &frame.entries {
            if let Some(index) = entry.table.columns.iter().position(|c| c.name == name) {
                found = Some((entry, index));
                break;
            }
        }
        let (entry, index) = found.ok_or_else(|| unknown(self.model()))?;
        Ok(ColumnRef {
            entry: entry.name.clone(),
            table: entry.table.clone(),
            index,
            qualify: frame.qualify,
        })
    }

    pub fn push_column(&mut self, column: &ColumnRef<'_>) {
        if column.qualify {
            push_ident(&mut self.sql, &column.entry);
            self.sql.push('.');
        }
        push_ident(&mut self.sql, &column.column().name);
    }

    pub fn push_ident(&mut self, ident: &str) {
        push_ident(&mut self.sql, ident);
    }

    pub fn push_table(&mut self, table: &Table, alias: &str) {
        if let Some(pg_schema) = &table.schema {
            push_ident(&mut self.sql, pg_schema);
            self.sql.push('.');
        }
        push_ident(&mut self.sql, &table.name);
        if alias != table.name {
            self.sql.push_str(" AS ");
            push_ident(&mut self.sql, alias);
        }
    }

    /// Checks `json` against `ty` (resolving enums and domains) and binds it.
    pub fn bind_json(
        &mut self,
        json: &serde_json::Value,
        ty: &PgType,
        model: &str,
        column: &str,
    ) -> R<()> {
        let value = self.value_of(json, ty, model, column)?;
        if self.inline {
            return push_literal(&mut self.sql, json, ty, model, column);
        }
        if let PgType::Array(element) = ty {
            if matches!(**element, PgType::Named(_)) {
                // A binary array names its element type's OID, which a
                // user-defined type only has in the database; send text[]
                // and let the server convert it.
                self.sql.push_str("CAST(");
                self.bind(value, PgType::Array(Box::new(PgType::Text)));
                self.sql.push_str(" AS ");
                push_type(&mut self.sql, ty);
                self.sql.push(')');
                return Ok(());
            }
        }
        self.bind(value, ty.clone());
        Ok(())
    }

    /// [`Ctx::bind_json`] for a value of the current level's `subject`.
    pub fn bind_subject(&mut self, json: &serde_json::Value, ty: &PgType) -> R<()> {
        let model = self.model().to_owned();
        let subject = std::mem::take(&mut self.subject);
        let bound = self.bind_json(json, ty, &model, &subject);
        self.subject = subject;
        bound
    }

    pub fn bind(&mut self, value: Value, ty: PgType) {
        self.params.push(value);
        self.param_types.push(ty);
        self.sql.push('$');
        self.sql.push_str(itoa(self.params.len()).as_str());
    }

    pub fn value_of(
        &self,
        json: &serde_json::Value,
        ty: &PgType,
        model: &str,
        column: &str,
    ) -> R<Value> {
        let mismatch = |found: String| CompileError::type_mismatch(model, column, ty, found);
        match ty {
            PgType::Named(name) => match self.schema.named_type(name) {
                Some(NamedType::Enum(e)) => match json {
                    serde_json::Value::Null => Ok(Value::Null),
                    serde_json::Value::String(s) if e.values.contains(s) => {
                        Ok(Value::Text(s.clone()))
                    }
                    other => Err(mismatch(describe(other))),
                },
                Some(NamedType::Domain(d)) => {
                    let base = d.ty.clone();
                    self.value_of(json, &base, model, column)
                        .map_err(|_| mismatch(describe(json)))
                }
                None => Err(CompileError::invalid_column(model, column, format_args!("type {name:?} is neither a built-in type nor declared in the schema's enums or domains"))),
            },
            // An empty list is a valid array of any type (an `in` with no
            // values, a plan's key placeholder); the codec wants a shape to
            // infer dimensions from, so it is built here.
            PgType::Array(element) if json.as_array().is_some_and(Vec::is_empty) => {
                Ok(Value::Array(Array {
                    element: sent_element(element),
                    dims: Vec::new(),
                    elements: Vec::new(),
                }))
            }
            PgType::Array(element) if matches!(**element, PgType::Named(_)) => {
                // An array of a user type is sent as text[]; the server casts it.
                let serde_json::Value::Array(items) = json else {
                    return if json.is_null() {
                        Ok(Value::Null)
                    } else {
                        Err(mismatch(describe(json)))
                    };
                };
                let mut texts = Vec::with_capacity(items.len());
                for item in items {
                    self.value_of(item, element, model, column)?;
                    texts.push(match item {
                        serde_json::Value::String(_) | serde_json::Value::Null => item.clone(),
                        other => serde_json::Value::String(crate::json_text::to_string(other)),
                    });
                }
                from_json(
                    &serde_json::Value::Array(texts),
                    &PgType::Array(Box::new(PgType::Text)),
                )
                .map_err(mismatch)
            }
            _ => from_json(json, ty).map_err(mismatch),
        }
    }
}

/// The element type an array is sent with: user-defined types go as text
/// (see [`Ctx::bind_json`]).
fn sent_element(element: &PgType) -> PgType {
    match element {
        PgType::Named(_) => PgType::Text,
        other => other.clone(),
    }
}

/// The one call into the codec's JSON conversion, kept in one place.
fn from_json(json: &serde_json::Value, ty: &PgType) -> Result<Value, String> {
    Value::from_json(json, ty).map_err(|e| e.found)
}

fn itoa(n: usize) -> String {
    n.to_string()
}

/// Quotes an identifier, doubling embedded quotes, so no name can change the
/// statement's structure.
pub(crate) fn push_ident(sql: &mut String, ident: &str) {
    sql.push('"');
    for c in ident.chars() {
        if c == '"' {
            sql.push('"');
        }
        sql.push(c);
    }
    sql.push('"');
}

/// Writes an already type-checked JSON literal as an escaped SQL literal with
/// a cast. An `E''` string escapes both quote and backslash, so its meaning
/// does not depend on `standard_conforming_strings`.
fn push_literal(
    sql: &mut String,
    json: &serde_json::Value,
    ty: &PgType,
    model: &str,
    column: &str,
) -> R<()> {
    use serde_json::Value as J;
    let text = match json {
        J::Null => {
            sql.push_str("NULL");
            return Ok(());
        }
        J::Bool(b) => b.to_string(),
        J::Number(n) => n.to_string(),
        J::String(s) => s.clone(),
        J::Object(_) => crate::json_text::to_string(json),
        J::Array(_) => {
            return Err(CompileError::invalid_column(
                model,
                column,
                format_args!("array values cannot be written into DDL"),
            ))
        }
    };
    if text.contains('\0') {
        return Err(CompileError::invalid_column(
            model,
            column,
            format_args!("a NUL character cannot be stored in PostgreSQL text"),
        ));
    }
    sql.push_str("E'");
    for c in text.chars() {
        match c {
            '\'' => sql.push_str("''"),
            '\\' => sql.push_str("\\\\"),
            c => sql.push(c),
        }
    }
    sql.push_str("'::");
    push_type(sql, ty);
    Ok(())
}

/// A type name as SQL: built-ins by their name, user types quoted.
pub(crate) fn push_type(sql: &mut String, ty: &PgType) {
    match ty {
        PgType::Named(name) => push_ident(sql, name),
        PgType::Array(element) => {
            push_type(sql, element);
            sql.push_str("[]");
        }
        other => sql.push_str(&other.name()),
    }
}
