#!/usr/bin/env bash
# Export figures of a ResNet50 (last stride 1, BNNeck, 2048-d, 256×128): a reid checkpoint (one
# epoch on the bundled sample: the speed does not depend on the weights), its reid exports (fp32,
# fp16, INT8 calibrated on 160 cuhk03 training crops) and the same network exported by PyTorch,
# timed by `reid bench` on the same 2 threads. Writes benches/results/export_resnet50.json.
# usage: TORCH_PY=/path/to/python benches/export_compare.sh   (that Python has torch, torchvision
# and onnx; without TORCH_PY the PyTorch graph is left out)
set -euo pipefail
cd "$(dirname "$0")/.."
REID=${REID:-target/debug/reid}
OUT=${OUT:-/tmp/reid-export-compare}
D=../shared/data/cuhk03-market
mkdir -p "$OUT"
CKPT=$OUT/train/model_epoch_001.ckpt
[ -f "$CKPT" ] || $REID train -e specs/train_sample.yaml -r "$OUT" model.backbone=resnet_50 \
  model.input_height=256 model.input_width=128 model.feat_dim=2048 train.num_epochs=1 dataset.batch_size=16
for t in fp32 fp16 int8; do
  [ -f "$OUT/r50_$t.onnx" ] || $REID export -e specs/train_sample.yaml -r "$OUT/$t" export.checkpoint="$CKPT" \
    export.data_type=$t export.onnx_file="$OUT/r50_$t.onnx" export.cal_image_dir=$D/bounding_box_train \
    dataset.query_dataset_dir=null dataset.test_dataset_dir=null
done
MODELS="$CKPT,$OUT/r50_fp32.onnx,$OUT/r50_fp16.onnx,$OUT/r50_int8.onnx"
if [ -n "${TORCH_PY:-}" ]; then
  [ -f "$OUT/r50_torch.onnx" ] || "$TORCH_PY" benches/torch_export.py "$OUT/r50_torch.onnx" 256 128
  MODELS="$MODELS,$OUT/r50_torch.onnx"
fi
$REID bench -e specs/train_sample.yaml -r "$OUT" num_threads=2 model.input_height=256 model.input_width=128 "bench.models=[$MODELS]" \
  "bench.batch_sizes=[1,8,32]" bench.iterations=5 bench.output_file=benches/results/export_resnet50.json
