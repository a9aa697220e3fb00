//! Conversions between keel values and JS values, and keel errors as JS errors.

use js_sys::{Array, Object, Reflect};

use keel_core::compile::plan::PARENT_KEY_COLUMN;
use keel_core::compile::{Load, Plan};
use keel_core::db::RawPlan;
use keel_core::protocol::StartupConfig;
use keel_core::query::RowShape;
use keel_core::schema::RelationKind;
use keel_core::types::{check_columns, Timestamp};
use keel_core::{Error, RawRows, Rows, Statement, Value};
use wasm_bindgen::prelude::*;

/// How values without an exact JS number type are returned.
#[derive(Debug, Clone, Copy)]
pub struct ValueOptions {
    /// int8 as a string instead of a BigInt.
    pub int8_as_string: bool,
    /// timestamptz as an RFC 3339 string instead of a Date (a Date drops microseconds).
    pub timestamptz_as_string: bool,
}

fn get_string(options: &JsValue, key: &str) -> Result<Option<String>, JsValue> {
    let value = Reflect::get(options, &key.into())?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.as_string().map(Some).ok_or_else(|| {
        plain_error(
            "KeelCompileError",
            "compile",
            &format!("connect option {key:?} must be a string"),
        )
    })
}

fn choice(options: &JsValue, key: &str, default: &str, other: &str) -> Result<bool, JsValue> {
    match get_string(options, key)? {
        None => Ok(false),
        Some(v) if v == default => Ok(false),
        Some(v) if v == other => Ok(true),
        Some(v) => Err(plain_error(
            "KeelCompileError",
            "compile",
            &format!("connect option {key:?} must be {default:?} or {other:?}, not {v:?}"),
        )),
    }
}

pub fn connect_options(options: &JsValue) -> Result<(StartupConfig, ValueOptions), JsValue> {
    if !options.is_object() {
        return Err(plain_error(
            "KeelCompileError",
            "compile",
            "connect options must be an object with at least `user`",
        ));
    }
    let user = get_string(options, "user")?.ok_or_else(|| {
        plain_error(
            "KeelCompileError",
            "compile",
            "connect option `user` is required",
        )
    })?;
    let config = StartupConfig {
        user,
        password: get_string(options, "password")?,
        database: get_string(options, "database")?,
        application_name: get_string(options, "applicationName")?,
        options: None,
    };
    let values = ValueOptions {
        int8_as_string: choice(options, "int8", "bigint", "string")?,
        timestamptz_as_string: choice(options, "timestamptz", "date", "string")?,
    };
    Ok((config, values))
}

/// A value as JS sees it: numbers for int2/int4/oid/floats, int8 as a
/// BigInt (or string), numeric as a string (exact), timestamptz as a Date
/// (or an RFC 3339 string), bytea as a Uint8Array, json/jsonb parsed, arrays
/// as (nested) JS arrays, records as arrays of their fields, ranges as
/// `{lower, upper, lower_inc, upper_inc}` or `{empty: true}`; every other
/// type as the string of keel's canonical JSON form (docs/value-mapping.md).
pub(crate) fn value_to_js(value: &Value, options: ValueOptions) -> JsValue {
    use keel_core::types::{ArrayDim, Bound};
    let canonical = |value: &Value| {
        value
            .json_string()
            .map_or(JsValue::NULL, |text| JsValue::from_str(&text))
    };
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(v) => JsValue::from_bool(*v),
        Value::Int2(v) => JsValue::from_f64(f64::from(*v)),
        Value::Int4(v) => JsValue::from_f64(f64::from(*v)),
        Value::Oid(v) => JsValue::from_f64(f64::from(*v)),
        Value::Int8(v) if options.int8_as_string => JsValue::from_str(&v.to_string()),
        Value::Int8(v) => js_sys::BigInt::from(*v).into(),
        Value::Float4(v) => JsValue::from_f64(f64::from(*v)),
        Value::Float8(v) => JsValue::from_f64(*v),
        Value::Numeric(v) | Value::Text(v) => JsValue::from_str(v),
        Value::Timestamptz(Timestamp::Micros(micros)) if !options.timestamptz_as_string => {
            // Milliseconds since 1970; a Date keeps no finer precision.
            let ms = (*micros).div_euclid(1000) as f64 + 946_684_800_000.0;
            js_sys::Date::new(&JsValue::from_f64(ms)).into()
        }
        Value::Timestamptz(ts) => JsValue::from_str(&ts.to_string()),
        Value::Bytea(bytes) => js_sys::Uint8Array::from(&bytes[..]).into(),
        Value::Json(text) | Value::Jsonb(text) => {
            js_sys::JSON::parse(text).unwrap_or_else(|_| JsValue::from_str(text))
        }
        Value::Array(array) => {
            fn nest(dims: &[ArrayDim], elements: &[Value], options: ValueOptions) -> JsValue {
                let out = Array::new();
                let Some((dim, inner)) = dims.split_first().filter(|_| !elements.is_empty()) else {
                    return out.into();
                };
                let stride = ArrayDim::product(inner);
                for i in 0..dim.count() {
                    if inner.is_empty() {
                        out.push(
                            &elements
                                .get(i)
                                .map_or(JsValue::NULL, |v| value_to_js(v, options)),
                        );
                    } else {
                        let start = (i * stride).min(elements.len());
                        let end = (start + stride).min(elements.len());
                        out.push(&nest(inner, &elements[start..end], options));
                    }
                }
                out.into()
            }
            nest(&array.dims, &array.elements, options)
        }
        Value::Range(range) => {
            let object = Object::new();
            let set = |key: &str, value: &JsValue| {
                let _ = Reflect::set(&object, &key.into(), value);
            };
            match &range.bounds {
                None => set("empty", &JsValue::TRUE),
                Some((lower, upper)) => {
                    for (key, inc_key, bound) in
                        [("lower", "lower_inc", lower), ("upper", "upper_inc", upper)]
                    {
                        match bound {
                            Bound::Unbounded => {
                                set(key, &JsValue::NULL);
                                set(inc_key, &JsValue::FALSE);
                            }
                            Bound::Inclusive(v) | Bound::Exclusive(v) => {
                                set(key, &value_to_js(v, options));
                                set(
                                    inc_key,
                                    &JsValue::from_bool(matches!(bound, Bound::Inclusive(_))),
                                );
                            }
                        }
                    }
                }
            }
            object.into()
        }
        Value::Record(fields) => fields
            .iter()
            .map(|f| value_to_js(&f.value, options))
            .collect::<Array>()
            .into(),
        Value::Char(_)
        | Value::Uuid(_)
        | Value::Date(_)
        | Value::Time(_)
        | Value::Timetz(_)
        | Value::Timestamp(_)
        | Value::Interval(_)
        | Value::Inet(_)
        | Value::Cidr(_)
        | Value::Macaddr(_) => canonical(value),
    }
}

