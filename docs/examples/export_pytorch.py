#!/usr/bin/env python3
"""Write tdi activation bundles (docs/formats.md, "Activation bundle") from any PyTorch U-Net.

Usage as a library: call export_bundle() with your model, the five ResBlocks that stand for
e1, e2, mid, d2, d1 (forward hooks capture their outputs), the first 3x3 conv of each block, a
batch of clean images in [-1, 1] and the DDPM step t. Usage as a script (what `make test` runs
through tests/check_torch_example.sh): builds a tiny, seeded U-Net with that block layout and
writes <out>/activations-fit and <out>/activations-test from seeded random images, so the
pipeline can be tried without a dataset:

    /usr/bin/python3 docs/examples/export_pytorch.py --out /tmp/acts --width 4 --n-fit 64 --n-test 32
    bin/tdi-fit --check /tmp/acts

Needs torch and numpy (Debian: python3-torch, python3-numpy). Writes each bundle into a
temporary directory and renames it, so a failed run leaves nothing half-written.
"""
import argparse
import os
import shutil

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LAYERS = ("e1", "e2", "mid", "d2", "d1")


def fnv1a64(data):
    """FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3), as 16 hex digits."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def abar(t, T=1000, beta0=1e-4, beta1=0.02):
    """abar_t of tdi's linear DDPM schedule (t 0-based)."""
    betas = beta0 + (beta1 - beta0) * np.arange(T) / (T - 1)
    return float(np.prod(1.0 - betas[: t + 1]))


def pool_rows(y, p):
    """[B, C, H, W] -> [B, C*p*p]: channel means (p = 1) or p x p region means."""
    return F.adaptive_avg_pool2d(y, p).reshape(y.shape[0], -1)


def export_bundle(model, blocks, convs, x0, t, out, split, seed, pool=1, first=0,
                  checkpoint="(in memory)", checkpoint_bytes=b"", channels=None):
    """Runs model(xt, t) on x0 (a [N, 1, 32, 32] tensor in [-1, 1]) noised to step t and writes
    one activation bundle at `out` (which must not exist). blocks, convs: dicts layer -> module."""
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn(x0.shape, generator=gen)
    a = abar(t)
    xt = a ** 0.5 * x0 + (1.0 - a) ** 0.5 * eps
    got = {}
    hooks = [blocks[k].register_forward_hook(
        lambda _m, _i, o, k=k: got.__setitem__(k, pool_rows(o.detach(), pool)))
        for k in LAYERS]
    try:
        with torch.no_grad():
            model(xt, torch.full((x0.shape[0],), t, dtype=torch.long))
    finally:
        for h in hooks:
            h.remove()
    tmp = out + ".tmp.%d" % os.getpid()
    os.makedirs(tmp)
    try:
        arrays = {k: got[k].numpy().astype("<f4") for k in LAYERS}
        arrays.update({"w_" + k: convs[k].weight.detach().numpy().astype("<f4") for k in LAYERS})
        arrays["index"] = np.arange(first, first + x0.shape[0], dtype="<f8")
        arrays["x0"] = x0.reshape(x0.shape[0], -1).numpy().astype("<f4")
        arrays["xt"] = xt.reshape(x0.shape[0], -1).numpy().astype("<f4")
        for name, arr in arrays.items():
            np.save(os.path.join(tmp, name + ".npy"), np.ascontiguousarray(arr))
        width = channels or arrays["e1"].shape[1] // (pool * pool)
        shapes = ", ".join("%s: [%d, %d]" % (k, *arrays[k].shape) for k in LAYERS)
        with open(os.path.join(tmp, "manifest.yaml"), "w") as f:
            f.write("format: tdi-activations\nversion: 1\nsplit: %s\nn: %d\nt: %d\nseed: %d\n"
                    "pool: %d\nfirst: %d\nchannels: %d\ncheckpoint: \"%s\"\n"
                    "checkpoint_hash: \"%s\"\nlayers: {%s}\n"
                    % (split, x0.shape[0], t, seed, pool, first, width, checkpoint,
                       fnv1a64(checkpoint_bytes), shapes))
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class Block(nn.Module):
    """A ResBlock: conv1 (the first 3x3 conv, exported as w_<layer>), SiLU, conv2, 1x1 skip."""

    def __init__(self, cin, cout, temb):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.temb = nn.Linear(temb, cout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, e):
        h = F.silu(self.conv1(x) + self.temb(e)[:, :, None, None])
        return self.skip(x) + self.conv2(h)


class TinyUNet(nn.Module):
    """tdi's block layout at base width C: e1@32, e2@16, mid@8, d2 = cat[up, e2], d1 = cat[up, e1]."""

    def __init__(self, C, temb=16):
        super().__init__()
        self.temb = nn.Embedding(1000, temb)
        self.stem = nn.Conv2d(1, C, 3, padding=1)
        self.e1, self.e2 = Block(C, C, temb), Block(C, 2 * C, temb)
        self.mid = Block(2 * C, 4 * C, temb)
        self.d2, self.d1 = Block(6 * C, 2 * C, temb), Block(3 * C, C, temb)
        self.head = nn.Conv2d(C, 1, 3, padding=1)

    def forward(self, x, t):
        e = self.temb(t)
        e1 = self.e1(self.stem(x), e)
        e2 = self.e2(F.avg_pool2d(e1, 2), e)
        m = self.mid(F.avg_pool2d(e2, 2), e)
        d2 = self.d2(torch.cat([F.interpolate(m, scale_factor=2), e2], 1), e)
        d1 = self.d1(torch.cat([F.interpolate(d2, scale_factor=2), e1], 1), e)
        return self.head(d1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="export directory (activations-fit/-test)")
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--n-fit", type=int, default=64)
    ap.add_argument("--n-test", type=int, default=32)
    ap.add_argument("--t", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    model = TinyUNet(a.width).eval()
    blocks = {k: getattr(model, k) for k in LAYERS}
    convs = {k: blocks[k].conv1 for k in LAYERS}
    state = b"".join(p.detach().numpy().astype("<f4").tobytes() for p in model.parameters())
    os.makedirs(a.out, exist_ok=True)
    gen = torch.Generator().manual_seed(a.seed + 1)
    for split, n, first in (("train", a.n_fit, 0), ("test", a.n_test, 0)):
        x0 = torch.rand((n, 1, 32, 32), generator=gen) * 2 - 1
        name = "activations-fit" if split == "train" else "activations-test"
        export_bundle(model, blocks, convs, x0, a.t, os.path.join(a.out, name), split,
                      a.seed, first=first, checkpoint="TinyUNet(width=%d, seed=%d)"
                      % (a.width, a.seed), checkpoint_bytes=state)
    print("wrote %s/activations-fit and activations-test" % a.out)


if __name__ == "__main__":
    main()
