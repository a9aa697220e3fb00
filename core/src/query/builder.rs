//! Rust constructors for the AST. Each produces exactly what the JSON form
//! deserializes to, so a builder query and its JSON compile identically.

use std::collections::BTreeMap;

use super::expr::Expr;
use super::filter::Filter;
use super::mutate::{
    ConflictAction, Delete, Insert, InsertSelect, InsertSource, OnConflict, Update,
};
use super::select::{
    Direction, Include, Join, JoinKind, Lock, LockStrength, LockWait, Nulls, OrderBy, Select,
    SelectItem,
};

impl Select {
    pub fn from(table: impl Into<String>) -> Select {
        Select {
            ctes: Vec::new(),
            distinct: false,
            distinct_on: Vec::new(),
            from: table.into(),
            alias: None,
            columns: None,
            defer: Vec::new(),
            joins: Vec::new(),
            filter: None,
            group_by: Vec::new(),
            having: None,
            order_by: Vec::new(),
            after: None,
            limit: None,
            offset: None,
            lock: None,
            with: Vec::new(),
        }
    }

    pub fn columns<I, S>(mut self, columns: I) -> Select
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns
            .get_or_insert_with(Vec::new)
            .extend(columns.into_iter().map(|c| SelectItem::Column(c.into())));
        self
    }

    /// Adds `expr AS alias` to the result.
    pub fn expr(mut self, expr: Expr, alias: impl Into<String>) -> Select {
        self.columns
            .get_or_insert_with(Vec::new)
            .push(SelectItem::Expr {
                expr,
                alias: alias.into(),
            });
        self
    }

    pub fn defer<I, S>(mut self, columns: I) -> Select
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.defer.extend(columns.into_iter().map(Into::into));
        self
    }

    pub fn alias(mut self, alias: impl Into<String>) -> Select {
        self.alias = Some(alias.into());
        self
    }

    /// Adds a condition; several calls are ANDed, as one `and` filter.
    pub fn filter(mut self, filter: Filter) -> Select {
        self.filter = Some(match self.filter.take() {
            None => filter,
            Some(Filter::And(mut all)) => {
                all.push(filter);
                Filter::And(all)
            }
            Some(first) => Filter::And(vec![first, filter]),
        });
        self
    }

    pub fn join(mut self, relation: impl Into<String>, kind: JoinKind) -> Select {
        self.joins.push(Join {
            relation: Some(relation.into()),
            table: None,
            alias: None,
            kind,
            on: None,
        });
        self
    }

    pub fn join_on(
        mut self,
        table: impl Into<String>,
        alias: Option<&str>,
        kind: JoinKind,
        on: Filter,
    ) -> Select {
        self.joins.push(Join {
            relation: None,
            table: Some(table.into()),
            alias: alias.map(str::to_owned),
            kind,
            on: Some(on),
        });
        self
    }

    pub fn order_by(mut self, column: impl Into<String>, direction: Direction) -> Select {
        self.order_by.push(OrderBy::column(column, direction));
        self
    }

    pub fn order(mut self, order: OrderBy) -> Select {
        self.order_by.push(order);
        self
    }

    pub fn after<I: IntoIterator<Item = serde_json::Value>>(mut self, cursor: I) -> Select {
        self.after = Some(cursor.into_iter().collect());
        self
    }

    pub fn limit(mut self, limit: u64) -> Select {
        self.limit = Some(limit);
        self
    }

    pub fn offset(mut self, offset: u64) -> Select {
        self.offset = Some(offset);
        self
    }

    pub fn distinct(mut self) -> Select {
        self.distinct = true;
        self
    }

    pub fn distinct_on<I: IntoIterator<Item = Expr>>(mut self, exprs: I) -> Select {
        self.distinct_on.extend(exprs);
        self
    }

    pub fn group_by<I: IntoIterator<Item = Expr>>(mut self, exprs: I) -> Select {
        self.group_by.extend(exprs);
        self
    }

    pub fn having(mut self, filter: Filter) -> Select {
        self.having = Some(filter);
        self
    }

    pub fn lock(mut self, strength: LockStrength, wait: Option<LockWait>) -> Select {
        self.lock = Some(Lock {
            strength,
            of: Vec::new(),
            wait,
        });
        self
    }

    pub fn with(mut self, include: Include) -> Select {
        self.with.push(include);
        self
    }
}

