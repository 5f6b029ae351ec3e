//! A fitted forust forest compiled into one flat node array, scored many rows at a time with a
//! branch-free walk, giving exactly the log-odds forust's own tree walk gives.
//!
//! Why: `Rank` scores ≈ 66 rows per call and forust walks one row at a time through 72-byte
//! nodes, with a data-dependent branch at every node; that walk was ≈ 84 % of a `Rank`. Here a
//! leaf points back to itself (or, in the complete layout, is repeated down to the bottom level)
//! so every row of a tree takes the same number of steps (the tree's depth) whatever path it
//! follows, the next node is computed from the comparison instead of branched to, and
//! [`FlatForest::scores`] walks eight rows side by side through one tree before moving to the
//! next tree, so the tree stays in L1 and the eight independent walks overlap their latency.
//!
//! Two layouts: the complete one (`complete.rs`: 8-byte splits in heap order, no child
//! pointers, no bounds checks), used when every tree fits it, which is the case for the trees
//! `GbdtModel::fit` grows; and the linked one (24-byte nodes with explicit left, right and
//! missing children), which takes any forust tree, including separate missing branches.

//! Exactness, replicating `forust_ml::tree::Tree::predict_row_from_row_slice` and
//! `forust_ml::node::Node::get_child_idx` (forust-ml 0.8):
//! - a value is missing when it is NaN (the booster's `missing` must be NaN, which is forust's
//!   default and what [`super::GbdtModel::fit`] uses; any other value is refused when compiling,
//!   because forust would panic on the NaNs our features carry) and then goes to the node's
//!   missing child;
//! - otherwise forust compares `f64::from(x) < split_value` (f64) and goes left when true. Since
//!   `x` is an f32, that equals `x < t` where `t` is the smallest f32 not below `split_value`
//!   ([`f32_threshold`]), so comparing in f32 takes the same branch for every f32 input;
//! - a leaf contributes `f64::from(weight_value)` (forust stores weights as f32);
//! - the score is `base_score + Σ trees` with the tree sum taken in tree order starting from
//!   `-0.0`, which is the order and identity of `Iterator::sum::<f64>` that
//!   `GbdtModel::score` used, so results are bit-identical to the previous scoring path. Every
//!   tree is used, as before (`prediction_iteration` is only set by early stopping, which the
//!   fit never enables).

mod complete;

use forust_ml::GradientBooster;
use forust_ml::tree::Tree;

use complete::Complete;

/// Rows walked side by side through one tree.
const LANES: usize = 8;

/// One node. `next` is indexed by `lt | nan << 1`: `[right, left, missing, missing]`, so the
/// comparison result picks the child without a branch. A leaf has every `next` pointing to
/// itself and its weight in `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    threshold: f32,
    feature: u32,
    next: [u32; 4],
}

impl Node {
    /// The node to go to from here for value `x`.
    #[inline(always)]
    fn step(&self, x: f32) -> u32 {
        let lt = usize::from(x < self.threshold);
        let nan = usize::from(x.is_nan());
        self.next[(lt | nan << 1) & 3]
    }
}

/// Where a tree starts and how many steps reach any of its leaves.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TreeSpan {
    root: u32,
    depth: u32,
}

/// The compiled forest (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct FlatForest {
    nodes: Vec<Node>,
    trees: Vec<TreeSpan>,
    /// The same trees in the faster complete layout, when they all fit it.
    complete: Option<Complete>,
    base_score: f64,
}

/// Why a booster cannot be compiled.
pub type CompileError = String;

impl FlatForest {
    /// Compile `booster`. Fails on a non-NaN `missing` value and on a malformed tree (a child
    /// index out of range or a cycle), which only a corrupted artifact could hold.
    pub fn new(booster: &GradientBooster) -> Result<Self, CompileError> {
        if !booster.missing.is_nan() {
            return Err(format!(
                "the booster's missing value is {}, only NaN is supported",
                booster.missing
            ));
        }
        let mut nodes = Vec::new();
        let mut trees = Vec::with_capacity(booster.trees.len());
        for (i, tree) in booster.trees.iter().enumerate() {
            let root = u32::try_from(nodes.len()).map_err(|_| "too many nodes".to_owned())?;
            let depth = compile_tree(tree, &mut nodes).map_err(|e| format!("tree {i}: {e}"))?;
            trees.push(TreeSpan { root, depth });
        }
        let depths: Vec<u32> = trees.iter().map(|t| t.depth).collect();
        Ok(Self {
            complete: Complete::new(&booster.trees, &depths),
            nodes,
            trees,
            base_score: booster.base_score,
        })
    }

    /// Log-odds of one row.
    pub fn score(&self, row: &[f32]) -> f64 {
        let mut sum = -0.0_f64;
        for t in 0..self.trees.len() {
            sum += f64::from(self.leaf(t, row));
        }
        self.base_score + sum
    }

    /// The leaf weight tree `t` gives `row`, from the layout in use.
    fn leaf(&self, t: usize, row: &[f32]) -> f32 {
        match &self.complete {
            Some(c) => c.leaf(t, row),
            None => self.linked_leaf(t, row),
        }
    }

