#!/usr/bin/python3
"""PyTorch peer of tests/bench/bench_nn.c: the same MLP, data, loss and optimiser.

bench_nn writes the synthetic rows to a little-endian float32 file (X train, Y train,
X val, Y val, row-major) and runs this script with /usr/bin/python3 (Debian's
python3-torch). It prints name=value lines that bench_nn parses:

  torch_epoch_s         mean wall seconds per training epoch (validation pass included)
  torch_epochs_run      epochs run: fewer than --epochs when --max-seconds ran out
  torch_val_mse         validation MSE after the last epoch run
  torch_infer_1row_us   one row through one net, eval mode, no_grad
  torch_infer_1row_ens5_us    one row through 5 nets of the same shape (36 outputs)
  torch_infer_36rows_ens5_us  36 rows through 5 nets of 21 outputs (one row per lead)
"""
import argparse
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--train", type=int, required=True)
    ap.add_argument("--val", type=int, required=True)
    ap.add_argument("--inputs", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--outputs", type=int, default=36)
    ap.add_argument("--quantiles", type=int, default=21)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=0,
                    help="stop training after the epoch that passes this (0: never)")
    a = ap.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    F, O = a.inputs, a.outputs
    raw = np.fromfile(a.data, dtype="<f4")
    want = (a.train + a.val) * (F + O)
    if raw.size != want:
        sys.exit("torch_nn_peer: '%s' has %d floats, want %d" % (a.data, raw.size, want))
    o = 0

    def take(n, w):
        nonlocal o
        t = torch.from_numpy(raw[o:o + n * w].reshape(n, w).copy())
        o += n * w
        return t

    xtr, ytr = take(a.train, F), take(a.train, O)
    xva, yva = take(a.val, F), take(a.val, O)

    def mlp(outputs):
        return torch.nn.Sequential(
            torch.nn.Linear(F, a.hidden), torch.nn.ReLU(),
            torch.nn.Linear(a.hidden, a.hidden), torch.nn.ReLU(),
            torch.nn.Linear(a.hidden, outputs))

    net = mlp(O)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = torch.nn.MSELoss()
    g = torch.Generator().manual_seed(a.seed)
    t0 = time.perf_counter()
    val = float("nan")
    run = 0
    for _ in range(a.epochs):
        net.train()
        perm = torch.randperm(a.train, generator=g)
        for i in range(0, a.train, a.batch):
            idx = perm[i:i + a.batch]
            opt.zero_grad(set_to_none=True)
            loss = lossf(net(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            val = sum(lossf(net(xva[i:i + 1024]), yva[i:i + 1024]).item() * len(xva[i:i + 1024])
                      for i in range(0, a.val, 1024)) / a.val
        run += 1
        if a.max_seconds and time.perf_counter() - t0 > a.max_seconds:
            break
    epoch_s = (time.perf_counter() - t0) / run

    def per_call_us(fn, calls):
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(calls):
                fn()
            best = min(best, (time.perf_counter() - t) / calls)
        return best * 1e6

    def ensemble(nets, x):
        acc = nets[0](x)
        for m in nets[1:]:
            acc = acc + m(x)
        return acc / len(nets)

    with torch.no_grad():
        row, rows = xva[:1].clone(), xva[:36].clone()
        one = per_call_us(lambda: net(row), 2000)
        nets = [mlp(O).eval() for _ in range(5)]
        one5 = per_call_us(lambda: ensemble(nets, row), 1000)
        qnets = [mlp(a.quantiles).eval() for _ in range(5)]
        ens36 = per_call_us(lambda: ensemble(qnets, rows), 500)

    print("torch_version=%s" % torch.__version__)
    print("torch_threads=%d" % torch.get_num_threads())
    print("torch_epoch_s=%.6f" % epoch_s)
    print("torch_epochs_run=%d" % run)
    print("torch_val_mse=%.6f" % val)
    print("torch_infer_1row_us=%.3f" % one)
    print("torch_infer_1row_ens5_us=%.3f" % one5)
    print("torch_infer_36rows_ens5_us=%.3f" % ens36)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
