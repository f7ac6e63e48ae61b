#!/usr/bin/python3
"""PyTorch reference of tdi's U-Net (tools/unet/tdi_unet.h) for `make bench`: the same layers in
the same order, the same parameter count (printed; scripts/bench.sh compares it with tdi's), the
same bench as `bin/tdi-unet bench`: batch B, a training step = forward + MSE + backward + global
grad-norm clip 1.0 + Adam (lr 1e-5), then inference (forward only, no autograd), each for S
seconds after one warm-up step, on T threads (default 2). Needs Debian's python3-torch; not used
by `make test`. Usage: scripts/bench_unet_torch.py [--batch 64] [--seconds 10] [--threads 2]
[--channels 32] [--groups 8]. Prints one line: "torch U-Net C=.. batch ..: params N: training X
images/s (...), inference Y images/s". Non-goal: reproducing tdi's numbers (other init/rounding).
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    """GN, SiLU, conv3x3, + Linear(temb -> cout) per channel, GN, SiLU, conv3x3, residual
    (1x1 conv when cin != cout)."""

    def __init__(self, cin, cout, tdim, groups):
        super().__init__()
        self.gn1 = nn.GroupNorm(groups, cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.tp = nn.Linear(tdim, cout)
        self.gn2 = nn.GroupNorm(groups, cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.sk = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.c1(F.silu(self.gn1(x))) + self.tp(temb)[:, :, None, None]
        h = self.c2(F.silu(self.gn2(h)))
        return h + (self.sk(x) if self.sk is not None else x)


class UNet(nn.Module):
    """stem | e1 @32 | pool | e2 @16 | pool | mid @8 | up, cat e2 | d2 @16 | up, cat e1 | d1 @32 |
    GN, SiLU, conv3x3 C -> 1; temb = sinusoidal(C) -> Linear(C, 4C) -> SiLU -> Linear(4C, 4C)."""

    def __init__(self, C=32, G=8):
        super().__init__()
        td = 4 * C
        self.C = C
        self.t1 = nn.Linear(C, td)
        self.t2 = nn.Linear(td, td)
        self.stem = nn.Conv2d(1, C, 3, padding=1)
        self.e1 = ResBlock(C, C, td, G)
        self.e2 = ResBlock(C, 2 * C, td, G)
        self.mid = ResBlock(2 * C, 4 * C, td, G)
        self.d2 = ResBlock(6 * C, 2 * C, td, G)
        self.d1 = ResBlock(3 * C, C, td, G)
        self.gno = nn.GroupNorm(G, C)
        self.out = nn.Conv2d(C, 1, 3, padding=1)

    def sinus(self, t):
        half = self.C // 2
        f = torch.exp(-math.log(1e4) * torch.arange(half, dtype=torch.float64) / half)
        a = t.double()[:, None] * f[None, :]
        return torch.cat([torch.sin(a), torch.cos(a)], dim=1).float()

    def forward(self, x, t):
        temb = self.t2(F.silu(self.t1(self.sinus(t))))
        e1 = self.e1(self.stem(x), temb)
        e2 = self.e2(F.avg_pool2d(e1, 2), temb)
        m = self.mid(F.avg_pool2d(e2, 2), temb)
        d2 = self.d2(torch.cat([F.interpolate(m, scale_factor=2, mode="nearest"), e2], 1), temb)
        d1 = self.d1(torch.cat([F.interpolate(d2, scale_factor=2, mode="nearest"), e1], 1), temb)
        return self.out(F.silu(self.gno(d1)))


CPU = []  # CPU seconds (user + sys of this process) per call of each timed phase


def timed(step, seconds):
    """Runs step() for at least `seconds` and 3 calls; returns calls per second (and appends
    the CPU seconds per call to CPU)."""
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        step()
        n += 1
        el = time.perf_counter() - t0
        if el >= seconds and n >= 3:
            CPU.append((time.process_time() - c0) / n)
            return n / el


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--groups", type=int, default=8)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = UNet(a.channels, a.groups)
    nparams = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-5, betas=(0.9, 0.999), eps=1e-8)
    x = torch.randn(a.batch, 1, 32, 32)
    e = torch.randn(a.batch, 1, 32, 32)
    t = torch.randint(0, 1000, (a.batch,)).float()

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(x, t), e)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    def infer_step():
        with torch.no_grad():
            model(x, t)

    train_step()  # warm-up (allocations, thread start), as tdi's bench
    tr = timed(train_step, a.seconds) * a.batch
    infer_step()
    inf = timed(infer_step, a.seconds) * a.batch
    print(f"torch {torch.__version__} U-Net C={a.channels} batch {a.batch} threads "
          f"{torch.get_num_threads()}: params {nparams}: training {tr:.1f} images/s "
          f"(forward + backward + Adam), inference {inf:.1f} images/s; CPU ms/image: training "
          f"{1e3 * CPU[0] / a.batch:.3f}, inference {1e3 * CPU[1] / a.batch:.3f}")


if __name__ == "__main__":
    main()