impl OrderBy {
    pub fn column(column: impl Into<String>, direction: Direction) -> OrderBy {
        OrderBy {
            column: Some(column.into()),
            expr: None,
            direction,
            nulls: None,
        }
    }

    pub fn expr(expr: Expr, direction: Direction) -> OrderBy {
        OrderBy {
            column: None,
            expr: Some(expr),
            direction,
            nulls: None,
        }
    }

    pub fn nulls(mut self, nulls: Nulls) -> OrderBy {
        self.nulls = Some(nulls);
        self
    }
}

impl Include {
    pub fn relation(relation: impl Into<String>) -> Include {
        Include {
            relation: relation.into(),
            columns: None,
            filter: None,
            order_by: Vec::new(),
            with: Vec::new(),
        }
    }

    pub fn with(mut self, include: Include) -> Include {
        self.with.push(include);
        self
    }
}

impl Insert {
    /// `INSERT INTO table` of object rows.
    pub fn rows<I>(table: impl Into<String>, rows: I) -> Insert
    where
        I: IntoIterator<Item = BTreeMap<String, serde_json::Value>>,
    {
        Insert {
            into: table.into(),
            source: InsertSource::Rows(rows.into_iter().collect()),
            on_conflict: None,
            returning: Vec::new(),
        }
    }

    pub fn select<I, S>(table: impl Into<String>, columns: I, query: Select) -> Insert
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Insert {
            into: table.into(),
            source: InsertSource::Select(InsertSelect {
                columns: columns.into_iter().map(Into::into).collect(),
                query: Box::new(query),
            }),
            on_conflict: None,
            returning: Vec::new(),
        }
    }

    pub fn on_conflict_do_nothing<I, S>(mut self, columns: I) -> Insert
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.on_conflict = Some(OnConflict {
            columns: columns.into_iter().map(Into::into).collect(),
            constraint: None,
            action: ConflictAction::Nothing,
        });
        self
    }

    pub fn on_conflict_update<I, S>(
        mut self,
        columns: I,
        set: BTreeMap<String, Expr>,
        filter: Option<Filter>,
    ) -> Insert
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.on_conflict = Some(OnConflict {
            columns: columns.into_iter().map(Into::into).collect(),
            constraint: None,
            action: ConflictAction::Update { set, filter },
        });
        self
    }

    pub fn returning<I, S>(mut self, columns: I) -> Insert
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.returning
            .extend(columns.into_iter().map(|c| SelectItem::Column(c.into())));
        self
    }
}

impl Update {
    pub fn table(table: impl Into<String>) -> Update {
        Update {
            table: table.into(),
            set: BTreeMap::new(),
            filter: None,
            all_rows: false,
            returning: Vec::new(),
        }
    }

    pub fn set(mut self, column: impl Into<String>, value: impl Into<Expr>) -> Update {
        self.set.insert(column.into(), value.into());
        self
    }

    pub fn filter(mut self, filter: Filter) -> Update {
        self.filter = Some(filter);
        self
    }

    pub fn all_rows(mut self) -> Update {
        self.all_rows = true;
        self
    }

    pub fn returning<I, S>(mut self, columns: I) -> Update
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.returning
            .extend(columns.into_iter().map(|c| SelectItem::Column(c.into())));
        self
    }
}

impl Delete {
    pub fn from(table: impl Into<String>) -> Delete {
        Delete {
            from: table.into(),
            filter: None,
            all_rows: false,
            returning: Vec::new(),
        }
    }

    pub fn filter(mut self, filter: Filter) -> Delete {
        self.filter = Some(filter);
        self
    }

    pub fn all_rows(mut self) -> Delete {
        self.all_rows = true;
        self
    }

    pub fn returning<I, S>(mut self, columns: I) -> Delete
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.returning
            .extend(columns.into_iter().map(|c| SelectItem::Column(c.into())));
        self
    }
}