    /// The leaf weight tree `t` gives `row`, from the linked nodes.
    fn linked_leaf(&self, t: usize, row: &[f32]) -> f32 {
        let Some(tree) = self.trees.get(t) else {
            return 0.0;
        };
        let mut idx = tree.root;
        for _ in 0..tree.depth {
            let node = self.node(idx);
            idx = node.step(value(row, node.feature));
        }
        self.node(idx).threshold
    }

    /// Log-odds of every row of `rows` (row-major, `width` values per row; a trailing partial
    /// row is ignored) into `out`, which is cleared first. Equal to [`Self::score`] per row.
    pub fn scores(&self, rows: &[f32], width: usize, out: &mut Vec<f64>) {
        out.clear();
        if width == 0 {
            return;
        }
        let n = rows.len() / width;
        out.resize(n, -0.0);
        if let Some(c) = &self.complete {
            c.add(rows, width, out);
        } else {
            self.add_linked(rows, width, out);
        }
        for s in out.iter_mut() {
            // IEEE addition commutes, so this is `base_score + Σ trees` bit for bit.
            *s += self.base_score;
        }
    }

    /// [`Complete::add`] on the linked nodes.
    fn add_linked(&self, rows: &[f32], width: usize, out: &mut [f64]) {
        let n = out.len();
        for tree in &self.trees {
            for (b, acc) in out.chunks_mut(LANES).enumerate() {
                let lane = lanes(rows, width, n, b);
                let mut idx = [tree.root; LANES];
                for _ in 0..tree.depth {
                    for j in 0..LANES {
                        let node = self.node(idx[j]);
                        idx[j] = node.step(value(lane[j], node.feature));
                    }
                }
                for (a, &i) in acc.iter_mut().zip(&idx) {
                    *a += f64::from(self.node(i).threshold);
                }
            }
        }
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.trees.len()
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    #[inline(always)]
    fn node(&self, idx: u32) -> &Node {
        // Indices are validated when compiling; the fallback only keeps a bad index from
        // panicking and is never taken.
        self.nodes.get(idx as usize).unwrap_or(&LEAF_ZERO)
    }
}

/// Stand-in for an out-of-range index (unreachable after validation).
const LEAF_ZERO: Node = Node {
    threshold: 0.0,
    feature: 0,
    next: [0; 4],
};

/// The rows of block `b` (rows `8b..8b + 8` of the `n` in `rows`). A short last block repeats
/// its last row in the spare lanes (their sums are dropped), so every block runs the same
/// unrolled code.
#[inline(always)]
fn lanes(rows: &[f32], width: usize, n: usize, b: usize) -> [&[f32]; LANES] {
    std::array::from_fn(|j| {
        let r = (b * LANES + j).min(n.saturating_sub(1));
        rows.get(r * width..(r + 1) * width).unwrap_or_default()
    })
}

/// Feature `f` of `row`; a feature past the row's end reads as missing rather than panicking.
#[inline(always)]
fn value(row: &[f32], f: u32) -> f32 {
    row.get(f as usize).copied().unwrap_or(f32::NAN)
}

/// The smallest f32 whose value is not below `s`: for every f32 `x`,
/// `f64::from(x) < s` ⇔ `x < f32_threshold(s)` (NaN stays NaN, so both are false).
pub(crate) fn f32_threshold(s: f64) -> f32 {
    let t = s as f32;
    if f64::from(t) < s { t.next_up() } else { t }
}

/// Append `tree`'s nodes to `nodes` (child indices made absolute) and return its depth: the
/// most steps from the root to a leaf.
fn compile_tree(tree: &Tree, nodes: &mut Vec<Node>) -> Result<u32, CompileError> {
    let len = tree.nodes.len();
    if len == 0 {
        return Err("no nodes".into());
    }
    let base = nodes.len();
    let abs = |i: usize| -> Result<u32, CompileError> {
        if i >= len {
            return Err(format!("child index {i} out of range ({len} nodes)"));
        }
        u32::try_from(base + i).map_err(|_| "too many nodes".to_owned())
    };
    for (i, n) in tree.nodes.iter().enumerate() {
        let me = abs(i)?;
        nodes.push(if n.is_leaf {
            Node {
                threshold: n.weight_value,
                feature: 0,
                next: [me; 4],
            }
        } else {
            let (l, r, m) = (
                abs(n.left_child)?,
                abs(n.right_child)?,
                abs(n.missing_node)?,
            );
            Node {
                threshold: f32_threshold(n.split_value),
                feature: u32::try_from(n.split_feature).map_err(|_| "feature index too large")?,
                next: [r, l, m, m],
            }
        });
    }
    // Depth level by level from the root (each level's nodes once, so a corrupt tree that
    // shares children cannot blow up); more levels than nodes means a cycle.
    let mut depth = 0u32;
    let mut frontier = vec![0usize];
    let mut seen = vec![false; len];
    loop {
        seen.fill(false);
        let mut below = Vec::new();
        for &i in &frontier {
            let n = &tree.nodes[i];
            if n.is_leaf {
                continue;
            }
            for c in [n.left_child, n.right_child, n.missing_node] {
                if !seen[c] {
                    seen[c] = true;
                    below.push(c);
                }
            }
        }
        if below.is_empty() {
            break;
        }
        depth += 1;
        if depth as usize > len {
            return Err("cycle in the tree".into());
        }
        frontier = below;
    }
    Ok(depth)
}

#[cfg(test)]
mod tests;
