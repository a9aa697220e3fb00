//! The typed side of the builder: models and their column handles.
//!
//! `#[derive(Model)]` implements [`Model`] and gives a struct one
//! [`Column`] handle per field. A handle's methods build the same AST nodes
//! as the JSON form, and a value's Rust type must fit the column's
//! ([`ValueFor`]), so `Track::unit_price.gt(true)` does not compile while
//! `Track::album_id.eq(1)` does.
//!
//! ```
//! use keel_core::query::typed::Model;
//!
//! #[derive(Model)]
//! struct Track {
//!     #[keel(primary_key)]
//!     track_id: i32,
//!     name: String,
//!     composer: Option<String>,
//! }
//!
//! let query: keel_core::Query = Track::select()
//!     .columns([Track::name.name()])
//!     .filter(Track::track_id.eq(1))
//!     .filter(Track::composer.eq("Bach"))
//!     .into();
//! assert_eq!(Track::TABLE, "track");
//! ```
//!
//! The same query with a value of the wrong type is rejected by the compiler:
//!
//! ```compile_fail
//! use keel_core::query::typed::Model;
//!
//! #[derive(Model)]
//! struct Track {
//!     #[keel(primary_key)]
//!     track_id: i32,
//!     name: String,
//!     composer: Option<String>,
//! }
//!
//! let query: keel_core::Query = Track::select()
//!     .columns([Track::name.name()])
//!     .filter(Track::track_id.eq("one"))
//!     .into();
//! ```

use std::marker::PhantomData;

use super::expr::Expr;
use super::filter::{Between, Compare, Filter, InList, Pattern};
use super::select::{Direction, OrderBy, Select};
use crate::schema::Table;

pub use keel_derive::Model;

/// A Rust type mapped to a table.
pub trait Model {
    const TABLE: &'static str;

    /// The table as schema data: columns, types, keys and relations.
    fn table() -> Table;

    /// `SELECT ... FROM` this model's table.
    fn select() -> Select {
        Select::from(Self::TABLE)
    }
}

/// A column of model `M` holding Rust values of type `T`.
pub struct Column<M, T> {
    name: &'static str,
    qualifier: Option<&'static str>,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Column<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T> Copy for Column<M, T> {}

/// A JSON literal of a Rust value, as the query format writes it.
pub trait SqlValue {
    fn to_json(&self) -> serde_json::Value;
}

macro_rules! sql_value {
    ($($t:ty),*) => {$(
        impl SqlValue for $t {
            fn to_json(&self) -> serde_json::Value {
                serde_json::Value::from(self.clone())
            }
        }
    )*};
}
sql_value!(bool, i16, i32, i64, f32, f64, String);

impl SqlValue for serde_json::Value {
    fn to_json(&self) -> serde_json::Value {
        self.clone()
    }
}

impl SqlValue for crate::types::Timestamp {
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::String(self.to_string())
    }
}

impl<T: SqlValue> SqlValue for Option<T> {
    fn to_json(&self) -> serde_json::Value {
        self.as_ref()
            .map_or(serde_json::Value::Null, SqlValue::to_json)
    }
}

impl<T: SqlValue> SqlValue for Vec<T> {
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(self.iter().map(SqlValue::to_json).collect())
    }
}

/// Values accepted for a column holding `T`: `T` itself, `&str` for text,
/// and a bare value for a nullable column.
pub trait ValueFor<T> {
    fn into_json(self) -> serde_json::Value;
}

impl<T: SqlValue> ValueFor<T> for T {
    fn into_json(self) -> serde_json::Value {
        self.to_json()
    }
}

impl<T: SqlValue> ValueFor<Option<T>> for T {
    fn into_json(self) -> serde_json::Value {
        self.to_json()
    }
}

impl ValueFor<String> for &str {
    fn into_json(self) -> serde_json::Value {
        serde_json::Value::String(self.to_owned())
    }
}

impl ValueFor<Option<String>> for &str {
    fn into_json(self) -> serde_json::Value {
        serde_json::Value::String(self.to_owned())
    }
}

