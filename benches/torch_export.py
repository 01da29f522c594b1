"""PyTorch side of the export comparison: torchvision's ResNet50 with the BoT head (last stride
1, GAP, BNNeck, neck_feat after) in eval mode, exported by torch.onnx.export (opset 17, input
`input` NCHW float, output `embedding`, dynamic batch) — the same graph `reid export` writes for
a `resnet_50` checkpoint, for `reid bench` to time both in ONNX Runtime.

usage: torch_export.py OUT.onnx [HEIGHT WIDTH]
Needs torch, torchvision and onnx (pip install torch torchvision onnx); exits 2 without them.
"""
import sys

try:
    import torch
    import torchvision
except ImportError as e:
    sys.exit(f"torch/torchvision not installed: {e}")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        m = torchvision.models.resnet50()
        m.layer4[0].conv2.stride = (1, 1)
        m.layer4[0].downsample[0].stride = (1, 1)
        self.base = torch.nn.Sequential(*list(m.children())[:-2])
        self.neck = torch.nn.BatchNorm1d(2048)

    def forward(self, x):
        g = torch.nn.functional.adaptive_avg_pool2d(self.base(x), 1).flatten(1)
        return self.neck(g)


def main():
    out = sys.argv[1]
    h, w = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (256, 128)
    torch.manual_seed(0)
    net = Net().eval()
    # Non-trivial BatchNorm statistics, as a trained network has.
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    x = torch.randn(1, 3, h, w)
    torch.onnx.export(
        net, (x,), out, opset_version=17, input_names=["input"], output_names=["embedding"],
        dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}}, dynamo=False,
    )
    print(out)


if __name__ == "__main__":
    main()
