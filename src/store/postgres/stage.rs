//! Rows as column arrays for PostgreSQL writes: the transpose of rows into one typed array per
//! written column (`store::columns` says which columns a write sends and how each is read from
//! the row), which an upsert reads with `unnest($1::text[], $2::int4[], ...)`. A statement binds
//! one parameter per column whatever the row count, so the 65,535 bind-parameter limit never
//! applies; rows arrive one per key from `store::keep` (ON CONFLICT cannot touch a row twice).

use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::types::ToSql;

use crate::store::columns::{Get, Ty, Val, Written};
use crate::store::{Error, Result};

/// The array type a column is sent as (a numeric goes as float8 and is cast in the statement).
pub(super) fn array_type(ty: Ty) -> &'static str {
    match ty {
        Ty::Text | Ty::BlankText => "text",
        Ty::Int => "int4",
        Ty::Numeric => "float8",
        Ty::Bool => "bool",
        Ty::Date => "date",
        Ty::Instant => "timestamptz",
        Ty::Bytes => "bytea",
    }
}

/// One column of many rows, as the array parameter `unnest` reads.
enum Array<'a> {
    Text(Vec<Option<&'a str>>),
    Int(Vec<Option<i32>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Date(Vec<Option<NaiveDate>>),
    Instant(Vec<Option<DateTime<Utc>>>),
    Bytes(Vec<&'a [u8]>),
}

impl<'a> Array<'a> {
    fn new(ty: Ty, n: usize) -> Self {
        match ty {
            Ty::Text | Ty::BlankText => Array::Text(Vec::with_capacity(n)),
            Ty::Int => Array::Int(Vec::with_capacity(n)),
            Ty::Numeric => Array::Float(Vec::with_capacity(n)),
            Ty::Bool => Array::Bool(Vec::with_capacity(n)),
            Ty::Date => Array::Date(Vec::with_capacity(n)),
            Ty::Instant => Array::Instant(Vec::with_capacity(n)),
            Ty::Bytes => Array::Bytes(Vec::with_capacity(n)),
        }
    }

    /// Append one value; a value of another type than the column is a bug in `store::columns`.
    fn push(&mut self, v: Val<'a>, table: &str, column: &str) -> Result<()> {
        match (self, v) {
            (Array::Text(a), Val::Text(v)) => a.push(v),
            (Array::Int(a), Val::Int(v)) => a.push(v),
            (Array::Float(a), Val::Float(v)) => a.push(v),
            (Array::Bool(a), Val::Bool(v)) => a.push(v),
            (Array::Date(a), Val::Date(v)) => a.push(v),
            (Array::Instant(a), Val::Instant(v)) => a.push(v),
            (Array::Bytes(a), Val::Bytes(v)) => a.push(v),
            (_, v) => {
                return Err(Error::Query(format!(
                    "internal: column {table}.{column} was given {v:?}, not its declared type; this is a bug"
                )));
            }
        }
        Ok(())
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Array::Text(a) => a,
            Array::Int(a) => a,
            Array::Float(a) => a,
            Array::Bool(a) => a,
            Array::Date(a) => a,
            Array::Instant(a) => a,
            Array::Bytes(a) => a,
        }
    }
}

/// Rows of one type transposed into one array per column.
pub(super) struct Columns<'a> {
    arrays: Vec<Array<'a>>,
    rows: usize,
}

impl<'a> Columns<'a> {
    /// The arrays of `cols` (those read from the row; stamps are the statement's) over `rows`.
    pub(super) fn new<R>(table: &str, cols: &[Written<R>], rows: &[&'a R]) -> Result<Self> {
        let mut arrays = Vec::with_capacity(cols.len());
        for w in cols {
            let Get::Row(get) = w.column.get else { continue };
            let mut array = Array::new(w.column.ty, rows.len());
            for row in rows {
                array.push(get(row), table, w.column.name)?;
            }
            arrays.push(array);
        }
        Ok(Columns { arrays, rows: rows.len() })
    }

    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// The arrays as statement parameters, after `before` (parameters the statement names first).
    pub(super) fn params<'p>(&'p self, before: &[&'p (dyn ToSql + Sync)]) -> Vec<&'p (dyn ToSql + Sync)> {
        let mut out = before.to_vec();
        out.extend(self.arrays.iter().map(Array::param));
        out
    }
}

/// `unnest($k::text[], ...) AS s(col, ...)`: the rows as a table, their arrays numbered from
/// `$first`; `cols` are the (name, type) of the columns read from the row.
pub(super) fn unnest(cols: &[(&str, Ty)], first: usize) -> String {
    let arrays: Vec<String> =
        cols.iter().enumerate().map(|(i, (_, ty))| format!("${}::{}[]", first + i, array_type(*ty))).collect();
    let names: Vec<&str> = cols.iter().map(|(c, _)| *c).collect();
    format!("unnest({}) AS s({})", arrays.join(", "), names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Person;
    use crate::store::columns::JOCKEYS;

    #[test]
    fn rows_become_one_array_per_column() {
        let a = Person { id: "jky_1".into(), name: "A".into() };
        let b = Person { id: "jky_2".into(), name: "B".into() };
        let cols = Columns::new("jockeys", &JOCKEYS.written(None), &[&a, &b]).ok();
        assert_eq!(cols.as_ref().map(Columns::rows), Some(2));
        assert_eq!(cols.map(|c| c.params(&[]).len()), Some(2));
        assert_eq!(unnest(&[("id", Ty::Text), ("name", Ty::Text)], 2), "unnest($2::text[], $3::text[]) AS s(id, name)");
    }
}
