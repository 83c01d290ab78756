//! A page of workflows read straight into the [`Workflow`]s of the text
//! listing, in one pass over the body: the few fields a listing block shows
//! become strings as they are read, everything else is skipped. No `Value`
//! is built, so no map per workflow, step and input: for a page of large
//! workflows that is most of the allocating (and, with musl's allocator,
//! of the memory mapped and unmapped again).
//!
//! It reads what [`Workflow::from_value`] reads of a whole `Value`, in the
//! same way: a scalar where text belongs is its text, anything else there
//! is nothing, a key given twice keeps its last value, a step that is not
//! an object is left out, and of the prompt only the head a listing shows
//! ([`PROMPT_SHOWN`]) is kept.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use super::{not_json, Step, Workflow, PROMPT_SHOWN};
use crate::error::{Error, Result};

/// The visits of booleans and numbers, each giving `$v`.
macro_rules! numbers_are {
    ($v:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($v)
        }
    };
}

/// The visits of every scalar, each giving `$none` (`null`: `$null`).
macro_rules! scalars_are {
    ($none:expr, $null:expr) => {
        numbers_are!($none);
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($null)
        }
    };
}

/// The visit of an array, skipped (without recursion), giving `$v`.
macro_rules! arrays_are {
    ($v:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($v)
        }
    };
}

/// The visit of an object, skipped (without recursion), giving `$v`.
macro_rules! objects_are {
    ($v:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($v)
        }
    };
}

/// A page of the listing: each item a workflow, or `None` for an item that
/// is not a JSON object (the caller says so where it meets it).
pub struct ListedPage {
    pub items: Vec<Option<Workflow>>,
    next: Option<String>,
}

impl ListedPage {
    /// Parses a page; what a `Page` refuses, this refuses too.
    pub fn parse(body: &str, what: &str) -> Result<ListedPage> {
        let mut de = serde_json::Deserializer::from_str(body);
        let page = de
            .deserialize_any(PageVisitor)
            .and_then(|p| de.end().map(|()| p))
            .map_err(|e| not_json(what, &e))?;
        page.ok_or_else(|| {
            Error::other(format!(
                "the API sent a body that is not the expected JSON for {what}"
            ))
        })
    }

    /// The cursor of the next page, as `Page::next_cursor` has it.
    pub fn next_cursor(&self) -> Option<&str> {
        self.next.as_deref()
    }
}

/// A wrong type where the page's parts belong: the page is refused (after
/// the rest of it was read, so that a syntax error is reported as one).
type Read<T> = Option<T>;

struct PageVisitor;

impl<'de> Visitor<'de> for PageVisitor {
    type Value = Read<ListedPage>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a page of workflows")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut items, mut next, mut next_cursor) = (Some(Vec::new()), Some(None), Some(None));
        while let Some(key) = map.next_key::<KeyName>()? {
            match key.0 {
                Some("items") => items = map.next_value_seed(Items)?,
                Some("next") => next = map.next_value_seed(Cursor)?,
                Some("nextCursor") => next_cursor = map.next_value_seed(Cursor)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(items), Some(next), Some(next_cursor)) = (items, next, next_cursor) else {
            return Ok(None);
        };
        Ok(Some(ListedPage {
            items,
            next: next.or(next_cursor).filter(|c| !c.is_empty()),
        }))
    }

    arrays_are!(None);

    numbers_are!(None);

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// `items`: absent or null is no items; an array is read item by item;
/// anything else refuses the page.
struct Items;

impl<'de> DeserializeSeed<'de> for Items {
    type Value = Read<Vec<Option<Workflow>>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items {
    type Value = Read<Vec<Option<Workflow>>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of workflows")
    }

    scalars_are!(None, Some(Vec::new()));

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(w) = seq.next_element_seed(Object(WorkflowFields))? {
            items.push(w);
        }
        Ok(Some(items))
    }

    objects_are!(None);
}

/// `next` or `nextCursor`: a string, or null; anything else refuses the page.
struct Cursor;

impl<'de> DeserializeSeed<'de> for Cursor {
    type Value = Read<Option<String>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Cursor {
    type Value = Read<Option<String>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a cursor")
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(Some(s.to_string())))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Some(None))
    }

    numbers_are!(None);

    arrays_are!(None);

    objects_are!(None);
}

