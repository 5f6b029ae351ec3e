//! The one-attempt assignment under capacity: each person gets at most one of their options
//! (a resource — an hourly slot's capacity, shared or per channel — and the value of using it),
//! no resource gets more persons than its capacity, and the sum of values is maximised.
//!
//! This is a transportation problem (persons × a few dozen resources), whose linear relaxation
//! is integral; its dual has one price per resource. It is solved by the auction algorithm for
//! similar objects (Bertsekas): unassigned persons bid for their best resource at current prices,
//! raising its price by their margin over their second-best choice plus ε, and the lowest bidder
//! of a full resource is outbid. At the end every person holds an option within ε of their best
//! at the final prices (ε-complementary slackness), so the total is within `n·ε` of the optimum.
//! ε is scaled down in phases (the prices of one phase, lowered by its ε, seed the next), which
//! avoids long price wars among the many persons whose values are nearly equal. After each
//! phase, the price of a resource left with spare capacity is lowered until it fills or reaches
//! zero (`Market::settle`), so the prices also certify the bound (see [`dual_bound`]); should
//! that not finish within [`MAX_CLEANUPS`] passes, the bound at the final prices is still valid,
//! only looser. Everything is sequential and in person order: the same input gives the same
//! assignment.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// The options of every person, row by row (a compressed sparse row table).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Options {
    /// Person `i`'s options are `start[i]..start[i + 1]`.
    start: Vec<usize>,
    resource: Vec<u32>,
    value: Vec<f64>,
}

impl Options {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Self {
            start: vec![0],
            resource: Vec::new(),
            value: Vec::new(),
        }
    }

    /// Append the next person's options: `(resource, value)`, values positive, each resource
    /// at most once.
    pub(crate) fn push_person(&mut self, options: impl IntoIterator<Item = (u32, f64)>) {
        for (r, v) in options {
            self.resource.push(r);
            self.value.push(v);
        }
        self.start.push(self.resource.len());
    }

    /// Number of persons.
    pub(crate) fn persons(&self) -> usize {
        self.start.len() - 1
    }

    /// Person `i`'s options as (option index, resource, value).
    pub(crate) fn of(&self, i: usize) -> impl Iterator<Item = (usize, u32, f64)> + '_ {
        let range = self.start[i]..self.start[i + 1];
        range.map(|k| (k, self.resource[k], self.value[k]))
    }

    /// The option indices of person `i`.
    pub(crate) fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.start[i]..self.start[i + 1]
    }

    /// Resource and value of option `k`.
    pub(crate) fn option(&self, k: usize) -> (u32, f64) {
        (self.resource[k], self.value[k])
    }
}

/// ε of each phase, largest first, a factor 10 apart (a factor 100 from 1e-5 to 1e-7 cost a
/// 200 000-person plan 14M bids in its last phase instead of 8M). Values are probabilities
/// (≤ 1); the last ε bounds the loss against the optimum by `n · 1e-7` (0.1 engaged persons in
/// a million).
const EPSILONS: [f64; 6] = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7];
/// Cap on the passes of one phase that lower the prices of resources with spare capacity.
const MAX_CLEANUPS: usize = 64;

/// The result of [`assign`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Assigned {
    /// Per person, the chosen option's index in [`Options`].
    pub(crate) chosen: Vec<Option<usize>>,
    /// Per resource, its final price.
    pub(crate) prices: Vec<f64>,
    /// Per resource, how many persons hold it.
    pub(crate) used: Vec<u32>,
    /// Bids made (the auction's work).
    pub(crate) bids: u64,
}

/// A bid held by a resource, ordered so the weakest (lowest bid, then highest person index) is
/// on top of a max-heap of `Reverse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    /// The bid's bits (bids are positive, so bit order is numeric order).
    bid: u64,
    person: Reverse<u32>,
}

struct Market<'a> {
    options: &'a Options,
    capacity: &'a [u32],
    reserve: Vec<f64>,
    /// Bids held per resource; may also hold stale entries of persons who left (skipped).
    held: Vec<BinaryHeap<Reverse<Held>>>,
    /// Live holders per resource.
    count: Vec<u32>,
    /// Price a newcomer faces: the reserve while a copy is free, else the lowest held bid.
    price: Vec<f64>,
    /// Per person, the option held and the bid it holds it with.
    holder: Vec<Option<(usize, u64)>>,
    /// Bids made.
    bids: u64,
}

