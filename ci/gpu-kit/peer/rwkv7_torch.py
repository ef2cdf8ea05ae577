#!/usr/bin/env python3
"""The GPU kit's peer: a plain PyTorch RWKV-7 decode step (eager mode, fp16
weights and activations, fp32 recurrent state, random weights of the official
shapes), timed with CUDA events at each batch size.

This is a stand-in for the public RWKV GPU engines (the `rwkv` pip package's
CUDA path, BlinkDL's Albatross), which the device check cannot install
without a network. It follows the RWKV-7 "x070" reference decode step (time
mix with the LoRA projections, the generalized delta rule on a 64-wide head
state, group norm, channel mix with squared ReLU, the head) with no fused
kernels, so its figures are those of straightforward PyTorch, not of a tuned
engine; the report labels them so.

With --rwkv-wheel (the `rwkv` pip package's wheel, which the kit carries when
`pip download` could fetch it) and --models, the same synthetic model files
that rwkvgo ran are also timed on that package's RWKV-7 path (RWKV_x070,
TorchScript, fp16): a public engine, but one sequence at a time, so batch 1
only. Its runs are labelled engine "rwkv-pip", the stand-in's "torch-standin".

Usage: rwkv7_torch.py --shapes v7-0.1b,v7-1.5b --batch 1,8,64,256 --steps 16 --out peer.json
       [--rwkv-wheel rwkv-0.8.32-py3-none-any.whl --models v7-0.1b=m.safetensors,...]
"""
import argparse
import json
import os
import struct
import tempfile
import zipfile
import math
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {
    "v7-tiny": (2, 64, 256, 16),
    "v7-0.1b": (12, 768, 65536, 64),
    "v7-0.4b": (24, 1024, 65536, 64),
    "v7-1.5b": (24, 2048, 65536, 64),
    "v7-3b": (32, 2560, 65536, 64),
}

LABEL = ("stand-in peer: plain eager PyTorch RWKV-7 decode step (fp16, random weights), "
         "not the rwkv pip package or Albatross")


def lora_dims(c):
    r = lambda f, p: max(32, int(round(f * c ** p / 32)) * 32)
    return r(1.8, 0.5), r(1.8, 0.5), r(1.3, 0.5), r(0.6, 0.8)  # decay, a, v, gate


