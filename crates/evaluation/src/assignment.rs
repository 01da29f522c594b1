//! Optimal one-to-one matching of rows to columns: under a cost with a gate (Hungarian
//! algorithm through the `pathfinding` crate; pairs costing more than `max_cost` are never
//! matched), used by the tracker (tracks ↔ detections); and the largest-total assignment exactly
//! as scipy's `linear_sum_assignment` computes it, ties included, used by the MOT metrics so that
//! they equal TrackEval's.

use pathfinding::kuhn_munkres::kuhn_munkres_min;
use pathfinding::matrix::Matrix;

/// Costs are matched in fixed point with this many steps per unit.
const SCALE: f64 = 1e6;

/// The matching of the `rows × cols` row-major `costs` with the most pairs within `max_cost`
/// and, among those, the least total cost; `(row, col)` pairs sorted by row.
pub fn min_cost_matching(
    costs: &[f32],
    rows: usize,
    cols: usize,
    max_cost: f32,
) -> Vec<(usize, usize)> {
    assert_eq!(costs.len(), rows * cols, "costs is not rows × cols");
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let allowed = |c: f32| c.is_finite() && c <= max_cost;
    let scaled = |c: f32| (f64::from(c).max(0.0) * SCALE).round() as i64;
    // A gated pair costs more than any set of allowed pairs: the fewest of them are used.
    let limit = costs
        .iter()
        .copied()
        .filter(|&c| allowed(c))
        .map(scaled)
        .max()
        .unwrap_or(0);
    let forbidden = (limit + 1) * (rows.max(cols) as i64 + 1);
    let at = |r: usize, c: usize| {
        let v = costs[r * cols + c];
        if allowed(v) { scaled(v) } else { forbidden }
    };
    let transpose = rows > cols;
    let (n, m) = if transpose {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let data: Vec<i64> = (0..n)
        .flat_map(|i| (0..m).map(move |j| if transpose { at(j, i) } else { at(i, j) }))
        .collect();
    let weights = Matrix::from_vec(n, m, data).expect("n × m values");
    let (_, assigned) = kuhn_munkres_min(&weights);
    let mut pairs: Vec<(usize, usize)> = assigned
        .into_iter()
        .enumerate()
        .map(|(i, j)| if transpose { (j, i) } else { (i, j) })
        .filter(|&(r, c)| allowed(costs[r * cols + c]))
        .collect();
    pairs.sort_unstable();
    pairs
}

/// The assignment of `min(rows, cols)` pairs with the largest total of the row-major `scores`,
/// as `(row, col)` sorted by row. It is scipy's `linear_sum_assignment` algorithm (shortest
/// augmenting paths, Crouse 2016, on the negated scores, the longer side as columns) step for
/// step, so that equal totals resolve to the same pairs as in TrackEval.
pub fn max_score_assignment(scores: &[f64], rows: usize, cols: usize) -> Vec<(usize, usize)> {
    assert_eq!(scores.len(), rows * cols, "scores is not rows × cols");
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let transpose = cols < rows;
    let (nr, nc) = if transpose {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let cost: Vec<f64> = (0..nr)
        .flat_map(|i| {
            (0..nc).map(move |j| {
                -if transpose {
                    scores[j * cols + i]
                } else {
                    scores[i * cols + j]
                }
            })
        })
        .collect();
    assert!(cost.iter().all(|c| c.is_finite()), "scores must be finite");
    let (mut u, mut v) = (vec![0.0; nr], vec![0.0; nc]);
    let mut shortest = vec![f64::INFINITY; nc];
    let mut path = vec![0usize; nc];
    let mut col4row: Vec<Option<usize>> = vec![None; nr];
    let mut row4col: Vec<Option<usize>> = vec![None; nc];
    let (mut row_done, mut col_done) = (vec![false; nr], vec![false; nc]);
    let mut remaining: Vec<usize> = Vec::with_capacity(nc);
    for start in 0..nr {
        // The shortest augmenting path from row `start`, columns scanned from the last.
        remaining.clear();
        remaining.extend((0..nc).rev());
        row_done.fill(false);
        col_done.fill(false);
        shortest.fill(f64::INFINITY);
        let mut min_val = 0.0;
        let mut i = start;
        let sink = loop {
            row_done[i] = true;
            let (mut index, mut lowest) = (0, f64::INFINITY);
            for (k, &j) in remaining.iter().enumerate() {
                let r = min_val + cost[i * nc + j] - u[i] - v[j];
                if r < shortest[j] {
                    path[j] = i;
                    shortest[j] = r;
                }
                if shortest[j] < lowest || (shortest[j] == lowest && row4col[j].is_none()) {
                    lowest = shortest[j];
                    index = k;
                }
            }
            min_val = lowest;
            let j = remaining.swap_remove(index);
            col_done[j] = true;
            match row4col[j] {
                None => break j,
                Some(next) => i = next,
            }
        };
        u[start] += min_val;
        for r in (0..nr).filter(|&r| row_done[r] && r != start) {
            let c = col4row[r].expect("rows on the path are assigned");
            u[r] += min_val - shortest[c];
        }
        for c in (0..nc).filter(|&c| col_done[c]) {
            v[c] -= min_val - shortest[c];
        }
        let mut j = sink;
        loop {
            let r = path[j];
            row4col[j] = Some(r);
            let previous = col4row[r].replace(j);
            if r == start {
                break;
            }
            j = previous.expect("rows on the path are assigned");
        }
    }
    let mut pairs: Vec<(usize, usize)> = col4row
        .into_iter()
        .enumerate()
        .map(|(r, c)| {
            let c = c.expect("every row is assigned");
            if transpose { (c, r) } else { (r, c) }
        })
        .collect();
    pairs.sort_unstable();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_is_optimal_and_breaks_ties_like_scipy() {
        // Greedy would take (0,0) = 0.9 and then (1,1) = 0.1; optimal is 0.8 + 0.8.
        let scores = [0.9, 0.8, 0.8, 0.1];
        assert_eq!(max_score_assignment(&scores, 2, 2), vec![(0, 1), (1, 0)]);
        // A constant matrix gives the identity, tall or wide.
        assert_eq!(max_score_assignment(&[1.0; 6], 2, 3), vec![(0, 0), (1, 1)]);
        assert_eq!(max_score_assignment(&[1.0; 6], 3, 2), vec![(0, 0), (1, 1)]);
        // Three rows, two columns: the row left out is the one that costs least to drop.
        let tall = [0.5, 0.9, 0.8, 0.4, 0.1, 0.1];
        assert_eq!(max_score_assignment(&tall, 3, 2), vec![(0, 1), (1, 0)]);
        assert!(max_score_assignment(&[], 0, 3).is_empty());
    }

    #[test]
    fn finds_the_cheapest_gated_matching_in_either_orientation() {
        // Greedy would take (0,0)=0.1 and then (1,1)=0.9; optimal is (0,1)+(1,0) = 0.4.
        let costs = [0.1, 0.2, 0.2, 0.9];
        assert_eq!(min_cost_matching(&costs, 2, 2, 1.0), vec![(0, 1), (1, 0)]);
        // With (1,0) over the gate, the best remaining matching keeps two pairs.
        let gated = [0.1, 0.2, 0.8, 0.3];
        assert_eq!(min_cost_matching(&gated, 2, 2, 0.5), vec![(0, 0), (1, 1)]);
        // Three rows, two columns: one row stays unmatched.
        let tall = [0.5, 0.1, 0.2, 0.6, 0.9, 0.9];
        assert_eq!(min_cost_matching(&tall, 3, 2, 0.7), vec![(0, 1), (1, 0)]);
        // Nothing under the gate, or nothing at all.
        assert!(min_cost_matching(&[0.9, f32::NAN], 1, 2, 0.5).is_empty());
        assert!(min_cost_matching(&[], 0, 3, 0.5).is_empty());
    }
}
