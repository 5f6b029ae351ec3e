//! The complete-tree layout of the flat forest, used when every tree allows it (depth ≤ 8, the
//! missing value going left or right rather than to a branch of its own, which is how
//! [`crate::family::GbdtModel::fit`] grows them): each tree is padded to a complete binary tree
//! stored in heap order, so a node is 8 bytes (threshold, feature, missing direction), the
//! children of slot `i` are `2i + 1` and `2i + 2` with no pointer to load, and the fixed-size
//! arrays let the compiler drop every bounds check. A leaf above the bottom level is padded by
//! repeating it under both children, so the padding split's direction never matters.

use forust_ml::tree::Tree;

use super::{LANES, f32_threshold, lanes, value};

/// Deepest tree the layout takes.
const MAX_DEPTH: u32 = 8;
/// Slots per tree (splits and leaves each).
const SLOTS: usize = 1 << MAX_DEPTH;

/// One split: go left when `x < threshold`, or when `x` is NaN and `nan_left`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Split {
    threshold: f32,
    feature: u16,
    nan_left: bool,
}

const PAD: Split = Split {
    threshold: 0.0,
    feature: 0,
    nan_left: false,
};

/// Every tree in the complete layout.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Complete {
    splits: Vec<[Split; SLOTS]>,
    leaves: Vec<[f32; SLOTS]>,
    depths: Vec<u32>,
}

impl Complete {
    /// The layout of `trees` (of depths `depths`, already validated by the linked compile), or
    /// `None` when a tree does not fit it.
    pub(super) fn new(trees: &[Tree], depths: &[u32]) -> Option<Self> {
        let mut out = Self {
            splits: Vec::with_capacity(trees.len()),
            leaves: Vec::with_capacity(trees.len()),
            depths: depths.to_vec(),
        };
        for (tree, &d) in trees.iter().zip(depths) {
            if d > MAX_DEPTH {
                return None;
            }
            let mut splits = [PAD; SLOTS];
            let mut leaves = [0.0_f32; SLOTS];
            fill(tree, 0, 0, 0, d, &mut splits, &mut leaves)?;
            out.splits.push(splits);
            out.leaves.push(leaves);
        }
        Some(out)
    }

    /// The leaf weight tree `t` gives `row`.
    pub(super) fn leaf(&self, t: usize, row: &[f32]) -> f32 {
        let (Some(splits), Some(leaves), Some(&d)) =
            (self.splits.get(t), self.leaves.get(t), self.depths.get(t))
        else {
            return 0.0;
        };
        let mut i = 0;
        for _ in 0..d {
            i = step(splits, i, row);
        }
        leaves[i.wrapping_sub((1 << d) - 1) & (SLOTS - 1)]
    }

    /// Add every tree's leaf weight to `out[r]` for the `n` rows of `rows`, tree by tree.
    pub(super) fn add(&self, rows: &[f32], width: usize, out: &mut [f64]) {
        let n = out.len();
        for ((splits, leaves), &d) in self.splits.iter().zip(&self.leaves).zip(&self.depths) {
            let first_leaf = (1usize << d) - 1;
            for (b, acc) in out.chunks_mut(LANES).enumerate() {
                let lane = lanes(rows, width, n, b);
                let mut idx = [0usize; LANES];
                for _ in 0..d {
                    for j in 0..LANES {
                        idx[j] = step(splits, idx[j], lane[j]);
                    }
                }
                for (a, &i) in acc.iter_mut().zip(&idx) {
                    *a += f64::from(leaves[i.wrapping_sub(first_leaf) & (SLOTS - 1)]);
                }
            }
        }
    }
}

/// From slot `i`, the slot `row` goes to.
#[inline(always)]
fn step(splits: &[Split; SLOTS], i: usize, row: &[f32]) -> usize {
    let s = splits[i & (SLOTS - 1)];
    let x = value(row, u32::from(s.feature));
    let left = (x < s.threshold) | (x.is_nan() & s.nan_left);
    2 * i + 2 - usize::from(left)
}

/// Lay forust node `node` out at slot `pos` of level `level` in a tree of depth `d`.
fn fill(
    tree: &Tree,
    node: usize,
    pos: usize,
    level: u32,
    d: u32,
    splits: &mut [Split; SLOTS],
    leaves: &mut [f32; SLOTS],
) -> Option<()> {
    let n = tree.nodes.get(node)?;
    if level == d {
        // The bottom level holds leaves only (`d` is the deepest leaf's depth).
        if !n.is_leaf {
            return None;
        }
        *leaves.get_mut(pos.checked_sub((1 << d) - 1)?)? = n.weight_value;
        return Some(());
    }
    let (left, right) = if n.is_leaf {
        *splits.get_mut(pos)? = PAD;
        (node, node)
    } else {
        if n.missing_node != n.left_child && n.missing_node != n.right_child {
            return None;
        }
        *splits.get_mut(pos)? = Split {
            threshold: f32_threshold(n.split_value),
            feature: u16::try_from(n.split_feature).ok()?,
            nan_left: n.missing_node == n.left_child,
        };
        (n.left_child, n.right_child)
    };
    fill(tree, left, 2 * pos + 1, level + 1, d, splits, leaves)?;
    fill(tree, right, 2 * pos + 2, level + 1, d, splits, leaves)
}