class Model:
    def __init__(self, layers, c, vocab, n, dev, dt):
        g = torch.Generator(device=dev).manual_seed(1)
        rnd = lambda *s, scale=None: (torch.randn(*s, device=dev, generator=g) *
                                       (scale if scale is not None else 1 / math.sqrt(s[0]))).to(dt)
        dw, da, dv, dg = lora_dims(c)
        self.c, self.n, self.h = c, n, c // n
        self.ffn = 4 * c
        self.emb = rnd(vocab, c, scale=0.1)
        self.head = rnd(c, vocab)
        self.ln_out = (torch.ones(c, device=dev, dtype=dt), torch.zeros(c, device=dev, dtype=dt))
        self.layers = []
        for i in range(layers):
            L = {
                "ln1": (torch.ones(c, device=dev, dtype=dt), torch.zeros(c, device=dev, dtype=dt)),
                "ln2": (torch.ones(c, device=dev, dtype=dt), torch.zeros(c, device=dev, dtype=dt)),
                "mix": rnd(6, c, scale=0.5),
                "wr": rnd(c, c), "wk": rnd(c, c), "wv": rnd(c, c), "wo": rnd(c, c),
                "w0": rnd(c, scale=0.5), "w1": rnd(c, dw), "w2": rnd(dw, c),
                "a0": rnd(c, scale=0.5), "a1": rnd(c, da), "a2": rnd(da, c),
                "v0": rnd(c, scale=0.5), "v1": rnd(c, dv), "v2": rnd(dv, c),
                "g1": rnd(c, dg), "g2": rnd(dg, c),
                "k_k": rnd(c, scale=0.5), "k_a": rnd(c, scale=0.5), "r_k": rnd(self.h, n, scale=0.5),
                "lnx": (torch.ones(c, device=dev, dtype=dt), torch.zeros(c, device=dev, dtype=dt)),
                "cmix": rnd(c, scale=0.5), "ck": rnd(c, self.ffn), "cv": rnd(self.ffn, c),
            }
            self.layers.append(L)

    def new_state(self, b, dev, dt):
        return [(torch.zeros(b, self.c, device=dev, dtype=dt), torch.zeros(b, self.h, self.n, self.n, device=dev),
                 torch.zeros(b, self.c, device=dev, dtype=dt)) for _ in self.layers]

    @torch.no_grad()
    def step(self, tokens, state):
        x = self.emb[tokens]
        b, c, h, n = x.shape[0], self.c, self.h, self.n
        v_first = None
        for i, L in enumerate(self.layers):
            tprev, s, cprev = state[i]
            xx = F.layer_norm(x, (c,), *L["ln1"])
            d = tprev - xx
            tprev.copy_(xx)
            m = L["mix"]
            xr, xw, xk, xv, xa, xg = (xx + d * m[j] for j in range(6))
            r = xr @ L["wr"]
            w = -F.softplus(-(L["w0"] + torch.tanh(xw @ L["w1"]) @ L["w2"])) - 0.5
            k = xk @ L["wk"]
            v = xv @ L["wv"]
            if v_first is None:
                v_first = v
            else:
                v = v + (v_first - v) * torch.sigmoid(L["v0"] + (xv @ L["v1"]) @ L["v2"])
            a = torch.sigmoid(L["a0"] + (xa @ L["a1"]) @ L["a2"])
            gate = torch.sigmoid(xg @ L["g1"]) @ L["g2"]
            kk = F.normalize((k * L["k_k"]).view(b, h, n).float(), dim=-1)
            k = k * (1 + (a - 1) * L["k_a"])
            decay = torch.exp(-torch.exp(w.float())).view(b, h, 1, n)
            vf, kf, rf, af = (t.float().view(b, h, n) for t in (v, k, r, a))
            sab = (s @ (-kk).unsqueeze(-1)) @ (kk * af).unsqueeze(-2)  # from the state before the decay
            s.mul_(decay).add_(sab).add_(vf.unsqueeze(-1) @ kf.unsqueeze(-2))
            out = (s @ rf.unsqueeze(-1)).view(b, c)
            out = F.group_norm(out, h, L["lnx"][0].float(), L["lnx"][1].float(), eps=64e-5)
            out = out + ((rf * kf * L["r_k"].float()).sum(-1, keepdim=True) * vf).view(b, c)
            x = x + (out.to(x.dtype) * gate) @ L["wo"]
            xx = F.layer_norm(x, (c,), *L["ln2"])
            d = cprev - xx
            cprev.copy_(xx)
            kx = torch.relu((xx + d * L["cmix"]) @ L["ck"]) ** 2
            x = x + kx @ L["cv"]
        return F.layer_norm(x, (c,), *self.ln_out) @ self.head


def read_safetensors(path):
    """The tensors of a safetensors file (F16, BF16 and F32) as CPU tensors."""
    types = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        dt = types[t["dtype"]]
        n = (e - b) // torch.empty(0, dtype=dt).element_size()
        if n == 0:
            out[name] = torch.empty(t["shape"], dtype=dt)
            continue
        out[name] = torch.frombuffer(data, dtype=dt, count=n, offset=b).reshape(t["shape"]).clone()
    return out


