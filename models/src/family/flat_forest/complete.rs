//! The complete-tree layout of the flat forest, used when every tree allows it (depth ≤ 8, the
//! missing value going left or right rather than to a branch of its own, which is how
//! [`crate::family::GbdtModel::fit`] grows them): each tree is padded to a complete binary tree
//! stored in heap order, so a node is 8 bytes (threshold, feature, missing direction), the
//! children of slot `i` are `2i + 1` and `2i + 2` with no pointer to load, and the fixed-size
//! arrays let the compiler drop every bounds check. A leaf above the bottom level is padded by
//! repeating it under both children, so the padding split's direction never matters.
//!
//! Rows of one `Rank` call come in runs that differ little (the hourly slots of one contact and
//! channel), so for a block of eight rows a tree often sends every row to the same leaf. Before
//! walking a block through a tree, [`common_leaf`] walks the tree once with each feature's range
//! over the block: when every split the walk meets has the whole range on one side, that leaf
//! is every row's leaf and the eight walks are skipped. Otherwise the rows are walked as usual.
//! Either way each row gets exactly the leaf its own walk gives, added in tree order, so scores
//! stay bit-identical.

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

/// Feature index of a padding split (under a leaf above the bottom level: both children are
/// the same). Past any row, so a row walk reads NaN and goes right; [`common_leaf`] goes right.
const PAD_FEATURE: u16 = u16::MAX;

const PAD: Split = Split {
    threshold: 0.0,
    feature: PAD_FEATURE,
    nan_left: false,
};

/// The values one feature takes over the rows of a block.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    /// Least non-NaN value (`+∞` when none).
    lo: f32,
    /// Greatest non-NaN value (`-∞` when none).
    hi: f32,
    /// Whether some row has NaN.
    nan: bool,
}

/// A feature every row lacks (also what a feature past the rows reads as).
const ALL_NAN: Span = Span {
    lo: f32::INFINITY,
    hi: f32::NEG_INFINITY,
    nan: true,
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
        // Each block's feature spans, once for all trees.
        let blocks = n.div_ceil(LANES);
        let mut spans = Vec::with_capacity(blocks * width);
        for b in 0..blocks {
            block_spans(&lanes(rows, width, n, b), width, &mut spans);
        }
        for ((splits, leaves), &d) in self.splits.iter().zip(&self.leaves).zip(&self.depths) {
            let first_leaf = (1usize << d) - 1;
            let leaf = |i: usize| f64::from(leaves[i.wrapping_sub(first_leaf) & (SLOTS - 1)]);
            for (b, acc) in out.chunks_mut(LANES).enumerate() {
                let span = spans.get(b * width..(b + 1) * width).unwrap_or_default();
                // Where the rows part (they all got this far together), or their shared leaf.
                let (start, level) = match common_leaf(splits, d, span) {
                    Ok(i) => {
                        let w = leaf(i);
                        for a in acc.iter_mut() {
                            *a += w;
                        }
                        continue;
                    }
                    Err(parted) => parted,
                };
                let lane = lanes(rows, width, n, b);
                let mut idx = [start; LANES];
                for _ in level..d {
                    for j in 0..LANES {
                        idx[j] = step(splits, idx[j], lane[j]);
                    }
                }
                for (a, &i) in acc.iter_mut().zip(&idx) {
                    *a += leaf(i);
                }
            }
        }
    }
}

impl Complete {
    /// Tree `t`'s leaf weight shared by every row of a block with `spans`, if it is shared.
    #[cfg(test)]
    pub(super) fn shared_leaf(&self, t: usize, spans: &[Span]) -> Option<f32> {
        let (splits, leaves, &d) = (
            self.splits.get(t)?,
            self.leaves.get(t)?,
            self.depths.get(t)?,
        );
        let i = common_leaf(splits, d, spans).ok()?;
        Some(leaves[i.wrapping_sub((1 << d) - 1) & (SLOTS - 1)])
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

/// Append the span of each of the `width` features over the rows of `lane` to `out`.
pub(super) fn block_spans(lane: &[&[f32]; LANES], width: usize, out: &mut Vec<Span>) {
    let start = out.len();
    out.resize(
        start + width,
        Span {
            nan: false,
            ..ALL_NAN
        },
    );
    let spans = &mut out[start..];
    for row in lane {
        for (s, &x) in spans.iter_mut().zip(row.iter()) {
            if x.is_nan() {
                s.nan = true;
            } else {
                s.lo = s.lo.min(x);
                s.hi = s.hi.max(x);
            }
        }
        // A row shorter than `width` reads NaN past its end.
        for s in spans.iter_mut().skip(row.len()) {
            s.nan = true;
        }
    }
}

/// The leaf slot every row of a block reaches in a tree of depth `d`, when it is the same for
/// all of them: at each split, some row goes left iff a non-NaN value is below the threshold or
/// a NaN goes left, and likewise right; the walk goes on only while that is one side.
/// `Err((slot, level))` when the rows part at `slot` on `level` (every row reached it; they
/// are walked one by one from there).
#[inline(always)]
fn common_leaf(splits: &[Split; SLOTS], d: u32, spans: &[Span]) -> Result<usize, (usize, u32)> {
    let mut i = 0usize;
    for level in 0..d {
        let s = splits[i & (SLOTS - 1)];
        if s.feature == PAD_FEATURE {
            i = 2 * i + 2;
            continue;
        }
        let r = spans
            .get(usize::from(s.feature))
            .copied()
            .unwrap_or(ALL_NAN);
        let some_left = r.lo < s.threshold || (r.nan && s.nan_left);
        let some_right = r.hi >= s.threshold || (r.nan && !s.nan_left);
        i = match (some_left, some_right) {
            (true, false) => 2 * i + 1,
            (false, true) => 2 * i + 2,
            (true, true) | (false, false) => return Err((i, level)),
        };
    }
    Ok(i)
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
        // A NaN threshold (only a corrupt artifact holds one) would break the block walk's
        // range test; such trees take the linked layout.
        let threshold = Some(f32_threshold(n.split_value)).filter(|t| !t.is_nan())?;
        *splits.get_mut(pos)? = Split {
            threshold,
            feature: u16::try_from(n.split_feature)
                .ok()
                .filter(|&f| f != PAD_FEATURE)?,
            nan_left: n.missing_node == n.left_child,
        };
        (n.left_child, n.right_child)
    };
    fill(tree, left, 2 * pos + 1, level + 1, d, splits, leaves)?;
    fill(tree, right, 2 * pos + 2, level + 1, d, splits, leaves)
}
