//! Scalar expressions: what a select returns, what filters compare, what an
//! update assigns.

use serde::Serialize;

use super::select::{OrderBy, Select};
use crate::types::PgType;

/// An expression. Each JSON form is an object with one key naming the kind:
/// `{"column": "name"}`, `{"value": 1}`, `{"add": [a, b]}`, ...
///
/// Values are JSON literals; the compiler gives each one the type of what it
/// is compared with or assigned to and always binds it as a parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expr {
    /// A column, optionally qualified by a joined relation or alias: `"album.title"`.
    Column(String),
    /// A literal, bound as a parameter.
    Value(serde_json::Value),
    Add(Box<[Expr; 2]>),
    Sub(Box<[Expr; 2]>),
    Mul(Box<[Expr; 2]>),
    Div(Box<[Expr; 2]>),
    Mod(Box<[Expr; 2]>),
    /// `-x`.
    Neg(Box<Expr>),
    Cast(Box<Cast>),
    /// A call of a function from the allow-list (`lower`, `coalesce`, ...).
    Func(Func),
    /// `EXTRACT(field FROM expr)`; the field is a keyword from a fixed list.
    Extract(Box<Extract>),
    /// An aggregate (`count`, `sum`, `string_agg`, ...).
    Agg(Box<Agg>),
    /// `expr ->> key`: a jsonb field as text.
    JsonText(Box<JsonGet>),
    /// `expr -> key`: a jsonb field as jsonb.
    JsonGet(Box<JsonGet>),
    /// A scalar subquery returning one column.
    Subquery(Box<Select>),
    /// `EXCLUDED.column`, inside an upsert's DO UPDATE.
    Excluded(String),
    /// `CASE WHEN ... THEN ... ELSE ... END`.
    Case(Box<Case>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cast {
    pub expr: Expr,
    #[serde(rename = "type")]
    pub ty: PgType,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Func {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Expr>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Extract {
    pub field: String,
    pub from: Expr,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JsonGet {
    pub expr: Expr,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub when: Vec<When>,
    #[serde(rename = "else", default, skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    #[serde(rename = "if")]
    pub condition: super::Filter,
    pub then: Expr,
}

/// An aggregate call. `count` without `arg` is `count(*)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Agg {
    pub func: AggFunc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg: Option<Expr>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub distinct: bool,
    /// `string_agg`'s separator, bound as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// Ordering inside the aggregate, for `string_agg`, `array_agg`, `json_agg`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<OrderBy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AggFunc {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    StringAgg,
    ArrayAgg,
    JsonAgg,
    BoolAnd,
    BoolOr,
}

impl AggFunc {
    pub fn sql_name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::StringAgg => "string_agg",
            AggFunc::ArrayAgg => "array_agg",
            AggFunc::JsonAgg => "json_agg",
            AggFunc::BoolAnd => "bool_and",
            AggFunc::BoolOr => "bool_or",
        }
    }
}

impl Expr {
    pub fn column(name: impl Into<String>) -> Expr {
        Expr::Column(name.into())
    }

    pub fn value(value: impl Into<serde_json::Value>) -> Expr {
        Expr::Value(value.into())
    }

    pub fn func<I: IntoIterator<Item = Expr>>(name: impl Into<String>, args: I) -> Expr {
        Expr::Func(Func {
            name: name.into(),
            args: args.into_iter().collect(),
        })
    }

    pub fn cast(self, ty: PgType) -> Expr {
        Expr::Cast(Box::new(Cast { expr: self, ty }))
    }

    pub fn json_text(self, key: impl Into<String>) -> Expr {
        Expr::JsonText(Box::new(JsonGet {
            expr: self,
            key: key.into(),
        }))
    }

    pub fn extract(field: impl Into<String>, from: Expr) -> Expr {
        Expr::Extract(Box::new(Extract {
            field: field.into(),
            from,
        }))
    }

    pub fn agg(func: AggFunc, arg: Option<Expr>) -> Expr {
        Expr::Agg(Box::new(Agg {
            func,
            arg,
            distinct: false,
            separator: None,
            order_by: Vec::new(),
        }))
    }

    /// `count(*)`.
    pub fn count_all() -> Expr {
        Expr::agg(AggFunc::Count, None)
    }

    pub fn count_distinct(arg: Expr) -> Expr {
        Expr::Agg(Box::new(Agg {
            func: AggFunc::Count,
            arg: Some(arg),
            distinct: true,
            separator: None,
            order_by: Vec::new(),
        }))
    }

    pub fn string_agg(arg: Expr, separator: impl Into<String>) -> Expr {
        Expr::Agg(Box::new(Agg {
            func: AggFunc::StringAgg,
            arg: Some(arg),
            distinct: false,
            separator: Some(separator.into()),
            order_by: Vec::new(),
        }))
    }
}

/// Plain JSON literals convert to value expressions, so builder calls read
/// `col.sub(1)` rather than `col.sub(Expr::value(1))`.
macro_rules! literal_into_expr {
    ($($t:ty),*) => {$(
        impl From<$t> for Expr {
            fn from(v: $t) -> Expr {
                Expr::Value(v.into())
            }
        }
    )*};
}
literal_into_expr!(i16, i32, i64, u32, f64, bool, &str, String);

/// `Expr::column("stock") - 1` builds `{"sub": [{"column": "stock"}, {"value": 1}]}`.
macro_rules! arithmetic {
    ($($trait:ident $method:ident $variant:ident),*) => {$(
        impl<T: Into<Expr>> std::ops::$trait<T> for Expr {
            type Output = Expr;
            fn $method(self, other: T) -> Expr {
                Expr::$variant(Box::new([self, other.into()]))
            }
        }
    )*};
}
arithmetic!(Add add Add, Sub sub Sub, Mul mul Mul, Div div Div, Rem rem Mod);
