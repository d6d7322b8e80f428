//! Graphviz DOT export.
//!
//! Each e-class is a `cluster` subgraph labelled with its id; each e-node is a box
//! labelled with its op (and its cost when it is not 1). An edge goes from a node to the
//! child class's cluster (`lhead`, with `compound=true`), labelled with the argument
//! position when the node has several children. When an [`Extraction`] is given, its
//! chosen nodes are filled and the edges between chosen nodes are bold; with
//! [`DotOptions::only_extracted`] only the extracted term DAG is drawn, which is the
//! readable option for large graphs.

use std::fmt::Write as _;

use crate::dense::{ClassIdx, DenseEGraph, NodeIdx};
use crate::extraction::Extraction;

/// Options for [`to_dot_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DotOptions<'a> {
    /// Highlight (or restrict to) this extraction.
    pub extraction: Option<&'a Extraction>,
    /// Draw only the chosen nodes of [`DotOptions::extraction`].
    pub only_extracted: bool,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders the whole graph, highlighting `extraction` if given.
///
/// ```
/// use saturn_extract::{dot::to_dot, DenseEGraph};
/// let g = DenseEGraph::from_json_str(r#"{"nodes": {
///     "n": {"op": "neg", "children": ["m"], "eclass": "a"},
///     "m": {"op": "x\"y", "children": [], "eclass": "b"}},
///   "root_eclasses": ["a"]}"#).unwrap();
/// let dot = to_dot(&g, None);
/// assert!(dot.starts_with("digraph egraph {"));
/// assert!(dot.contains("subgraph cluster_0"));
/// assert!(dot.contains(r#"label="x\"y""#));
/// ```
pub fn to_dot(g: &DenseEGraph, extraction: Option<&Extraction>) -> String {
    to_dot_with(
        g,
        &DotOptions {
            extraction,
            only_extracted: false,
        },
    )
}

/// Renders the graph with the given options.
pub fn to_dot_with(g: &DenseEGraph, opts: &DotOptions<'_>) -> String {
    let chosen = |c: ClassIdx, n: NodeIdx| opts.extraction.and_then(|e| e.choice(c)) == Some(n);
    let in_range = |n: NodeIdx| n.index() < g.num_nodes();
    let visible_class =
        |c: ClassIdx| !opts.only_extracted || opts.extraction.and_then(|e| e.choice(c)).is_some();
    let visible_node = |n: NodeIdx| !opts.only_extracted || chosen(g.class_of(n), n);
    let roots = g.roots();

    let mut s = String::new();
    s.push_str("digraph egraph {\n  compound=true;\n  clusterrank=local;\n");
    s.push_str("  node [shape=box, style=rounded, fontname=\"monospace\"];\n");
    for c in g.classes().filter(|&c| visible_class(c)) {
        let _ = writeln!(s, "  subgraph cluster_{} {{", c.0);
        let style = if roots.contains(&c) {
            "dashed,bold"
        } else {
            "dashed"
        };
        let _ = writeln!(
            s,
            "    label=\"{}\"; style=\"{style}\"; color=gray40;",
            escape(g.class_id(c))
        );
        for n in g.nodes(c).filter(|&n| visible_node(n)) {
            let cost = g.cost(n);
            let label = if cost.get() == 1.0 {
                escape(g.op(n))
            } else {
                format!("{}\\n{}", escape(g.op(n)), cost)
            };
            let fill = if chosen(c, n) {
                ", style=\"rounded,filled\", fillcolor=lightblue"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "    n{} [label=\"{label}\", tooltip=\"{}\"{fill}];",
                n.0,
                escape(g.node_id(n))
            );
        }
        s.push_str("  }\n");
    }
    for c in g.classes().filter(|&c| visible_class(c)) {
        for n in g.nodes(c).filter(|&n| visible_node(n)) {
            let kids = g.children(n);
            for (i, &d) in kids.iter().enumerate() {
                if !visible_class(d) {
                    continue;
                }
                // Point at the chosen node of the child class if any, else its first node.
                let target = opts
                    .extraction
                    .and_then(|e| e.choice(d))
                    .filter(|&m| in_range(m) && g.class_of(m) == d && visible_node(m))
                    .unwrap_or_else(|| g.nodes(d).next().expect("classes are non-empty"));
                let mut attrs = vec![format!("lhead=cluster_{}", d.0)];
                if kids.len() > 1 {
                    attrs.push(format!("label=\"{i}\""));
                }
                if chosen(c, n) {
                    attrs.push("penwidth=2".to_string());
                }
                if d == c {
                    // Graphviz refuses lhead on an edge into its own cluster.
                    attrs.remove(0);
                }
                let _ = writeln!(s, "  n{} -> n{} [{}];", n.0, target.0, attrs.join(", "));
            }
        }
    }
    s.push_str("}\n");
    s
}
