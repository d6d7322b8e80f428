//! Import and export of egraph-serialize 0.3 JSON.
//!
//! # Design
//!
//! Parsing uses the `egraph-serialize` crate's own serde types, so the accepted format
//! is exactly the one extraction-gym and egglog produce (`cost` defaults to 1.0,
//! `children`, `root_eclasses`, `class_data` and `subsumed` are optional). The file is
//! read into memory and parsed with `serde_json::from_str` (instead of
//! `EGraph::from_json_file`) so that errors carry the path and the 1-based line and
//! column of the problem. Structural problems that JSON typing cannot catch (dangling
//! child ids, unknown roots, empty graphs) are reported by
//! [`DenseEGraph::from_serialized_with`] and wrapped into [`LoadError::Invalid`] with the
//! path and, for those about one id, the line and column of that id: the text is read
//! a second time, on the error path only, keeping each value as a slice of it.
//!
//! Export goes the other way: [`to_serialized`] reproduces the whole e-graph (with the
//! resolved roots), [`extraction_to_serialized`] writes only the chosen nodes, whose
//! children point at the chosen node of each child class, i.e. the extracted term DAG
//! as a (trivial) e-graph that any egraph-serialize consumer can read back.

use std::path::Path;

use egraph_serialize::{ClassId, EGraph, Node, NodeId};
use indexmap::IndexMap;

use crate::cost::Cost;
use crate::dense::{BuildOptions, ClassIdx, DenseEGraph};
use crate::error::{BuildError, LoadError};
use crate::extraction::Extraction;

/// Reads and parses an egraph-serialize JSON file. A file that is not
/// UTF-8 is a [`LoadError::Json`] at the first byte that is not.
pub fn load_json(path: impl AsRef<Path>) -> Result<EGraph, LoadError> {
    let path = path.as_ref();
    parse_json_str(&read_text(path)?, path)
}

/// The text of the file at `path`, without a leading byte-order mark; one
/// that is not UTF-8 is a [`LoadError::Json`] at the first byte that is
/// not.
fn read_text(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_text(bytes).map_err(|(line, column)| LoadError::Json {
        path: path.to_path_buf(),
        line,
        column,
        message: "not valid UTF-8".into(),
    })
}

/// The contents of a text file as a string without its leading byte-order
/// mark, if any (some editors write one; it is not text); when they are not
/// UTF-8, the 1-based line and column of the first byte that is not (see
/// [`utf8_error_position`]).
///
/// ```
/// use saturn_extract::io::decode_text;
/// assert_eq!(decode_text(b"\xef\xbb\xbf{}".to_vec()), Ok("{}".to_string()));
/// assert_eq!(decode_text(b"{\n \xff}".to_vec()), Err((2, 2)));
/// ```
pub fn decode_text(bytes: Vec<u8>) -> Result<String, (usize, usize)> {
    let mut text =
        String::from_utf8(bytes).map_err(|e| utf8_error_position(e.as_bytes(), &e.utf8_error()))?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// The 1-based line and column (in characters) of the first byte of
/// `bytes` that `e` (its UTF-8 error) says is not valid UTF-8.
///
/// ```
/// use saturn_extract::io::utf8_error_position;
/// let bytes = b"ab\nc\xffd";
/// let e = std::str::from_utf8(bytes).unwrap_err();
/// assert_eq!(utf8_error_position(bytes, &e), (2, 2));
/// ```
pub fn utf8_error_position(bytes: &[u8], e: &std::str::Utf8Error) -> (usize, usize) {
    let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
    position(valid, valid.len())
}

/// Parses egraph-serialize JSON; `path` is only used in error messages.
///
/// ```
/// use saturn_extract::io::parse_json_str;
/// let err = parse_json_str("{\"nodes\": {\n  \"a\": 3\n}}", "x.json".as_ref()).unwrap_err();
/// assert!(err.to_string().starts_with("x.json:2:"), "{err}");
/// ```
pub fn parse_json_str(json: &str, path: &Path) -> Result<EGraph, LoadError> {
    serde_json::from_str::<Checked>(json)
        .map(|c| c.0)
        .map_err(|e| {
            let full = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
            LoadError::Json {
                path: path.to_path_buf(),
                line: e.line(),
                column: char_column(json, e.line(), e.column()),
                message,
            }
        })
}

/// An egraph-serialize e-graph read like its own `Deserialize` does, but
/// a node id or class id that appears twice as a key is an error at its
/// second appearance (`serde_json` keeps the last value silently, which
/// drops a node and may dangle other nodes' children onto its namesake),
/// as is a repeated top-level field.
struct Checked(EGraph);

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> serde::de::Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an egraph-serialize e-graph (an object with `nodes`)")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        use serde::de::Error;
        let mut eg = EGraph::default();
        let (mut nodes, mut roots, mut data) = (false, false, false);
        let once = |seen: &mut bool, field: &'static str| {
            if std::mem::replace(seen, true) {
                Err(A::Error::duplicate_field(field))
            } else {
                Ok(())
            }
        };
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "nodes" => {
                    once(&mut nodes, "nodes")?;
                    map.next_value_seed(UniqueKeys {
                        into: &mut eg.nodes,
                        what: "node id",
                    })?;
                }
                "root_eclasses" => {
                    once(&mut roots, "root_eclasses")?;
                    eg.root_eclasses = map.next_value()?;
                }
                "class_data" => {
                    once(&mut data, "class_data")?;
                    map.next_value_seed(UniqueKeys {
                        into: &mut eg.class_data,
                        what: "class id",
                    })?;
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        if !nodes {
            return Err(A::Error::missing_field("nodes"));
        }
        Ok(Checked(eg))
    }
}

