#!/usr/bin/env python3
"""Independent numpy MobileNetV2 (torchvision layout, eval-mode BatchNorm) for reid's tests.

  mobilenet_v2_reference.py WEIGHTS.safetensors INPUT.f32 N H W OUT.f32

Reads the torchvision `features.*` state dict from a safetensors file (parsed by hand: an 8-byte
little-endian header length, a JSON header, raw tensors), runs the backbone in float64 on the raw
float32 NCHW input, and writes the globally average-pooled 1280-d features as float32.
"""
import json
import struct
import sys

import numpy as np

SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    weights = {}
    for name, v in header.items():
        a, b = v["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[v["dtype"]]
        weights[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dtype).reshape(v["shape"]).astype(np.float64)
    return weights


def conv(x, w, stride, depthwise):
    kh = w.shape[2]
    pad = (kh - 1) // 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho = (x.shape[2] + 2 * pad - kh) // stride + 1
    wo = (x.shape[3] + 2 * pad - kh) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(kh):
        for j in range(kh):
            patch = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
            if depthwise:
                out += patch * w[:, 0, i, j][None, :, None, None]
            else:
                out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return out


def main():
    weights_path, inp, n, h, w, out = sys.argv[1:7]
    W = load(weights_path)

    def bn(x, p):
        scale = W[p + ".weight"] / np.sqrt(W[p + ".running_var"] + 1e-5)
        shift = W[p + ".bias"] - W[p + ".running_mean"] * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]

    relu6 = lambda x: np.clip(x, 0.0, 6.0)
    x = np.fromfile(inp, dtype="<f4").astype(np.float64).reshape(int(n), 3, int(h), int(w))
    y = relu6(bn(conv(x, W["features.0.0.weight"], 2, False), "features.0.1"))
    k, cin = 1, 32
    for t, c, repeats, s in SETTING:
        for i in range(repeats):
            stride = s if i == 0 else 1
            p = f"features.{k}.conv."
            z = y
            if t != 1:
                z = relu6(bn(conv(z, W[p + "0.weight"], 1, False), p + "1"))
                dw, dwbn, proj, projbn = "3", "4", "6", "7"
            else:
                dw, dwbn, proj, projbn = "0", "1", "3", "4"
            z = relu6(bn(conv(z, W[p + dw + ".weight"], stride, True), p + dwbn))
            z = bn(conv(z, W[p + proj + ".weight"], 1, False), p + projbn)
            y = y + z if (stride == 1 and cin == c) else z
            cin, k = c, k + 1
    y = relu6(bn(conv(y, W["features.18.0.weight"], 1, False), "features.18.1"))
    y.mean(axis=(2, 3)).astype("<f4").tofile(out)


if __name__ == "__main__":
    main()