impl Market<'_> {
    fn live(&self, r: usize, h: &Held) -> bool {
        let i = h.person.0 as usize;
        self.holder[i]
            .is_some_and(|(k, bid)| bid == h.bid && self.options.option(k).0 as usize == r)
    }

    /// Drop stale entries from the top of resource `r`'s heap.
    fn clean(&mut self, r: usize) {
        while let Some(Reverse(top)) = self.held[r].peek().copied() {
            if self.live(r, &top) {
                break;
            }
            self.held[r].pop();
        }
    }

    fn refresh(&mut self, r: usize) {
        self.clean(r);
        self.price[r] = if self.count[r] >= self.capacity[r] {
            self.held[r].peek().map_or(self.reserve[r], |h| {
                f64::from_bits(h.0.bid).max(self.reserve[r])
            })
        } else {
            self.reserve[r]
        };
    }

    /// Person `i`'s best option, its value and the second-best value (0 = staying unplanned)
    /// at the current prices.
    fn best(&self, i: usize) -> Option<(usize, f64, f64)> {
        let mut best: Option<(usize, f64)> = None;
        let mut second = 0.0_f64;
        for (k, r, w) in self.options.of(i) {
            if self.capacity[r as usize] == 0 {
                continue; // a resource without capacity is no option
            }
            let v = w - self.price[r as usize];
            match best {
                Some((_, bv)) if v <= bv => second = second.max(v),
                Some((_, bv)) => {
                    second = second.max(bv);
                    best = Some((k, v));
                }
                None => best = Some((k, v)),
            }
        }
        best.map(|(k, v)| (k, v, second))
    }

    /// Person `i` gives up what they hold.
    fn leave(&mut self, i: usize) {
        if let Some((k, _)) = self.holder[i].take() {
            let r = self.options.option(k).0 as usize;
            self.count[r] -= 1;
            self.refresh(r);
        }
    }

    /// Let every queued person bid until nobody is left unassigned with a positive margin.
    fn run(&mut self, eps: f64, queue: &mut VecDeque<usize>) {
        while let Some(i) = queue.pop_front() {
            let Some((k, v1, v2)) = self.best(i) else {
                continue;
            };
            if v1 <= 0.0 {
                continue; // staying unplanned is as good
            }
            let (r, w) = self.options.option(k);
            let r = r as usize;
            let bid = (w - v2 + eps).to_bits();
            self.bids += 1;
            self.held[r].push(Reverse(Held {
                bid,
                person: Reverse(i as u32),
            }));
            self.holder[i] = Some((k, bid));
            self.count[r] += 1;
            if self.count[r] > self.capacity[r] {
                self.clean(r);
                if let Some(Reverse(out)) = self.held[r].pop() {
                    let j = out.person.0 as usize;
                    self.holder[j] = None;
                    self.count[r] -= 1;
                    queue.push_back(j);
                }
            }
            self.refresh(r);
        }
    }

    /// The net value of what person `i` holds at the current prices (0 = nothing).
    fn current(&self, i: usize) -> f64 {
        self.holder[i].map_or(0.0, |(k, _)| {
            let (r, w) = self.options.option(k);
            w - self.price[r as usize]
        })
    }

    /// A resource with spare capacity must not keep a positive price (else the prices do not
    /// certify the bound). Each such resource's price is lowered just enough for its free
    /// places to be wanted: to ε below the `free`-th highest price at which a person would
    /// prefer it to what they hold by more than ε, or to zero when fewer persons want it at
    /// all; those persons move there and bid as usual (prices then only rise). Moving leaves
    /// places free elsewhere, so this repeats, at most [`MAX_CLEANUPS`] times. (Lowering the
    /// price straight to zero works too, but sends every person who can use the resource into
    /// a bidding war to raise it back: at a million persons that cost ten million bids.)
    fn settle(&mut self, eps: f64, queue: &mut VecDeque<usize>) {
        let resources = self.capacity.len();
        for _ in 0..MAX_CLEANUPS {
            let open: Vec<bool> = (0..resources)
                .map(|r| self.count[r] < self.capacity[r] && self.price[r] > 0.0)
                .collect();
            let any_open = open.contains(&true);
            let mut wants: Vec<Vec<f64>> = vec![Vec::new(); resources];
            for i in (0..self.holder.len()).filter(|_| any_open) {
                let held = self.holder[i].map(|(k, _)| k);
                if held.is_some_and(|k| open[self.options.option(k).0 as usize]) {
                    continue; // already on an open resource
                }
                // The person's two best net values (0 = staying unplanned) and where the best is.
                let (mut best, mut second, mut at) = (0.0_f64, 0.0_f64, usize::MAX);
                for (_, r, w) in self.options.of(i) {
                    if self.capacity[r as usize] == 0 {
                        continue;
                    }
                    let v = w - self.price[r as usize];
                    if v > best {
                        (second, best, at) = (best, v, r as usize);
                    } else if v > second {
                        second = v;
                    }
                }
                for (_, r, w) in self.options.of(i) {
                    let r = r as usize;
                    if !open[r] {
                        continue;
                    }
                    // The price below which the person prefers `r` to every other choice by
                    // more than ε.
                    let t = w - if at == r { second } else { best } - eps;
                    if t > 0.0 {
                        wants[r].push(t);
                    }
                }
            }
            for (r, list) in wants.iter_mut().enumerate() {
                if !open[r] {
                    continue;
                }
                let free = (self.capacity[r] - self.count[r]) as usize;
                let lowered = if list.len() >= free {
                    let (_, kth, _) = list.select_nth_unstable_by(free - 1, |a, b| b.total_cmp(a));
                    (*kth - eps).max(0.0)
                } else {
                    0.0
                };
                // Not below the current price (rounding): lower by ε so every pass progresses.
                self.reserve[r] = if lowered < self.price[r] {
                    lowered
                } else {
                    (self.price[r] - eps).max(0.0)
                };
                self.refresh(r);
            }
            queue.clear();
            for i in 0..self.holder.len() {
                let Some((_, v1, _)) = self.best(i) else {
                    continue;
                };
                if v1 > self.current(i) + eps {
                    self.leave(i);
                    queue.push_back(i);
                }
            }
            if queue.is_empty() && !any_open {
                break;
            }
            self.run(eps, queue);
        }
    }

    fn reset(&mut self) {
        for h in &mut self.held {
            h.clear();
        }
        self.count.fill(0);
        self.holder.fill(None);
        for r in 0..self.price.len() {
            self.refresh(r);
        }
    }
}