/// An object's fields read into `T`; anything but an object is `None`.
#[derive(Clone, Copy)]
struct Object<F>(F);

/// What is read of one object: its fields, one key at a time.
trait Fields: Copy {
    type Out: Default;
    fn field<'de, A: MapAccess<'de>>(
        self,
        out: &mut Self::Out,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error>;
}

impl<'de, F: Fields> DeserializeSeed<'de> for Object<F> {
    type Value = Option<F::Out>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: Fields> Visitor<'de> for Object<F> {
    type Value = Option<F::Out>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    scalars_are!(None, None);

    arrays_are!(None);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = F::Out::default();
        while let Some(key) = map.next_key::<KeyName>()? {
            match key.0 {
                Some(k) => self.0.field(&mut out, k, &mut map)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(out))
    }
}

#[derive(Clone, Copy)]
struct WorkflowFields;

impl Fields for WorkflowFields {
    type Out = Workflow;

    fn field<'de, A: MapAccess<'de>>(
        self,
        w: &mut Workflow,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match key {
            "id" => w.id = map.next_value_seed(Text)?,
            "status" => w.status = map.next_value_seed(Text)?,
            "createdAt" => w.created_at = map.next_value_seed(Text)?,
            "completedAt" => w.completed_at = map.next_value_seed(Text)?,
            "tags" => {
                w.tags = map
                    .next_value_seed(ListOf(Text))?
                    .into_iter()
                    .flatten()
                    .collect()
            }
            "steps" => {
                w.steps = map
                    .next_value_seed(ListOf(Object(StepFields)))?
                    .into_iter()
                    .flatten()
                    .collect()
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct StepFields;

impl Fields for StepFields {
    type Out = Step;

    fn field<'de, A: MapAccess<'de>>(
        self,
        s: &mut Step,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match key {
            "$type" => s.kind = map.next_value_seed(Text)?,
            "name" => s.name = map.next_value_seed(Text)?,
            "status" => s.status = map.next_value_seed(Text)?,
            "input" => {
                s.prompt = map
                    .next_value_seed(Object(InputFields))?
                    .and_then(|i: Input| i.prompt)
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Input {
    prompt: Option<String>,
}

#[derive(Clone, Copy)]
struct InputFields;

impl Fields for InputFields {
    type Out = Input;

    fn field<'de, A: MapAccess<'de>>(
        self,
        i: &mut Input,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match key {
            "prompt" => i.prompt = map.next_value_seed(Prompt)?,
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// An array read element by element; anything else is an empty list.
struct ListOf<S>(S);

impl<'de, S: DeserializeSeed<'de> + Copy> DeserializeSeed<'de> for ListOf<S> {
    type Value = Vec<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: DeserializeSeed<'de> + Copy> Visitor<'de> for ListOf<S> {
    type Value = Vec<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }

    scalars_are!(Vec::new(), Vec::new());

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.0)? {
            out.push(v);
        }
        Ok(out)
    }

    objects_are!(Vec::new());
}

/// A scalar as text (a string as it is, a number or a boolean as JSON
/// writes it); objects, arrays and null are not text.
#[derive(Clone, Copy)]
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("text")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Some(b.to_string()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Some(n.to_string()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Some(n.to_string()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(n).map(|n| n.to_string()))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(s.to_string()))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    arrays_are!(None);

    objects_are!(None);
}

/// A prompt: a string, of which the head a listing shows and one more
/// character (which tells that there was more); anything else is none.
struct Prompt;

impl<'de> DeserializeSeed<'de> for Prompt {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Prompt {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a prompt")
    }

    numbers_are!(None);

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(crate::text::head(s, PROMPT_SHOWN + 1).0.to_string()))
    }

    arrays_are!(None);

    objects_are!(None);
}

/// An object key, read without a copy: one a listing reads, or `None`.
struct KeyName(Option<&'static str>);

impl<'de> serde::Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

/// The keys any reader of this file looks at; others are not copied.
const READ_KEYS: &[&str] = &[
    "items",
    "next",
    "nextCursor",
    "id",
    "status",
    "createdAt",
    "completedAt",
    "tags",
    "steps",
    "$type",
    "name",
    "input",
    "prompt",
];

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = KeyName;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, s: &str) -> Result<KeyName, E> {
        Ok(KeyName(READ_KEYS.iter().find(|k| **k == s).copied()))
    }
}