/// Reads a JSON object into `into`, an error at a repeated key.
struct UniqueKeys<'a, M> {
    into: &'a mut M,
    what: &'static str,
}

impl<'de, K, V> serde::de::DeserializeSeed<'de> for UniqueKeys<'_, IndexMap<K, V>>
where
    K: serde::Deserialize<'de> + std::hash::Hash + Eq + std::fmt::Display,
    V: serde::Deserialize<'de>,
{
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, K, V> serde::de::Visitor<'de> for UniqueKeys<'_, IndexMap<K, V>>
where
    K: serde::Deserialize<'de> + std::hash::Hash + Eq + std::fmt::Display,
    V: serde::Deserialize<'de>,
{
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an object keyed by {}", self.what)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.into.reserve(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<K>()? {
            if self.into.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "{} `{key}` appears twice (the second time here)",
                    self.what
                )));
            }
            let value = map.next_value()?;
            self.into.insert(key, value);
        }
        Ok(())
    }
}

/// `serde_json`'s column (1-based, in bytes) on 1-based `line` of `text`
/// as a column in characters, as every other position in this crate is
/// (0 stays 0: no position).
fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(l) = text.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column;
    };
    if byte_column == 0 {
        return 0;
    }
    let mut end = (byte_column - 1).min(l.len());
    while !l.is_char_boundary(end) {
        end -= 1;
    }
    l[..end].chars().count() + 1
}

/// Loads a file and builds the dense graph (errors carry the path, and the
/// line and column of what they name).
pub fn load_dense(path: impl AsRef<Path>, opts: &BuildOptions) -> Result<DenseEGraph, LoadError> {
    let path = path.as_ref();
    parse_dense_at(&read_text(path)?, path, opts)
}

pub(crate) fn parse_dense_str(
    json: &str,
    name: &str,
    opts: &BuildOptions,
) -> Result<DenseEGraph, LoadError> {
    parse_dense_at(json, Path::new(name), opts)
}