pub fn rows_to_js(rows: &Rows, options: ValueOptions) -> Result<Array, JsValue> {
    let keys: Vec<JsValue> = rows.columns.iter().map(|c| JsValue::from_str(c)).collect();
    let out = Array::new_with_length(rows.rows.len() as u32);
    for (i, row) in rows.rows.iter().enumerate() {
        let object = Object::new();
        for (key, value) in keys.iter().zip(row) {
            Reflect::set(&object, key, &value_to_js(value, options))?;
        }
        out.set(i as u32, object.into());
    }
    Ok(out)
}

/// Nests eager-loaded rows under their parents: each relation becomes a
/// property holding an array (has-many, many-to-many) or one object or null
/// (belongs-to, has-one). `columns` and `loads` are the compiled plan's,
/// whose shape the fetched rows follow level for level; parents and
/// children are matched by the wire bytes of their keys.
pub fn plan_to_js(
    fetched: &RawPlan,
    columns: &[String],
    loads: &[Load],
    options: ValueOptions,
) -> Result<Array, JsValue> {
    let parents = shaped_raw_to_js(columns, &fetched.rows, RowShape::Objects, options)
        .map_err(|e| to_js_error(&e))?;
    for (loaded, load) in fetched.loads.iter().zip(loads) {
        let children = plan_to_js(&loaded.rows, &load.statement.columns, &load.loads, options)?;
        let child_rows = &loaded.rows.rows;
        let child_key = column_index(child_rows, &loaded.child_key)?;
        let hidden_key = child_rows.columns()[child_key].name == PARENT_KEY_COLUMN;
        let index = child_rows.key_index(child_key);
        let mut groups: Vec<Vec<JsValue>> = Vec::new();
        groups.resize_with(index.numbers.len(), Vec::new);
        for (number, child) in index.rows.iter().zip(children.iter()) {
            if hidden_key {
                Reflect::delete_property(&child.clone().into(), &PARENT_KEY_COLUMN.into())?;
            }
            if let Some(group) = number.and_then(|n| groups.get_mut(n)) {
                group.push(child);
            }
        }
        let parent_key = column_index(&fetched.rows, &loaded.parent_key)?;
        let many = matches!(load.kind, RelationKind::HasMany | RelationKind::ManyToMany);
        for (row, parent) in fetched.rows.iter().zip(parents.iter()) {
            let matched = row
                .get(parent_key)
                .and_then(|key| index.numbers.get(key))
                .and_then(|&n| groups.get(n))
                .map_or(&[][..], Vec::as_slice);
            let value: JsValue = if many {
                matched.iter().collect::<Array>().into()
            } else {
                matched.first().cloned().unwrap_or(JsValue::NULL)
            };
            Reflect::set(&parent, &load.relation.as_str().into(), &value)?;
        }
    }
    Ok(parents)
}

fn column_index(rows: &RawRows, name: &str) -> Result<usize, JsValue> {
    rows.columns()
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| {
            plain_error(
                "KeelDecodeError",
                "decode",
                &format!("eager loading: the result has no key column {name:?}"),
            )
        })
}

