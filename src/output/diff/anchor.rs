//! The line diff behind `unified`: Myers over the whole text when it is small,
//! otherwise split at common prefix/suffix and patience anchors first, so
//! that a large file with many scattered fixes costs near-linear time instead
//! of Myers' O((N + M) · D).

use similar::{Algorithm, DiffOp};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Where the algorithm switches between Myers and anchoring.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Inputs of at most this many lines (old + new) are diffed by Myers
    /// over the whole text, exactly as before anchoring existed.
    whole: usize,
    /// Gaps between anchors of at most this many lines go to Myers.
    gap: usize,
    /// A gap without anchors goes to Myers up to this many lines; beyond, it
    /// is shown as replaced whole (still exact, and bounded in time).
    fallback: usize,
}

impl Tuning {
    /// Myers costs at most about `whole²` steps here: milliseconds.
    pub const DEFAULT: Tuning = Tuning {
        whole: 3000,
        gap: 400,
        fallback: 4000,
    };
    /// Anchoring on every input, so tests can compare it on small ones.
    pub const TINY: Tuning = Tuning {
        whole: 0,
        gap: 3,
        fallback: 8,
    };
}

/// The edit script turning `old` into `new`, as similar's ops in order, with
/// adjacent ops of one kind merged (hunk grouping relies on merged Equals).
pub fn diff_lines(old: &[&[u8]], new: &[&[u8]], tuning: Tuning) -> Vec<DiffOp> {
    if old.len() + new.len() <= tuning.whole {
        let ops = similar::capture_diff_slices(Algorithm::Myers, old, new);
        return renumber(ops, 0, 0).collect();
    }
    let (a, b, ids) = intern(old, new);
    let mut d = Differ {
        a: &a,
        b: &b,
        tuning,
        counts: vec![Count::default(); ids],
        ops: Vec::new(),
    };
    // An explicit stack instead of recursion: the gaps nest as deep as the
    // input is pathological. Tasks are pushed in reverse so they pop in order.
    let mut stack = vec![Task::Range(0, a.len(), 0, b.len())];
    while let Some(task) = stack.pop() {
        match task {
            Task::Equal(o, n, len) => d.push(DiffOp::Equal {
                old_index: o,
                new_index: n,
                len,
            }),
            Task::Range(a0, a1, b0, b1) => d.range(a0, a1, b0, b1, &mut stack),
        }
    }
    d.ops
}

#[derive(Debug, Clone, Copy)]
enum Task {
    Range(usize, usize, usize, usize),
    Equal(usize, usize, usize),
}

/// Occurrences of one line id inside the range being split.
#[derive(Debug, Clone, Copy, Default)]
struct Count {
    in_a: u32,
    in_b: u32,
    at_b: u32,
}

struct Differ<'a> {
    a: &'a [u32],
    b: &'a [u32],
    tuning: Tuning,
    /// Scratch indexed by line id, all zero between uses.
    counts: Vec<Count>,
    ops: Vec<DiffOp>,
}

impl Differ<'_> {
    fn range(
        &mut self,
        mut a0: usize,
        mut a1: usize,
        mut b0: usize,
        mut b1: usize,
        stack: &mut Vec<Task>,
    ) {
        let (a, b) = (self.a, self.b);
        let start = (a0, b0);
        while a0 < a1 && b0 < b1 && a[a0] == b[b0] {
            a0 += 1;
            b0 += 1;
        }
        if a0 > start.0 {
            self.push(DiffOp::Equal {
                old_index: start.0,
                new_index: start.1,
                len: a0 - start.0,
            });
        }
        let mut suffix = 0;
        while a1 > a0 && b1 > b0 && a[a1 - 1] == b[b1 - 1] {
            a1 -= 1;
            b1 -= 1;
            suffix += 1;
        }
        if suffix > 0 {
            // Runs after whatever this range's middle emits.
            stack.push(Task::Equal(a1, b1, suffix));
        }
        let (n, m) = (a1 - a0, b1 - b0);
        if n == 0 && m == 0 {
            return;
        }
        if n == 0 || m == 0 || n + m <= self.tuning.gap {
            self.myers(a0, a1, b0, b1);
            return;
        }
        let anchors = self.anchors(a0, a1, b0, b1);
        if anchors.is_empty() {
            if n + m <= self.tuning.fallback {
                self.myers(a0, a1, b0, b1);
            } else {
                self.push(DiffOp::Delete {
                    old_index: a0,
                    old_len: n,
                    new_index: b0,
                });
                self.push(DiffOp::Insert {
                    old_index: a1,
                    new_index: b0,
                    new_len: m,
                });
            }
            return;
        }
        // Gap, anchor, gap, anchor, ..., gap; pushed back to front.
        let mut tasks = Vec::with_capacity(anchors.len() * 2 + 1);
        let (mut pa, mut pb) = (a0, b0);
        for &(i, j) in &anchors {
            tasks.push(Task::Range(pa, i, pb, j));
            tasks.push(Task::Equal(i, j, 1));
            (pa, pb) = (i + 1, j + 1);
        }
        tasks.push(Task::Range(pa, a1, pb, b1));
        stack.extend(tasks.into_iter().rev());
    }

    /// Lines that occur exactly once in `a[a0..a1]` and once in `b[b0..b1]`,
    /// the longest run of them in the same order on both sides (patience).
    fn anchors(&mut self, a0: usize, a1: usize, b0: usize, b1: usize) -> Vec<(usize, usize)> {
        let (a, b) = (self.a, self.b);
        for &id in &a[a0..a1] {
            self.counts[id as usize].in_a += 1;
        }
        for (j, &id) in b[b0..b1].iter().enumerate() {
            let c = &mut self.counts[id as usize];
            if c.in_a == 1 {
                c.in_b += 1;
                c.at_b = (b0 + j) as u32;
            }
        }
        let mut unique = Vec::new();
        for (i, &id) in a[a0..a1].iter().enumerate() {
            let c = self.counts[id as usize];
            if c.in_a == 1 && c.in_b == 1 {
                unique.push((a0 + i, c.at_b as usize));
            }
        }
        for &id in a[a0..a1].iter().chain(&b[b0..b1]) {
            self.counts[id as usize] = Count::default();
        }
        longest_increasing(&unique)
    }

    fn myers(&mut self, a0: usize, a1: usize, b0: usize, b1: usize) {
        let ops = similar::capture_diff(Algorithm::Myers, self.a, a0..a1, self.b, b0..b1);
        for op in renumber(ops, a0, b0) {
            self.push(op);
        }
    }

    /// Appends `op`, merged into the last op when both are of one kind and
    /// adjacent.
    fn push(&mut self, op: DiffOp) {
        use DiffOp::*;
        let merged = match (self.ops.last_mut(), op) {
            (
                Some(Equal {
                    old_index,
                    new_index,
                    len,
                }),
                Equal {
                    old_index: o,
                    new_index: n,
                    len: l,
                },
            ) if *old_index + *len == o && *new_index + *len == n => {
                *len += l;
                true
            }
            (
                Some(Delete {
                    old_index, old_len, ..
                }),
                Delete {
                    old_index: o,
                    old_len: l,
                    ..
                },
            ) if *old_index + *old_len == o => {
                *old_len += l;
                true
            }
            (
                Some(Insert {
                    new_index, new_len, ..
                }),
                Insert {
                    new_index: n,
                    new_len: l,
                    ..
                },
            ) if *new_index + *new_len == n => {
                *new_len += l;
                true
            }
            _ => false,
        };
        if !merged {
            self.ops.push(op);
        }
    }
}

