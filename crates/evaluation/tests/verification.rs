//! reid's verification metrics against scikit-learn: `tests/fixtures/verification_sklearn.json`,
//! written by `scripts/verification_fixture.py` from `sklearn.metrics.roc_curve` on a seeded
//! 30 × 260 case with ties, same-pid-same-camera exclusions and open-set queries. The EER, the
//! TAR / threshold / achieved FAR at each FAR target and the ROC points must agree within 1e-6.

use reid_evaluation::DistMat;
use reid_evaluation::metrics::Labels;
use reid_evaluation::verification::{RocPoint, evaluate};
use serde::Deserialize;

const TOL: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixture {
    rows: usize,
    cols: usize,
    query_pids: Vec<i32>,
    query_camids: Vec<u32>,
    gallery_pids: Vec<i32>,
    gallery_camids: Vec<u32>,
    dist: Vec<f32>,
    num_genuine: usize,
    num_impostor: usize,
    roc_threshold: Vec<f64>,
    roc_far: Vec<f64>,
    roc_tar: Vec<f64>,
    eer: f64,
    far: Vec<f64>,
    tar: Vec<f64>,
    threshold: Vec<Option<f64>>,
    far_achieved: Vec<f64>,
}

/// Largest absolute difference of two equally long slices.
fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn verification_matches_sklearn_roc_curve() -> Result<(), Box<dyn std::error::Error>> {
    let f: Fixture = serde_json::from_str(include_str!("fixtures/verification_sklearn.json"))?;
    let dist = DistMat {
        rows: f.rows,
        cols: f.cols,
        data: f.dist,
    };
    let query = Labels {
        pids: &f.query_pids,
        camids: &f.query_camids,
    };
    let gallery = Labels {
        pids: &f.gallery_pids,
        camids: &f.gallery_camids,
    };
    let v = evaluate(&dist, query, gallery, &f.far)?;
    assert_eq!(
        (v.num_genuine, v.num_impostor),
        (f.num_genuine, f.num_impostor)
    );

    let eer_diff = (v.eer - f.eer).abs();
    assert!(eer_diff < TOL, "EER {} vs sklearn {}", v.eer, f.eer);
    assert_eq!(v.far, f.far);
    let tar_diff = max_diff(&v.tar, &f.tar);
    assert!(tar_diff < TOL, "TAR {:?} vs sklearn {:?}", v.tar, f.tar);
    let far_diff = max_diff(&v.far_achieved, &f.far_achieved);
    assert!(
        far_diff < TOL,
        "FAR {:?} vs {:?}",
        v.far_achieved,
        f.far_achieved
    );
    let mut threshold_diff: f64 = 0.0;
    for (ours, theirs) in v.threshold.iter().zip(&f.threshold) {
        match (ours, theirs) {
            (Some(a), Some(b)) => threshold_diff = threshold_diff.max((a - b).abs()),
            (None, None) => {}
            _ => panic!("thresholds {:?} vs sklearn {:?}", v.threshold, f.threshold),
        }
    }
    assert!(
        threshold_diff < TOL,
        "{:?} vs {:?}",
        v.threshold,
        f.threshold
    );

    // ROC: every reid point is sklearn's point at the same threshold; every sklearn point that
    // reid dropped lies on the vertical or horizontal segment between reid's neighbours.
    let sk: Vec<RocPoint> = (0..f.roc_threshold.len())
        .map(|k| RocPoint {
            threshold: f.roc_threshold[k],
            far: f.roc_far[k],
            tar: f.roc_tar[k],
        })
        .collect();
    let (mut roc_diff, mut matched, mut on_segment): (f64, usize, usize) = (0.0, 0, 0);
    let mut prev = RocPoint {
        threshold: f64::NEG_INFINITY,
        far: 0.0,
        tar: 0.0,
    };
    let mut ours = v.roc.iter().peekable();
    for p in &sk {
        let Some(&&next) = ours.peek() else {
            panic!("reid's curve ends before sklearn's point {p:?}");
        };
        if (next.threshold - p.threshold).abs() < TOL {
            roc_diff = roc_diff.max((next.far - p.far).abs().max((next.tar - p.tar).abs()));
            matched += 1;
            prev = next;
            ours.next();
        } else {
            assert!(
                next.threshold > p.threshold,
                "{next:?} is not a sklearn threshold"
            );
            let vertical = (p.far - prev.far).abs() < TOL && (p.far - next.far).abs() < TOL;
            let horizontal = (p.tar - prev.tar).abs() < TOL && (p.tar - next.tar).abs() < TOL;
            assert!(
                vertical || horizontal,
                "sklearn's {p:?} is off reid's segment {prev:?} → {next:?}"
            );
            on_segment += 1;
        }
    }
    assert!(
        ours.next().is_none(),
        "reid has points beyond sklearn's curve"
    );
    assert!(roc_diff < TOL, "ROC points differ by {roc_diff}");
    assert!(matched > 50 && on_segment > 50, "{matched} {on_segment}");
    println!(
        "sklearn fixture: {} genuine / {} impostor pairs; {} sklearn ROC points, {matched} kept by \
         reid (max |ΔFAR|, |ΔTAR| {roc_diff:e}), {on_segment} on reid's segments; EER {:.9} \
         (|Δ| {eer_diff:e}); TAR {:?} (max |Δ| {tar_diff:e}); thresholds {:?} (max |Δ| \
         {threshold_diff:e}); achieved FAR max |Δ| {far_diff:e}",
        v.num_genuine,
        v.num_impostor,
        sk.len(),
        v.eer,
        v.tar,
        v.threshold
    );
    Ok(())
}
