//! Rows handed to JavaScript in one crossing.
//!
//! Building each row object from Rust costs a wasm-to-JS call per field
//! (`Reflect.set`) and a `TextDecoder` call per string, which made a 10,000
//! row fetch several times slower than a pure-JS driver. Instead the rows
//! are flattened into a few typed arrays and one string, and a JS function
//! (`setRowMaterializer`, installed by the npm package's `init()`) builds
//! the objects. Values the flat form does not carry (json, arrays, ranges,
//! bytea, ...) travel as ready JS values through `others`, converted by
//! `value_to_js` exactly as before, so both paths give identical results.

use std::cell::RefCell;

use js_sys::{Array, BigInt64Array, Float64Array, Function, Uint32Array, Uint8Array};
use keel_core::types::{column_types, decode_cell, DecodeError, PgType, Timestamp};
use keel_core::{Error, RawRows, Value};
use wasm_bindgen::prelude::*;

use crate::convert::{value_to_js, ValueOptions};

/// One cell's kind in the flat form; the JS materializer reads the same codes.
mod kind {
    pub const NULL: u8 = 0;
    pub const FALSE: u8 = 1;
    pub const TRUE: u8 = 2;
    /// The next entry of `nums`.
    pub const NUMBER: u8 = 3;
    /// The next slice of `text`, up to the next entry of `ends`.
    pub const TEXT: u8 = 4;
    /// The next entry of `bigs`, as a BigInt.
    pub const BIGINT: u8 = 5;
    /// The next entry of `nums`, as a Date of those milliseconds.
    pub const DATE: u8 = 6;
    /// The next entry of `others`, as is.
    pub const OTHER: u8 = 7;
}

/// V8 refuses strings longer than about 2^29 UTF-16 units; a result whose
/// text would come near that goes the cell-by-cell way.
const MAX_TEXT_UNITS: usize = 1 << 28;

thread_local! {
    static MATERIALIZER: RefCell<Option<Function>> = const { RefCell::new(None) };
}

// Installs the JS function that builds rows from the flat form, or removes
// it (`undefined`), which brings back the cell-by-cell conversion; tests
// compare the two.
#[wasm_bindgen(js_name = setRowMaterializer, skip_jsdoc)]
pub fn set_row_materializer(materializer: Option<Function>) {
    MATERIALIZER.with(|m| *m.borrow_mut() = materializer);
}

/// The rows of `raw` (whose columns were checked against the statement) as
/// JS objects, or arrays when `as_values`, through the installed
/// materializer; `None` when there is none or the result's text is too
/// large for one JS string, so the caller decodes and converts cell by
/// cell instead.
pub fn materialize(
    raw: &RawRows,
    options: ValueOptions,
    as_values: bool,
) -> Option<Result<Array, Error>> {
    let materializer = MATERIALIZER.with(|m| m.borrow().clone())?;
    let flat = match Flat::build(raw, options) {
        Ok(Some(flat)) => flat,
        Ok(None) => return None,
        Err(error) => return Some(Err(error.into())),
    };
    let columns: Array = raw
        .columns()
        .iter()
        .map(|c| JsValue::from_str(&c.name))
        .collect();
    let args = Array::new();
    args.push(&columns);
    args.push(&Uint8Array::from(&flat.kinds[..]));
    args.push(&JsValue::from_str(&flat.text));
    args.push(&Uint32Array::from(&flat.ends[..]));
    args.push(&Float64Array::from(&flat.nums[..]));
    args.push(&BigInt64Array::from(&flat.bigs[..]));
    args.push(&flat.others);
    args.push(&JsValue::from_f64(raw.len() as f64));
    args.push(&JsValue::from_bool(as_values));
    Some(
        materializer
            .apply(&JsValue::NULL, &args)
            .and_then(|out| out.dyn_into::<Array>())
            .map_err(|e| crate::transport::js_error("building the rows failed", e)),
    )
}

/// How a column's cells are read: the common types straight from their
/// wire bytes, everything else through the core's decoder.
#[derive(Clone, Copy)]
enum Reader {
    Bool,
    Int2,
    Int4,
    Oid,
    Float4,
    Float8,
    Int8,
    /// Binary text types and any column sent in text format: UTF-8 as is.
    Utf8,
    Decode,
}

impl Reader {
    fn of(ty: Option<&PgType>) -> Reader {
        match ty {
            None => Reader::Utf8,
            Some(PgType::Bool) => Reader::Bool,
            Some(PgType::Int2) => Reader::Int2,
            Some(PgType::Int4) => Reader::Int4,
            Some(PgType::Oid) => Reader::Oid,
            Some(PgType::Float4) => Reader::Float4,
            Some(PgType::Float8) => Reader::Float8,
            Some(PgType::Int8) => Reader::Int8,
            Some(PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Name) => Reader::Utf8,
            Some(_) => Reader::Decode,
        }
    }
}

/// The flat form of a result, cell after cell in row order.
struct Flat {
    kinds: Vec<u8>,
    text: String,
    /// End of each text cell in `text`, in UTF-16 units (JS string indices).
    ends: Vec<u32>,
    /// UTF-16 length of `text`.
    units: usize,
    nums: Vec<f64>,
    bigs: Vec<i64>,
    others: Array,
}

