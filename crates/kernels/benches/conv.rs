//! Convolution layers on `flex`, Burn's kernels against reid-kernels':
//! `cargo bench -p reid-kernels --bench conv --profile dev [-- CASE …]`. For each layer shape of
//! a ResNet50 (last stride 1) training step at 256×128, batch 32, and MobileNetV2's depthwise
//! layers at 128×64, batch 64, the best of three runs of: the forward pass, forward + weight
//! gradient, forward + weight and input gradients (2 threads; the two implementations
//! alternate so the host's drift hits both). Writes benches/results/conv_kernels.json.

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Instant;

/// Name, input `[n, c, h, w]`, output channels, kernel, stride, groups.
type Case = (&'static str, [usize; 4], usize, usize, usize, usize);

const CASES: &[Case] = &[
    ("resnet50_stem_7x7_s2", [32, 3, 256, 128], 64, 7, 2, 1),
    ("resnet50_l1_1x1_64_256", [32, 64, 64, 32], 256, 1, 1, 1),
    ("resnet50_l1_1x1_256_64", [32, 256, 64, 32], 64, 1, 1, 1),
    ("resnet50_l1_3x3_64", [32, 64, 64, 32], 64, 3, 1, 1),
    ("resnet50_l2_3x3_s2_128", [32, 128, 64, 32], 128, 3, 2, 1),
    ("resnet50_l2_3x3_128", [32, 128, 32, 16], 128, 3, 1, 1),
    ("resnet50_l3_1x1_1024_256", [32, 1024, 16, 8], 256, 1, 1, 1),
    ("resnet50_l4_3x3_512", [32, 512, 16, 8], 512, 3, 1, 1),
    ("resnet50_l4_1x1_512_2048", [32, 512, 16, 8], 2048, 1, 1, 1),
    ("mobilenet_v2_dw_3x3_144", [64, 144, 32, 16], 144, 3, 1, 144),
    (
        "mobilenet_v2_dw_3x3_s2_144",
        [64, 144, 32, 16],
        144,
        3,
        2,
        144,
    ),
    (
        "mobilenet_v2_dw_3x3_960_8x4",
        [64, 960, 8, 4],
        960,
        3,
        1,
        960,
    ),
    (
        "mobilenet_v2_256_dw_3x3_s2_96",
        [32, 96, 128, 64],
        96,
        3,
        2,
        96,
    ),
    (
        "mobilenet_v2_256_dw_3x3_144",
        [32, 144, 64, 32],
        144,
        3,
        1,
        144,
    ),
];
const RUNS: usize = 3;
const THREADS: usize = 2;

type Conv = fn(Tensor<4>, Tensor<4>, ConvOptions<2>) -> Tensor<4>;

fn burn(x: Tensor<4>, w: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
    burn_conv2d(x, w, None, options)
}

/// Seconds of: forward, forward + weight gradient, forward + both gradients.
fn time(conv: Conv, data: &[Tensor<4>; 3], options: &ConvOptions<2>) -> [f64; 3] {
    let device = Device::flex().autodiff();
    let once = |grads: usize| {
        let [x, w, g] = data
            .clone()
            .map(|t| Tensor::<4>::from_data(t.into_data(), &device));
        let w = if grads > 0 { w.require_grad() } else { w };
        let x = if grads > 1 { x.require_grad() } else { x };
        let start = Instant::now();
        let y = conv(x.clone(), w.clone(), options.clone());
        if grads == 0 {
            let _ = y.sum().into_scalar::<f32>();
        } else {
            let grads = (y * g).sum().backward();
            let _ = w.grad(&grads).map(|d| d.sum().into_scalar::<f32>());
            let _ = x.grad(&grads).map(|d| d.sum().into_scalar::<f32>());
        }
        start.elapsed().as_secs_f64()
    };
    [0, 1, 2].map(|grads| (0..RUNS).map(|_| once(grads)).fold(f64::MAX, f64::min))
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build_global()
        .expect("one rayon pool");
    let plain = Device::flex();
    let mut results = Vec::new();
    for &(name, input, out, k, stride, groups) in CASES
        .iter()
        .filter(|c| args.is_empty() || args.iter().any(|a| a == c.0))
    {
        let pad = (k - 1) / 2;
        let options = ConvOptions::new([stride, stride], [pad, pad], [1, 1], groups);
        let x = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), &plain);
        let w = Tensor::<4>::random(
            [out, input[1] / groups, k, k],
            Distribution::Normal(0.0, 0.1),
            &plain,
        );
        let y = burn(x.clone(), w.clone(), options.clone());
        let g = Tensor::<4>::random(y.dims(), Distribution::Normal(0.0, 1.0), &plain);
        let data = [x, w, g];
        let b = time(burn, &data, &options);
        let r = time(reid_kernels::conv2d, &data, &options);
        let ms = |t: [f64; 3]| {
            json!({
                "forward_ms": t[0] * 1e3,
                "weight_grad_ms": (t[1] - t[0]) * 1e3,
                "input_grad_ms": (t[2] - t[1]) * 1e3,
                "forward_backward_ms": t[2] * 1e3,
            })
        };
        eprintln!(
            "{name:28} forward+backward: burn {:7.1} ms, reid-kernels {:7.1} ms ({:.2}×)",
            b[2] * 1e3,
            r[2] * 1e3,
            b[2] / r[2]
        );
        results.push(json!({
            "case": name,
            "burn_flex": ms(b),
            "reid_kernels": ms(r),
            "speedup_forward_backward": b[2] / r[2],
        }));
    }
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/results/conv_kernels.json");
    let doc: Value = json!({
        "build": "dev profile (dependencies and reid-kernels at opt-level 3)",
        "threads": THREADS,
        "results": results,
    });
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&doc).expect("json") + "\n",
    )
    .expect("write benches/results/conv_kernels.json");
    eprintln!("wrote {}", path.display());
}
