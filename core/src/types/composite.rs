//! Values built from other values: arrays, ranges and anonymous records.

use super::{PgType, Value};

/// One dimension of an array: its length and the index of its first element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrayDim {
    pub len: i32,
    /// PostgreSQL arrays start at 1 unless written otherwise (`'[0:1]={1,2}'`).
    pub lower: i32,
}

impl ArrayDim {
    /// The length as a count; a negative one, which `check_shape` refuses,
    /// counts as 0.
    pub fn count(&self) -> usize {
        usize::try_from(self.len).unwrap_or(0)
    }

    /// How many elements dimensions hold: the stride of the one before them.
    pub fn product(dims: &[ArrayDim]) -> usize {
        let mut product = 1;
        for dim in dims {
            product *= dim.count();
        }
        product
    }
}

/// A PostgreSQL array of any dimension. `elements` is flat, in row-major
/// order, and its length is the product of the dimension lengths; an empty
/// array has no dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub element: PgType,
    pub dims: Vec<ArrayDim>,
    pub elements: Vec<Value>,
}

impl Array {
    /// A one-dimensional array indexed from 1.
    pub fn from_elements(element: PgType, elements: Vec<Value>) -> Result<Array, String> {
        if elements.is_empty() {
            return Ok(Array {
                element,
                dims: Vec::new(),
                elements,
            });
        }
        let len = i32::try_from(elements.len()).map_err(|_| "array too long".to_string())?;
        Ok(Array {
            element,
            dims: vec![ArrayDim { len, lower: 1 }],
            elements,
        })
    }

    /// Checks that the dimensions describe exactly `elements`.
    pub(crate) fn check_shape(&self) -> Result<(), String> {
        if self.dims.len() > 6 {
            return Err(format!(
                "{} dimensions exceed PostgreSQL's limit of 6",
                self.dims.len()
            ));
        }
        let mut count: usize = if self.dims.is_empty() { 0 } else { 1 };
        for dim in &self.dims {
            let len = usize::try_from(dim.len)
                .map_err(|_| format!("negative array dimension {}", dim.len))?;
            count = count
                .checked_mul(len)
                .filter(|c| *c <= 134_217_727)
                .ok_or("array size exceeds PostgreSQL's maximum")?;
            if dim.lower.checked_add(dim.len).is_none() {
                return Err("array bounds overflow a 32-bit index".into());
            }
        }
        if count != self.elements.len() {
            return Err(format!(
                "array dimensions hold {count} elements but {} were given",
                self.elements.len()
            ));
        }
        Ok(())
    }
}

/// One end of a range.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Unbounded,
    Inclusive(Box<Value>),
    Exclusive(Box<Value>),
}

/// A range value. `bounds` is `None` for the empty range. The server
/// canonicalises discrete ranges (int4range, int8range, daterange) to `[a,b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// The range type itself, e.g. [`PgType::Int4Range`].
    pub ty: PgType,
    pub bounds: Option<(Bound, Bound)>,
}

/// A field of an anonymous record, with the type OID the server reported.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordField {
    pub oid: u32,
    pub value: Value,
}

/// The element type of a range type, if `ty` is one.
pub(crate) fn range_subtype(ty: &PgType) -> Option<PgType> {
    Some(match ty {
        PgType::Int4Range => PgType::Int4,
        PgType::Int8Range => PgType::Int8,
        PgType::NumRange => PgType::Numeric,
        PgType::DateRange => PgType::Date,
        PgType::TsRange => PgType::Timestamp,
        PgType::TstzRange => PgType::Timestamptz,
        _ => return None,
    })
}