impl Flat {
    /// `Ok(None)` when the text outgrows one JS string. Cells that fail to
    /// decode give the error `Rows::decode` would.
    fn build(raw: &RawRows, options: ValueOptions) -> Result<Option<Flat>, DecodeError> {
        let types = column_types(raw)?;
        let readers: Vec<Reader> = types.iter().map(|t| Reader::of(t.as_ref())).collect();
        let mut flat = Flat {
            kinds: Vec::with_capacity(raw.len() * readers.len()),
            text: String::new(),
            ends: Vec::new(),
            units: 0,
            nums: Vec::new(),
            bigs: Vec::new(),
            others: Array::new(),
        };
        for row in raw.iter() {
            for (index, reader) in readers.iter().enumerate() {
                let ty = types[index].as_ref();
                let invalid = |reason: String| DecodeError::Invalid {
                    column: raw.columns()[index].name.clone(),
                    ty: ty.map_or_else(|| "text format".into(), PgType::name),
                    reason,
                };
                let code = match (row.get(index), reader) {
                    (None, _) => kind::NULL,
                    (Some(bytes), Reader::Bool) => match bytes {
                        [0] => kind::FALSE,
                        [1] => kind::TRUE,
                        _ => flat.decoded(ty, bytes, options).map_err(invalid)?,
                    },
                    (Some(bytes), Reader::Int2) => flat
                        .fixed(ty, bytes, options, |b| f64::from(i16::from_be_bytes(b)))
                        .map_err(invalid)?,
                    (Some(bytes), Reader::Int4) => flat
                        .fixed(ty, bytes, options, |b| f64::from(i32::from_be_bytes(b)))
                        .map_err(invalid)?,
                    (Some(bytes), Reader::Oid) => flat
                        .fixed(ty, bytes, options, |b| f64::from(u32::from_be_bytes(b)))
                        .map_err(invalid)?,
                    (Some(bytes), Reader::Float4) => flat
                        .fixed(ty, bytes, options, |b| f64::from(f32::from_be_bytes(b)))
                        .map_err(invalid)?,
                    (Some(bytes), Reader::Float8) => flat
                        .fixed(ty, bytes, options, f64::from_be_bytes)
                        .map_err(invalid)?,
                    (Some(bytes), Reader::Int8) => match <[u8; 8]>::try_from(bytes) {
                        Ok(b) if !options.int8_as_string => {
                            flat.bigs.push(i64::from_be_bytes(b));
                            kind::BIGINT
                        }
                        Ok(b) => flat.text(&i64::from_be_bytes(b).to_string()),
                        Err(_) => flat.decoded(ty, bytes, options).map_err(invalid)?,
                    },
                    (Some(bytes), Reader::Utf8) => match std::str::from_utf8(bytes) {
                        Ok(text) => flat.text(text),
                        Err(e) => return Err(invalid(format!("invalid UTF-8: {e}"))),
                    },
                    (Some(bytes), Reader::Decode) => {
                        flat.decoded(ty, bytes, options).map_err(invalid)?
                    }
                };
                flat.kinds.push(code);
                if flat.units > MAX_TEXT_UNITS {
                    return Ok(None);
                }
            }
        }
        Ok(Some(flat))
    }

    /// A fixed-width number read straight from its `N` bytes; any other
    /// length goes to the core's decoder for its error.
    fn fixed<const N: usize>(
        &mut self,
        ty: Option<&PgType>,
        bytes: &[u8],
        options: ValueOptions,
        read: impl FnOnce([u8; N]) -> f64,
    ) -> Result<u8, String> {
        match <[u8; N]>::try_from(bytes) {
            Ok(b) => Ok(self.number(read(b))),
            Err(_) => self.decoded(ty, bytes, options),
        }
    }

    /// A cell through the core's decoder, then into the flat form (the
    /// malformed cells of the fast readers end here too, for the decoder's
    /// own error).
    fn decoded(
        &mut self,
        ty: Option<&PgType>,
        bytes: &[u8],
        options: ValueOptions,
    ) -> Result<u8, String> {
        let value = decode_cell(ty, Some(bytes))?;
        Ok(self.value(&value, options))
    }

    fn value(&mut self, value: &Value, options: ValueOptions) -> u8 {
        match value {
            Value::Null => kind::NULL,
            Value::Bool(false) => kind::FALSE,
            Value::Bool(true) => kind::TRUE,
            Value::Int2(v) => self.number(f64::from(*v)),
            Value::Int4(v) => self.number(f64::from(*v)),
            Value::Oid(v) => self.number(f64::from(*v)),
            Value::Float4(v) => self.number(f64::from(*v)),
            Value::Float8(v) => self.number(*v),
            Value::Int8(v) if !options.int8_as_string => {
                self.bigs.push(*v);
                kind::BIGINT
            }
            Value::Int8(v) => self.text(&v.to_string()),
            Value::Text(text) | Value::Numeric(text) => self.text(text),
            Value::Timestamptz(Timestamp::Micros(micros)) if !options.timestamptz_as_string => {
                // The same milliseconds value_to_js gives a Date.
                self.nums
                    .push((*micros).div_euclid(1000) as f64 + 946_684_800_000.0);
                kind::DATE
            }
            other => {
                self.others.push(&value_to_js(other, options));
                kind::OTHER
            }
        }
    }

    fn number(&mut self, value: f64) -> u8 {
        self.nums.push(value);
        kind::NUMBER
    }

    fn text(&mut self, text: &str) -> u8 {
        self.text.push_str(text);
        self.units += if text.is_ascii() {
            text.len()
        } else {
            text.encode_utf16().count()
        };
        // `units` stays near MAX_TEXT_UNITS at most (checked after every
        // cell), far inside u32.
        self.ends
            .push(u32::try_from(self.units).unwrap_or(u32::MAX));
        kind::TEXT
    }
}