def rwkv_pip(wheel, models, steps, warmup, tmp):
    """Batch-1 decode of each model file on the rwkv pip package's RWKV-7
    path; yields one run per model."""
    with zipfile.ZipFile(wheel) as z:
        z.extractall(os.path.join(tmp, "rwkv-pip"))
    sys.path.insert(0, os.path.join(tmp, "rwkv-pip"))
    os.environ.update(RWKV_V7_ON="1", RWKV_JIT_ON="1", RWKV_CUDA_ON="0")
    from rwkv.model import RWKV  # noqa: E402 (the carried wheel)
    import rwkv
    version = os.path.basename(wheel).split("-")[1]
    for name, path in models:
        run = {"engine": "rwkv-pip", "engine_version": version, "shape": name, "batch": 1}
        try:
            pth = os.path.join(tmp, name)
            torch.save(read_safetensors(path), pth + ".pth")
            m = RWKV(model=pth, strategy="cuda fp16")
            os.remove(pth + ".pth")
            state, tok = None, 0
            for _ in range(warmup):
                logits, state = m.forward(tok, state)
            times = []
            for _ in range(steps):
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
                logits, state = m.forward(tok, state)
                e1.record()
                tok = int(logits.argmax())
                times.append(e0.elapsed_time(e1))
            times.sort()
            p50 = times[len(times) // 2]
            run.update(step_ms_p50=p50, decode_tok_s=1 / (p50 / 1e3))
            del m, state
        except Exception as e:  # recorded; the stand-in still runs
            run["error"] = (type(e).__name__ + ": " + str(e)).splitlines()[0][:200]
        torch.cuda.empty_cache()
        print(json.dumps(run), flush=True)
        yield run
    del rwkv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="v7-0.1b")
    ap.add_argument("--batch", default="1,8,64,256")
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rwkv-wheel", default="", help="the rwkv pip package's wheel (optional)")
    ap.add_argument("--models", default="", help="SHAPE=FILE.safetensors,... for --rwkv-wheel")
    a = ap.parse_args()
    dev, dt = "cuda", torch.float16
    report = {"label": LABEL, "torch": torch.__version__, "device": torch.cuda.get_device_name(0), "runs": []}
    if a.rwkv_wheel and a.models:
        models = [m.split("=", 1) for m in a.models.split(",") if "=" in m]
        with tempfile.TemporaryDirectory() as tmp:
            try:
                report["runs"] += list(rwkv_pip(a.rwkv_wheel, models, a.steps, a.warmup, tmp))
            except Exception as e:
                report["rwkv_pip_error"] = (type(e).__name__ + ": " + str(e)).splitlines()[0][:200]
                print("rwkv pip package unusable:", report["rwkv_pip_error"], flush=True)
    for name in a.shapes.split(","):
        layers, c, vocab, n = SHAPES[name]
        t0 = time.time()
        m = Model(layers, c, vocab, n, dev, dt)
        print(f"{name}: weights ready in {time.time() - t0:.1f}s", flush=True)
        for b in (int(x) for x in a.batch.split(",")):
            run = {"engine": "torch-standin", "shape": name, "batch": b}
            try:
                st = m.new_state(b, dev, dt)
                tok = torch.randint(0, vocab, (b,), device=dev)
                for _ in range(a.warmup):
                    m.step(tok, st)
                times = []
                for _ in range(a.steps):
                    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    e0.record()
                    logits = m.step(tok, st)
                    e1.record()
                    tok = logits.argmax(-1)  # the next tokens, as an engine would feed them
                    torch.cuda.synchronize()
                    times.append(e0.elapsed_time(e1))
                times.sort()
                p50 = times[len(times) // 2]
                run.update(step_ms_p50=p50, decode_tok_s=b / (p50 / 1e3))
                del st
            except Exception as e:  # out of memory and the like: recorded, the run goes on
                run["error"] = str(e).splitlines()[0][:200]
                torch.cuda.empty_cache()
            print(json.dumps(run), flush=True)
            report["runs"].append(run)
        del m
        torch.cuda.empty_cache()
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
    return 0 if all("error" not in r for r in report["runs"] if r["engine"] == "torch-standin") else 1


if __name__ == "__main__":
    sys.exit(main())