/// Solve the assignment (see the module docs). `capacity[r]` is resource `r`'s capacity
/// (`u32::MAX` = unlimited).
pub(crate) fn assign(options: &Options, capacity: &[u32]) -> Assigned {
    let n = options.persons();
    let resources = capacity.len();
    let mut m = Market {
        options,
        capacity,
        reserve: vec![0.0; resources],
        held: (0..resources).map(|_| BinaryHeap::new()).collect(),
        count: vec![0; resources],
        price: vec![0.0; resources],
        holder: vec![None; n],
        bids: 0,
    };
    let mut queue = VecDeque::with_capacity(n);
    let mut eps_prev = 0.0;
    for &eps in &EPSILONS {
        for r in 0..resources {
            // Undo the previous phase's overshoot, so prices start at or below where this
            // phase's bidding would take them.
            m.reserve[r] = (m.price[r] - 2.0 * eps_prev).max(0.0);
        }
        m.reset();
        queue.clear();
        queue.extend(0..n);
        m.run(eps, &mut queue);
        m.settle(eps, &mut queue);
        eps_prev = eps;
    }
    Assigned {
        chosen: m.holder.iter().map(|h| h.map(|(k, _)| k)).collect(),
        prices: m.price,
        used: m.count,
        bids: m.bids,
    }
}

/// The Lagrangian dual at `prices` (each ≥ 0, and 0 for unlimited resources):
/// `Σ_r prices[r]·capacity[r] + Σ_i max(0, max_k (value_k − prices[resource_k]))`, options on
/// resources without capacity left out (their price taken as infinite). For any such
/// prices it is an upper bound on the value of every feasible assignment (each person's term
/// bounds what they contribute net of the prices, and the capacity term pays the prices back).
/// Summed with compensation so rounding cannot lower it by more than a few ulps of the total.
pub(crate) fn dual_bound(options: &Options, capacity: &[u32], prices: &[f64]) -> f64 {
    let mut sum = Neumaier::default();
    for (r, (&c, &p)) in capacity.iter().zip(prices).enumerate() {
        if p > 0.0 {
            debug_assert!(
                c != u32::MAX,
                "resource {r}: an unlimited resource has price 0"
            );
            sum.add(p * f64::from(c));
        }
    }
    for i in 0..options.persons() {
        // A resource without capacity is priced out entirely (λ → ∞, and λ·0 = 0).
        let best = options
            .of(i)
            .filter(|&(_, r, _)| capacity[r as usize] > 0)
            .map(|(_, r, w)| w - prices[r as usize])
            .fold(0.0_f64, f64::max);
        sum.add(best);
    }
    sum.total()
}

/// Compensated (Neumaier) summation.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Neumaier {
    sum: f64,
    c: f64,
}

impl Neumaier {
    /// Add `x`.
    pub(crate) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.c += (self.sum - t) + x;
        } else {
            self.c += (x - t) + self.sum;
        }
        self.sum = t;
    }

    /// The sum.
    pub(crate) fn total(self) -> f64 {
        self.sum + self.c
    }
}
