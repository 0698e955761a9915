//! Entities (courses, horses, people, pedigree) deduplicated by id within a unit: a later record
//! wins field by field, but never blanks a field an earlier one filled.

use crate::model::{Ancestor, Course, Entities, Horse, Person, Trainer};
use std::collections::HashMap;

pub(super) trait Keyed {
    fn key(&self) -> &str;
    fn merge(&mut self, newer: Self);
}

fn keep<T>(old: &mut Option<T>, new: Option<T>) {
    if new.is_some() {
        *old = new;
    }
}

fn keep_name(old: &mut String, new: String) {
    if !new.is_empty() {
        *old = new;
    }
}

/// `Keyed` for an entity keyed by `id` whose later record wins field by field: its `name` unless
/// empty, and each listed optional field unless `None`.
macro_rules! keyed_by_id {
    ($($entity:ty { name $(, $field:ident)* })*) => {$(
        impl Keyed for $entity {
            fn key(&self) -> &str {
                &self.id
            }
            fn merge(&mut self, n: Self) {
                keep_name(&mut self.name, n.name);
                $(keep(&mut self.$field, n.$field);)*
            }
        }
    )*};
}

keyed_by_id! {
    Horse { name, sex_code, dob, colour, breeder, region, sire_id, dam_id, damsire_id }
    Person { name }
    Trainer { name, location }
    Ancestor { name, region }
}

impl Keyed for Course {
    fn key(&self) -> &str {
        &self.id
    }
    fn merge(&mut self, n: Self) {
        *self = n;
    }
}

pub(super) fn index_of<T: Keyed>(list: &[T]) -> HashMap<String, usize> {
    list.iter().enumerate().map(|(i, x)| (x.key().to_string(), i)).collect()
}

pub(super) fn upsert<T: Keyed>(list: &mut Vec<T>, index: &mut HashMap<String, usize>, item: T) {
    if let Some(&i) = index.get(item.key()) {
        list[i].merge(item);
    } else {
        index.insert(item.key().to_string(), list.len());
        list.push(item);
    }
}

#[derive(Default)]
pub(super) struct Index {
    pub(super) courses: HashMap<String, usize>,
    pub(super) horses: HashMap<String, usize>,
    pub(super) jockeys: HashMap<String, usize>,
    pub(super) trainers: HashMap<String, usize>,
    pub(super) owners: HashMap<String, usize>,
    pub(super) sires: HashMap<String, usize>,
    pub(super) dams: HashMap<String, usize>,
    pub(super) damsires: HashMap<String, usize>,
}

impl Index {
    pub(super) fn build(&mut self, e: &Entities) {
        self.courses = index_of(&e.courses);
        self.horses = index_of(&e.horses);
        self.jockeys = index_of(&e.jockeys);
        self.trainers = index_of(&e.trainers);
        self.owners = index_of(&e.owners);
        self.sires = index_of(&e.sires);
        self.dams = index_of(&e.dams);
        self.damsires = index_of(&e.damsires);
    }
}