/// Parses `json` and builds the dense graph; a structural error gets the
/// position of what it names (see [`locate`]).
fn parse_dense_at(json: &str, path: &Path, opts: &BuildOptions) -> Result<DenseEGraph, LoadError> {
    let eg = parse_json_str(json, path)?;
    DenseEGraph::from_serialized_with(&eg, opts).map_err(|source| {
        let (line, column) = locate(json, &source).unwrap_or((0, 0));
        LoadError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            source,
        }
    })
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Where in `json` (well-formed egraph-serialize JSON) the thing `err`
/// names is: the bad child id in its node's `children`, the unknown root
/// in `root_eclasses`, the node with an invalid cost; `None` for errors
/// about the whole e-graph. Only called on the error path: the file is
/// parsed a second time, keeping each value as a slice of the text (a
/// [`RawValue`](serde_json::value::RawValue)), whose address gives its
/// offset.
fn locate(json: &str, err: &BuildError) -> Option<(usize, usize)> {
    use serde_json::value::RawValue;
    use std::borrow::Cow;
    use std::collections::HashMap;
    #[derive(serde::Deserialize)]
    struct File<'a> {
        #[serde(borrow, default)]
        nodes: HashMap<Cow<'a, str>, &'a RawValue>,
        #[serde(borrow, default)]
        root_eclasses: Vec<&'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct NodeSpans<'a> {
        #[serde(borrow, default)]
        children: Vec<&'a RawValue>,
        #[serde(borrow, default)]
        cost: Option<&'a RawValue>,
    }
    let file: File<'_> = serde_json::from_str(json).ok()?;
    let at = |raw: &RawValue| {
        let offset = raw.get().as_ptr() as usize - json.as_ptr() as usize;
        position(json, offset)
    };
    // A raw value that is the JSON string `id`.
    let is = |raw: &RawValue, id: &str| {
        serde_json::from_str::<Cow<'_, str>>(raw.get()).is_ok_and(|s| s == id)
    };
    // Node `id`'s value and the spans inside it.
    let node_spans = |id: &str| {
        let raw: &RawValue = file.nodes.get(id)?;
        Some((raw, serde_json::from_str::<NodeSpans<'_>>(raw.get()).ok()?))
    };
    match err {
        BuildError::DanglingChild { node, child } => {
            let (raw, spans) = node_spans(node)?;
            let bad = spans.children.iter().find(|c| is(c, child));
            Some(at(bad.copied().unwrap_or(raw)))
        }
        BuildError::UnknownRoot { root } => file
            .root_eclasses
            .iter()
            .find(|r| is(r, root))
            .map(|r| at(r)),
        // Not from a file: JSON has no NaN, and serde_json rejects
        // numbers past `f64::MAX`; a cost model can still make one.
        BuildError::InvalidCost { node, .. } => {
            let (raw, spans) = node_spans(node)?;
            Some(at(spans.cost.unwrap_or(raw)))
        }
        BuildError::Empty | BuildError::NoRoots { .. } | BuildError::TooLarge { .. } => None,
    }
}

fn json_cost(c: Cost) -> egraph_serialize::Cost {
    egraph_serialize::Cost::new(c.get()).expect("Cost is never NaN")
}

/// Converts the whole dense graph back to an [`EGraph`]: every node with its original
/// id, op, children, input cost and `subsumed` flag, the class data, and the *resolved*
/// roots (unknown roots that were dropped are not written). Nodes are written in dense
/// (canonical) order.
pub fn to_serialized(g: &DenseEGraph) -> EGraph {
    let mut eg = EGraph::default();
    for c in g.classes() {
        for n in g.nodes(c) {
            let node = Node {
                op: g.op(n).to_string(),
                children: g
                    .child_nodes(n)
                    .iter()
                    .map(|&m| NodeId::from(g.node_id(m)))
                    .collect(),
                eclass: ClassId::from(g.class_id(c)),
                cost: json_cost(g.input_cost(n)),
                subsumed: g.is_subsumed(n),
            };
            eg.nodes.insert(NodeId::from(g.node_id(n)), node);
        }
        if let Some(d) = g.class_data(c) {
            eg.class_data
                .insert(ClassId::from(g.class_id(c)), d.clone());
        }
    }
    eg.root_eclasses = g
        .roots()
        .iter()
        .map(|&r| ClassId::from(g.class_id(r)))
        .collect();
    eg
}

/// Writes the extracted term DAG as an [`EGraph`]: one node per chosen class (its
/// original node id and class id, the cost under the current cost model), whose
/// children are the chosen nodes of the child classes. Classes without a choice are
/// omitted, so the result is only self-contained for a [checked](Extraction::check)
/// extraction.
pub fn extraction_to_serialized(g: &DenseEGraph, ex: &Extraction, roots: &[ClassIdx]) -> EGraph {
    let mut eg = EGraph::default();
    for (c, n) in ex.iter() {
        if c.index() >= g.num_classes() || n.index() >= g.num_nodes() {
            continue; // not an extraction of `g`; `check` would reject it
        }
        let node = Node {
            op: g.op(n).to_string(),
            children: g
                .children(n)
                .iter()
                .map(
                    |&d| match ex.choice(d).filter(|m| m.index() < g.num_nodes()) {
                        Some(m) => NodeId::from(g.node_id(m)),
                        None => NodeId::from(format!("<unchosen class {}>", g.class_id(d))),
                    },
                )
                .collect(),
            eclass: ClassId::from(g.class_id(c)),
            cost: json_cost(g.cost(n)),
            subsumed: false,
        };
        eg.nodes.insert(NodeId::from(g.node_id(n)), node);
    }
    eg.root_eclasses = roots
        .iter()
        .map(|&r| ClassId::from(g.class_id(r)))
        .collect();
    eg
}

/// Serializes an [`EGraph`] to pretty-printed JSON.
pub fn to_json_string(eg: &EGraph) -> String {
    serde_json::to_string_pretty(eg).expect("an EGraph always serializes")
}

/// Writes an [`EGraph`] as pretty-printed JSON to `path`.
pub fn write_json(eg: &EGraph, path: impl AsRef<Path>) -> std::io::Result<()> {
    let path = path.as_ref();
    std::fs::write(path, to_json_string(eg)).map_err(|e| {
        std::io::Error::new(e.kind(), format!("{}: cannot write: {e}", path.display()))
    })
}