/// `{ sql, params, loads: [...] }` for a plan: the root statement and, level
/// by level, the batched statements that load relations.
pub fn plan_statements_to_js(plan: &Plan) -> Result<JsValue, JsValue> {
    fn loads_to_js(loads: &[Load]) -> Result<Array, JsValue> {
        let out = Array::new();
        for load in loads {
            let entry = statement_to_js(&load.statement)?;
            Reflect::set(&entry, &"relation".into(), &load.relation.as_str().into())?;
            Reflect::set(&entry, &"loads".into(), &loads_to_js(&load.loads)?.into())?;
            out.push(&entry);
        }
        Ok(out)
    }
    let out = statement_to_js(&plan.root)?;
    Reflect::set(&out, &"loads".into(), &loads_to_js(&plan.loads)?.into())?;
    Ok(out)
}

/// Rows in the shape the definition asked for: objects keyed by column, or
/// arrays of values.
pub fn shaped_rows_to_js(
    rows: &Rows,
    shape: RowShape,
    options: ValueOptions,
) -> Result<Array, JsValue> {
    match shape {
        RowShape::Objects => rows_to_js(rows, options),
        RowShape::Values => Ok(rows_to_js_values(rows, options)),
    }
}

/// The rows of `raw` in the requested shape, once its columns are checked
/// against the statement's: built in JS from the flat form when the npm
/// package installed its materializer, otherwise decoded and converted
/// cell by cell.
pub fn shaped_raw_to_js(
    expected: &[String],
    raw: &RawRows,
    shape: RowShape,
    options: ValueOptions,
) -> Result<Array, Error> {
    check_columns(expected, raw)?;
    if let Some(built) = crate::batch::materialize(raw, options, shape == RowShape::Values) {
        return built;
    }
    let rows = Rows::decode(expected, raw)?;
    shaped_rows_to_js(&rows, shape, options)
        .map_err(|e| crate::transport::js_error("building the rows failed", e))
}

/// Values-style rows: one array of values per row, in column order.
pub fn rows_to_js_values(rows: &Rows, options: ValueOptions) -> Array {
    let out = Array::new_with_length(rows.rows.len() as u32);
    for (i, row) in rows.rows.iter().enumerate() {
        let values: Array = row.iter().map(|v| value_to_js(v, options)).collect();
        out.set(i as u32, values.into());
    }
    out
}

/// `{ sql, params }`, params in keel's canonical JSON form.
pub fn statement_to_js(statement: &Statement) -> Result<JsValue, JsValue> {
    let out = Object::new();
    Reflect::set(&out, &"sql".into(), &JsValue::from_str(&statement.sql))?;
    let params = Value::list_to_json(&statement.params);
    Reflect::set(&out, &"params".into(), &js_sys::JSON::parse(&params)?)?;
    Ok(out.into())
}

pub fn plain_error(name: &str, kind: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name(name);
    let _ = Reflect::set(&error, &"kind".into(), &kind.into());
    error.into()
}

fn set_opt(target: &JsValue, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        let _ = Reflect::set(target, &key.into(), &v.into());
    }
}

/// A JS `Error` whose `name` is the error class (`KeelServerError`, ...),
/// with `kind` and, for server errors, every field the server sent.
pub fn to_js_error(error: &Error) -> JsValue {
    let (name, kind) = match error {
        Error::Compile(_) => ("KeelCompileError", "compile"),
        Error::Auth { .. } => ("KeelAuthError", "auth"),
        Error::Server(_) => ("KeelServerError", "server"),
        Error::Protocol(_) => ("KeelProtocolError", "protocol"),
        Error::Encode(_) | Error::Decode(_) => ("KeelDecodeError", "decode"),
        Error::Transport(_) | Error::PoolTimeout { .. } => ("KeelTransportError", "transport"),
        Error::Closed(_) => ("KeelClosedError", "closed"),
    };
    let js = plain_error(name, kind, &error.to_string());
    match error {
        Error::Server(e) => {
            set_opt(&js, "severity", Some(&e.severity));
            set_opt(&js, "code", Some(&e.code));
            set_opt(&js, "detail", e.detail.as_deref());
            set_opt(&js, "hint", e.hint.as_deref());
            set_opt(&js, "schema", e.schema.as_deref());
            set_opt(&js, "table", e.table.as_deref());
            set_opt(&js, "column", e.column.as_deref());
            set_opt(&js, "constraint", e.constraint.as_deref());
            if let Some(p) = e.position {
                let _ = Reflect::set(&js, &"position".into(), &JsValue::from_f64(f64::from(p)));
            }
        }
        Error::Auth { code, .. } => set_opt(&js, "code", code.as_deref()),
        Error::Compile(e) => {
            let (model, column) = e.subject();
            set_opt(&js, "model", model);
            set_opt(&js, "column", column);
        }
        _ => {}
    }
    js
}