/// similar's Myers can give an op the wrong index on the side it does not
/// touch (a Delete's `new_index`, an Insert's `old_index`: similar issue #78),
/// and the hunk header is computed from those, so a header could miscount
/// its lines. The lengths and the order are right: rebuild every index from
/// them, starting at (`old`, `new`).
pub(super) fn renumber(
    ops: Vec<DiffOp>,
    mut old: usize,
    mut new: usize,
) -> impl Iterator<Item = DiffOp> {
    ops.into_iter().map(move |op| {
        let (o, n) = (old, new);
        let fixed = match op {
            DiffOp::Equal { len, .. } => {
                (old, new) = (old + len, new + len);
                DiffOp::Equal {
                    old_index: o,
                    new_index: n,
                    len,
                }
            }
            DiffOp::Delete { old_len, .. } => {
                old += old_len;
                DiffOp::Delete {
                    old_index: o,
                    old_len,
                    new_index: n,
                }
            }
            DiffOp::Insert { new_len, .. } => {
                new += new_len;
                DiffOp::Insert {
                    old_index: o,
                    new_index: n,
                    new_len,
                }
            }
            DiffOp::Replace {
                old_len, new_len, ..
            } => {
                (old, new) = (old + old_len, new + new_len);
                DiffOp::Replace {
                    old_index: o,
                    old_len,
                    new_index: n,
                    new_len,
                }
            }
        };
        debug_assert_eq!(
            op.as_tag_tuple().1.len() + op.as_tag_tuple().2.len(),
            fixed.as_tag_tuple().1.len() + fixed.as_tag_tuple().2.len()
        );
        fixed
    })
}

/// The longest subsequence of `pairs` (sorted by `.0`) increasing in `.1`;
/// patience sorting, O(k log k), the first such subsequence on ties.
fn longest_increasing(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    // tails[k]: index into pairs of the smallest tail of a run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = vec![usize::MAX; pairs.len()];
    for (i, &(_, j)) in pairs.iter().enumerate() {
        let k = tails.partition_point(|&t| pairs[t].1 < j);
        if k > 0 {
            prev[i] = tails[k - 1];
        }
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut at = tails.last().copied().unwrap_or(usize::MAX);
    while at != usize::MAX {
        out.push(pairs[at]);
        at = prev[at];
    }
    out.reverse();
    out
}

/// Each distinct line gets a small id, so the diff compares integers.
fn intern<'a>(old: &[&'a [u8]], new: &[&'a [u8]]) -> (Vec<u32>, Vec<u32>, usize) {
    let mut ids: HashMap<&'a [u8], u32, BuildHasherDefault<Fx>> =
        HashMap::with_capacity_and_hasher(old.len().max(new.len()), Default::default());
    let mut id_of = |l: &'a [u8]| {
        let next = ids.len() as u32;
        *ids.entry(l).or_insert(next)
    };
    let a: Vec<u32> = old.iter().map(|l| id_of(l)).collect();
    let b: Vec<u32> = new.iter().map(|l| id_of(l)).collect();
    let n = ids.len();
    (a, b, n)
}

/// The Fx hash (rustc's): the default SipHash costs more than the whole
/// diff of an ordinary file; collisions only cost time here, never output.
#[derive(Default)]
struct Fx(u64);

impl Fx {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_increasing_picks_a_longest_run() {
        let p = [(0, 3), (1, 1), (2, 2), (3, 0), (4, 4)];
        assert_eq!(longest_increasing(&p), vec![(1, 1), (2, 2), (4, 4)]);
        assert!(longest_increasing(&[]).is_empty());
    }
}