impl<M, T> Column<M, T> {
    pub const fn new(name: &'static str) -> Column<M, T> {
        Column {
            name,
            qualifier: None,
            _types: PhantomData,
        }
    }

    /// The same column reached through a joined relation or alias: `album.title`.
    pub const fn via(self, qualifier: &'static str) -> Column<M, T> {
        Column {
            name: self.name,
            qualifier: Some(qualifier),
            _types: PhantomData,
        }
    }

    /// The column's name as a query names it (`"title"` or `"album.title"`).
    pub fn name(&self) -> String {
        match self.qualifier {
            Some(q) => format!("{q}.{}", self.name),
            None => self.name.to_owned(),
        }
    }

    pub fn expr(&self) -> Expr {
        Expr::Column(self.name())
    }

    fn compare(&self, value: impl ValueFor<T>) -> Compare {
        Compare::ColumnValue {
            column: self.name(),
            value: value.into_json(),
        }
    }

    pub fn eq(&self, value: impl ValueFor<T>) -> Filter {
        Filter::Eq(self.compare(value))
    }

    pub fn ne(&self, value: impl ValueFor<T>) -> Filter {
        Filter::Ne(self.compare(value))
    }

    pub fn lt(&self, value: impl ValueFor<T>) -> Filter {
        Filter::Lt(self.compare(value))
    }

    pub fn lte(&self, value: impl ValueFor<T>) -> Filter {
        Filter::Lte(self.compare(value))
    }

    pub fn gt(&self, value: impl ValueFor<T>) -> Filter {
        Filter::Gt(self.compare(value))
    }

    pub fn gte(&self, value: impl ValueFor<T>) -> Filter {
        Filter::Gte(self.compare(value))
    }

    pub fn is_distinct_from(&self, value: impl ValueFor<T>) -> Filter {
        Filter::IsDistinctFrom(self.compare(value))
    }

    pub fn is_null(&self) -> Filter {
        Filter::IsNull(self.name())
    }

    pub fn is_not_null(&self) -> Filter {
        Filter::IsNotNull(self.name())
    }

    pub fn is_in<V: ValueFor<T>>(&self, values: impl IntoIterator<Item = V>) -> Filter {
        Filter::In(self.list(values))
    }

    pub fn not_in<V: ValueFor<T>>(&self, values: impl IntoIterator<Item = V>) -> Filter {
        Filter::NotIn(self.list(values))
    }

    fn list<V: ValueFor<T>>(&self, values: impl IntoIterator<Item = V>) -> InList {
        InList {
            column: self.name(),
            values: Some(values.into_iter().map(ValueFor::into_json).collect()),
            subquery: None,
        }
    }

    pub fn in_subquery(&self, select: Select) -> Filter {
        Filter::In(InList {
            column: self.name(),
            values: None,
            subquery: Some(Box::new(select)),
        })
    }

    pub fn between(&self, low: impl ValueFor<T>, high: impl ValueFor<T>) -> Filter {
        Filter::Between(Between {
            column: self.name(),
            low: low.into_json(),
            high: high.into_json(),
        })
    }

    pub fn like(&self, pattern: &str) -> Filter {
        Filter::Like(self.pattern(pattern))
    }

    pub fn ilike(&self, pattern: &str) -> Filter {
        Filter::Ilike(self.pattern(pattern))
    }

    fn pattern(&self, pattern: &str) -> Pattern {
        Pattern {
            column: self.name(),
            pattern: pattern.to_owned(),
        }
    }

    pub fn asc(&self) -> OrderBy {
        OrderBy::column(self.name(), Direction::Asc)
    }

    pub fn desc(&self) -> OrderBy {
        OrderBy::column(self.name(), Direction::Desc)
    }
}

impl<M, T> From<Column<M, T>> for Expr {
    fn from(column: Column<M, T>) -> Expr {
        column.expr()
    }
}

impl<M, T> From<Column<M, T>> for String {
    fn from(column: Column<M, T>) -> String {
        column.name()
    }
}
