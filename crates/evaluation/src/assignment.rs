//! Optimal one-to-one matching of rows to columns under a cost (Hungarian algorithm, through the
//! `pathfinding` crate), with a gate: pairs costing more than `max_cost` are never matched. Used
//! by the tracker (tracks ↔ detections) and the MOT metrics (ground truth ↔ hypotheses).

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

#[cfg(test)]
mod tests {
    use super::*;

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
