"""PyTorch side of `cargo bench -p reid-engine --bench train_step`: one training step
(forward + label-smoothed CE + batch-hard triplet + backward + Adam) of torchvision's ResNet50,
MobileNetV2 or Swin-T with the BoT head (last stride 1, BNNeck), on CPU with N threads. Prints JSON.

usage: torch_train_step.py BACKBONE HEIGHT WIDTH BATCH [--threads=2] [--warmup=1] [--timed=3]
Needs torch and torchvision (pip install torch torchvision); exits 2 with a message without them.
"""
import json
import resource
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    import torchvision
except ImportError as e:
    sys.exit(f"torch/torchvision not installed: {e}")


def backbone(name):
    if name == "resnet_50":
        m = torchvision.models.resnet50()
        m.layer4[0].conv2.stride = (1, 1)
        m.layer4[0].downsample[0].stride = (1, 1)
        return torch.nn.Sequential(*list(m.children())[:-2]), 2048
    if name == "mobilenet_v2":
        m = torchvision.models.mobilenet_v2()
        # last stride 1: the stride-2 block of the 160-channel stage.
        m.features[14].conv[1][0].stride = (1, 1)
        return m.features, 1280
    if name == "swin_tiny_patch4_window7_224":
        # torchvision's Swin-T (windows padded like reid's); NHWC features → NCHW map.
        m = torchvision.models.swin_t()
        return torch.nn.Sequential(m.features, m.norm, m.permute), 768
    sys.exit(f"unknown backbone {name}")


class Net(torch.nn.Module):
    def __init__(self, name, classes):
        super().__init__()
        self.base, c = backbone(name)
        self.neck = torch.nn.BatchNorm1d(c)
        self.neck.bias.requires_grad_(False)
        self.classifier = torch.nn.Linear(c, classes, bias=False)

    def forward(self, x):
        g = F.adaptive_avg_pool2d(self.base(x), 1).flatten(1)
        return g, self.classifier(self.neck(g))


def triplet(f, y, margin=0.3):
    d = torch.cdist(f, f).clamp(min=1e-12)
    same = y[:, None] == y[None, :]
    ap = (d * same).max(1).values
    an = d.masked_fill(same, float("inf")).min(1).values
    return F.relu(ap - an + margin).mean()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    opts = dict(a[2:].split("=") for a in sys.argv[1:] if a.startswith("--"))
    name, h, w, n = args[0], int(args[1]), int(args[2]), int(args[3])
    torch.set_num_threads(int(opts.get("threads", 2)))
    net = Net(name, 751).train()
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=3.5e-4, weight_decay=5e-4)
    x = torch.sin(torch.arange(n * 3 * h * w, dtype=torch.float32) * 0.37).reshape(n, 3, h, w)
    y = torch.arange(n) // 4
    times = []
    warmup, timed = int(opts.get("warmup", 1)), int(opts.get("timed", 3))
    for i in range(warmup + timed):
        t0 = time.perf_counter()
        g, logits = net(x)
        loss = F.cross_entropy(logits, y, label_smoothing=0.1) + triplet(g, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    mean = sum(times) / len(times)
    print(json.dumps({
        "seconds_per_step": times,
        "img_per_s": n / mean,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
