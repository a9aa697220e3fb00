//! Result rows as they arrive off the wire, before decoding.
//!
//! Drivers only move bytes: they fill a [`RawRows`] with each cell's wire
//! bytes and the core's decoder turns them into values. Cells are stored in one
//! contiguous buffer so a large result costs two allocations, not one per cell.

use std::collections::HashMap;
use std::ops::Range;

/// A column of a result, as described by the server (RowDescription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDesc {
    pub name: String,
    /// The PostgreSQL type OID of the column.
    pub type_oid: u32,
    /// 0 for text, 1 for binary: the format the cell bytes are in.
    pub format: i16,
}

/// The rows of one result, undecoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRows {
    columns: Vec<ColumnDesc>,
    data: Vec<u8>,
    /// `rows * columns` entries; `None` is SQL NULL.
    cells: Vec<Option<Range<u32>>>,
}

/// One row of a [`RawRows`].
#[derive(Debug, Clone, Copy)]
pub struct RawRow<'a> {
    rows: &'a RawRows,
    index: usize,
}

/// The distinct non-NULL values of one column, told apart by their wire
/// bytes (unique per value of one type): what eager loading matches parent
/// and child rows by.
#[derive(Debug, Clone, Default)]
pub struct KeyIndex<'a> {
    /// Each distinct value's number, counting from 0 in first-seen order.
    pub numbers: HashMap<&'a [u8], usize>,
    /// For each row, the number of its value; `None` for NULL.
    pub rows: Vec<Option<usize>>,
}

/// A cell count or buffer size exceeded what a [`RawRows`] can index.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RawRowsError {
    #[error("row has {found} cells but the result has {expected} columns")]
    WrongCellCount { expected: usize, found: usize },
    #[error("result exceeds 4 GiB of cell data")]
    TooLarge,
}

impl RawRows {
    pub fn new(columns: Vec<ColumnDesc>) -> Self {
        RawRows {
            columns,
            data: Vec::new(),
            cells: Vec::new(),
        }
    }

    pub fn columns(&self) -> &[ColumnDesc] {
        &self.columns
    }

    pub fn len(&self) -> usize {
        self.cells
            .len()
            .checked_div(self.columns.len())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Appends one row. On error nothing is appended.
    pub fn push_row<'c, I>(&mut self, cells: I) -> Result<(), RawRowsError>
    where
        I: IntoIterator<Item = Option<&'c [u8]>>,
    {
        let start_cells = self.cells.len();
        let start_data = self.data.len();
        let result = self.push_cells(cells);
        if result.is_err() {
            self.cells.truncate(start_cells);
            self.data.truncate(start_data);
        }
        result
    }

    fn push_cells<'c, I>(&mut self, cells: I) -> Result<(), RawRowsError>
    where
        I: IntoIterator<Item = Option<&'c [u8]>>,
    {
        let mut found = 0usize;
        for cell in cells {
            found += 1;
            let range = match cell {
                None => None,
                Some(bytes) => {
                    let start =
                        u32::try_from(self.data.len()).map_err(|_| RawRowsError::TooLarge)?;
                    self.data.extend_from_slice(bytes);
                    let end = u32::try_from(self.data.len()).map_err(|_| RawRowsError::TooLarge)?;
                    Some(start..end)
                }
            };
            self.cells.push(range);
        }
        if found != self.columns.len() {
            return Err(RawRowsError::WrongCellCount {
                expected: self.columns.len(),
                found,
            });
        }
        Ok(())
    }

    pub fn row(&self, index: usize) -> Option<RawRow<'_>> {
        (index < self.len()).then_some(RawRow { rows: self, index })
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = RawRow<'_>> + '_ {
        (0..self.len()).map(move |index| RawRow { rows: self, index })
    }

    /// Numbers the distinct values of `column`; see [`KeyIndex`].
    pub fn key_index(&self, column: usize) -> KeyIndex<'_> {
        let mut numbers = HashMap::new();
        let rows = self
            .iter()
            .map(|row| {
                let bytes = row.get(column)?;
                let next = numbers.len();
                Some(*numbers.entry(bytes).or_insert(next))
            })
            .collect();
        KeyIndex { numbers, rows }
    }
}

impl<'a> RawRow<'a> {
    /// The wire bytes of column `column`, `None` for NULL or an index out of range.
    pub fn get(&self, column: usize) -> Option<&'a [u8]> {
        let width = self.rows.columns.len();
        if column >= width {
            return None;
        }
        let range = self.rows.cells.get(self.index * width + column)?.clone()?;
        self.rows.data.get(range.start as usize..range.end as usize)
    }

    pub fn len(&self) -> usize {
        self.rows.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.columns.is_empty()
    }

    /// The columns of the result this row belongs to.
    pub fn columns(&self) -> &'a [ColumnDesc] {
        &self.rows.columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(n: usize) -> Vec<ColumnDesc> {
        (0..n)
            .map(|i| ColumnDesc {
                name: format!("c{i}"),
                type_oid: 25,
                format: 1,
            })
            .collect()
    }

    #[test]
    fn stores_cells_and_nulls() {
        let mut rows = RawRows::new(cols(2));
        rows.push_row([Some(&b"ab"[..]), None]).unwrap();
        rows.push_row([Some(&b""[..]), Some(&b"xyz"[..])]).unwrap();
        assert_eq!(rows.len(), 2);
        let r0 = rows.row(0).unwrap();
        assert_eq!(r0.get(0), Some(&b"ab"[..]));
        assert_eq!(r0.get(1), None);
        let r1 = rows.row(1).unwrap();
        assert_eq!(r1.get(0), Some(&b""[..]));
        assert_eq!(r1.get(1), Some(&b"xyz"[..]));
        assert!(rows.row(2).is_none());
    }

    #[test]
    fn numbers_distinct_keys_in_first_seen_order() {
        let mut rows = RawRows::new(cols(1));
        for cell in [Some(&b"b"[..]), None, Some(b"a"), Some(b"b")] {
            rows.push_row([cell]).unwrap();
        }
        let index = rows.key_index(0);
        assert_eq!(index.rows, [Some(0), None, Some(1), Some(0)]);
        assert_eq!(index.numbers.len(), 2);
        assert_eq!(index.numbers.get(&b"a"[..]), Some(&1));
    }

    #[test]
    fn rejects_wrong_width_without_partial_append() {
        let mut rows = RawRows::new(cols(2));
        let err = rows.push_row([Some(&b"a"[..])]).unwrap_err();
        assert_eq!(
            err,
            RawRowsError::WrongCellCount {
                expected: 2,
                found: 1
            }
        );
        assert_eq!(rows.len(), 0);
        assert!(rows.is_empty());
    }
}
