"""PyTorch side of `cargo bench -p reid-engine --bench train_step`: one training step
(forward + label-smoothed CE + batch-hard triplet + backward + Adam) of torchvision's ResNet50,
MobileNetV2 or Swin-T, or torchreid's OSNet x0.25 (written out below as torchreid builds it), with
the BoT head (last stride 1, BNNeck), on CPU with N threads. Prints JSON.

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


def conv_bn(cin, cout, k=1, stride=1, groups=1, relu=True):
    layers = [torch.nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
              torch.nn.BatchNorm2d(cout)]
    return torch.nn.Sequential(*layers, *([torch.nn.ReLU(inplace=True)] if relu else []))


class Gate(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        hidden = max(c // 16, 1)
        self.fc1, self.fc2 = torch.nn.Conv2d(c, hidden, 1), torch.nn.Conv2d(hidden, c, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))


class OSBlock(torch.nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        mid = cout // 4
        lite = lambda: torch.nn.Sequential(torch.nn.Conv2d(mid, mid, 1, bias=False),
                                           conv_bn(mid, mid, 3, groups=mid))
        self.conv1 = conv_bn(cin, mid)
        self.streams = torch.nn.ModuleList(
            torch.nn.Sequential(*[lite() for _ in range(depth)]) for depth in range(1, 5))
        self.gate = Gate(mid)
        self.conv3 = conv_bn(mid, cout, relu=False)
        self.down = conv_bn(cin, cout, relu=False) if cin != cout else None

    def forward(self, x):
        x1 = self.conv1(x)
        mixed = sum(self.gate(s(x1)) for s in self.streams)
        return F.relu(self.conv3(mixed) + (x if self.down is None else self.down(x)))


def osnet(c0, c1, c2, c3):
    def stage(cin, cout, reduce):
        extra = [conv_bn(cout, cout), torch.nn.AvgPool2d(2, 2)] if reduce else []
        return [OSBlock(cin, cout), OSBlock(cout, cout), *extra]
    fc = [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(c3, 512),
          torch.nn.BatchNorm1d(512), torch.nn.ReLU(inplace=True), torch.nn.Unflatten(1, (512, 1, 1))]
    return torch.nn.Sequential(
        conv_bn(3, c0, 7, 2), torch.nn.MaxPool2d(3, 2, 1), *stage(c0, c1, True),
        *stage(c1, c2, True), *stage(c2, c3, False), conv_bn(c3, c3), *fc)


def backbone(name):
    if name == "osnet_x0_25":
        return osnet(16, 64, 96, 128), 512
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
