#!/usr/bin/env python3
"""The GPU kit's report: merges what run.sh's stages wrote into summary.json
and summary.md in --out, and copies the plots (at most 8 files in all with
run.log). Standard library only."""
import argparse
import csv
import json
import os
import shutil


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def stages(work):
    out = []
    try:
        with open(os.path.join(work, "stages.tsv")) as f:
            for row in csv.reader(f, delimiter="\t"):
                if len(row) >= 5:
                    out.append({"stage": row[0], "status": row[1], "seconds": int(row[2]), "budget_s": int(row[3]), "note": row[4]})
    except OSError:
        pass
    return out


def trace(work):
    """The nvidia-smi samples, grouped by the stage marks run.sh wrote."""
    marks = []
    try:
        with open(os.path.join(work, "marks.csv")) as f:
            for line in f:
                ts, _, name = line.rstrip("\n").split(",", 2)
                marks.append((ts, name))
    except OSError:
        pass
    phases, samples = {}, 0
    try:
        with open(os.path.join(work, "nvml.csv")) as f:
            for row in csv.reader(f):
                if len(row) < 8:
                    continue
                row = [c.strip() for c in row]
                samples += 1
                phase = "start"
                for ts, name in marks:
                    if ts <= row[0]:
                        phase = name
                p = phases.setdefault(phase, {"samples": 0, "power_w": [], "util_pct": [], "mem_used_mib": [], "sm_mhz": []})
                p["samples"] += 1
                for key, i in (("power_w", 1), ("util_pct", 2), ("mem_used_mib", 4), ("sm_mhz", 5)):
                    try:
                        p[key].append(float(row[i]))
                    except ValueError:
                        pass
    except OSError:
        return None
    out = {"source": "nvidia-smi (NVML), 200 ms", "samples": samples, "phases": {}}
    for name, p in phases.items():
        s = {"samples": p["samples"]}
        for key in ("power_w", "util_pct", "mem_used_mib", "sm_mhz"):
            v = p[key]
            if v:
                s[key + "_mean"] = round(sum(v) / len(v), 1)
                s[key + "_max"] = max(v)
        out["phases"][name] = s
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--emu", default="0")
    ap.add_argument("--shapes", default="")
    a = ap.parse_args()
    shapes = [s for s in a.shapes.split(",") if s]
    w = a.work
    summary = {
        "kit": "rwkvgo GPU kit",
        "mode": "emulated library (small shapes, timings meaningless)" if a.emu == "1" else "GPU",
        "stages": stages(w),
        "ledger": load(os.path.join(w, "ledger.json")),
        "kernels": load(os.path.join(w, "kernels", "report.json")),
        "e2e": {s: load(os.path.join(w, "e2e-" + s, "report.json")) for s in shapes},
        "scaling": load(os.path.join(w, "scaling", "report.json")),
        "peer": load(os.path.join(w, "peer.json")),
        "nvml_trace": trace(w),
    }
    for r in [summary["kernels"], summary["scaling"]] + list(summary["e2e"].values()):
        if r:
            r.pop("samples", None)  # the telemetry samples: the phases keep their summary
    files = []
    copies = [(os.path.join(w, "kernels", "kernels_bandwidth.png"), "kernels_bandwidth.png"),
              (os.path.join(w, "scaling", "scaling_memory.png"), "memory_vs_length.png")]
    copies += [(os.path.join(w, "e2e-" + s, "throughput_batch.png"), "throughput_batch_%s.png" % s) for s in shapes[:2]]
    for src, name in copies:
        if os.path.exists(src):
            shutil.copy(src, os.path.join(a.out, name))
            files.append(name)
    summary["files"] = ["summary.json", "summary.md", "run.log"] + files
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)

    md = ["# rwkvgo GPU kit: " + summary["mode"], ""]
    md += ["| stage | status | seconds | budget (s) | note |", "|---|---|---:|---:|---|"]
    md += ["| %(stage)s | %(status)s | %(seconds)d | %(budget_s)d | %(note)s |" % s for s in summary["stages"]]
    peer = {}  # (engine, shape, batch) -> decode tok/s
    if summary["peer"]:
        for r in summary["peer"].get("runs", []):
            peer[(r.get("engine", "torch-standin"), r["shape"], r["batch"])] = r.get("decode_tok_s")
    cell = lambda v: "%.0f" % v if v else "-"
    ratio = lambda a, b: "%.2f" % (a / b) if a and b else "-"
    for s, r in summary["e2e"].items():
        if not r:
            continue
        md += ["", "## End to end: %s fp16 (%s)" % (s, r.get("device", {}).get("name", "")), ""]
        md += ["| batch | prefill tok/s | decode tok/s | decode ms p50 | rwkv pip tok/s | ratio | PyTorch stand-in tok/s | ratio |",
               "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for run in r.get("runs", []):
            d = run["decode_tok_s"]
            pip, std = peer.get(("rwkv-pip", s, run["batch"])), peer.get(("torch-standin", s, run["batch"]))
            md.append("| %d | %.0f | %.0f | %.3f | %s | %s | %s | %s |" % (run["batch"], run["prefill_tok_s"], d, run["decode_ms"]["p50"],
                                                                      cell(pip), ratio(d, pip), cell(std), ratio(d, std)))
    if summary["peer"]:
        md += ["", "Peers (ratio = rwkvgo decode tok/s / the peer's): the rwkv pip package's RWKV-7 path (one sequence at a time: batch 1 only) on the same model files; " + summary["peer"].get("label", "")]
        if summary["peer"].get("rwkv_pip_error"):
            md += ["", "rwkv pip package unusable here: " + summary["peer"]["rwkv_pip_error"]]
    if summary["ledger"]:
        md += ["", "## Step ledger (counted; the projection is a roofline model, not a measurement)", ""]
        md += ["| model | batch | launches | per layer | graph launches | host syncs | h2d B | d2h B | allocations | weight B | projected H100 SXM tok/s | projected H200 tok/s | measured tok/s |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for l, s in zip(summary["ledger"], shapes):
            measured = {}
            if summary["e2e"].get(s):
                measured = {run["batch"]: run["decode_tok_s"] for run in summary["e2e"][s].get("runs", [])}
            for r in l["runs"]:
                proj = {p["device"]: p["projected_tok_s"] for p in r["projection"]}
                m = measured.get(r["batch"])
                md.append("| %s | %d | %g | %.1f | %g | %g | %g | %g | %g | %d | %.0f | %.0f | %s |" % (
                    s, r["batch"], r["launches"], r["launches_per_layer"], r["graph_launches"], r["host_syncs"],
                    r["h2d_bytes"], r["d2h_bytes"], r["allocations"], r["weight_bytes_per_step"],
                    proj.get("H100 SXM", 0), proj.get("H200", 0), "%.0f" % m if m else "-"))
        md += ["", "Assumptions: " + "; ".join(summary["ledger"][0]["assumptions"])]
    k = summary["kernels"]
    if k and k.get("kernels"):
        md += ["", "## Kernels (F16 weights)", "", "| op | shape | rows | operands | us p50 | GB/s | % peak BW | time / cuBLAS |", "|---|---|---:|---|---:|---:|---:|---:|"]
        for r in k["kernels"]:
            md.append("| %s | %s | %d | %s | %.1f | %.1f | %.1f | %s |" % (r["op"], r["shape"], r["rows"], r.get("dims", ""), r["us"]["p50"], r["gb_s"],
                                                                 100 * r["peak_bw_frac"], "%.2f" % r["vendor_ratio"] if r.get("vendor_ratio") else "-"))
    sc = summary["scaling"]
    if sc and sc.get("scaling"):
        md += ["", "## Memory vs sequence length", "", "| model | context | decode tok/s | state bytes | GPU memory used |", "|---|---:|---:|---:|---:|"]
        for p in sc["scaling"].get("points", []):
            md.append("| %s | %d | %.0f | %d | %s |" % (p["model"], p["context"], p["decode_tok_s"], p["state_bytes"],
                                                     p.get("gpu_mem_used_bytes") or "-"))
    t = summary["nvml_trace"]
    if t:
        md += ["", "## NVML trace (%s, %d samples)" % (t["source"], t["samples"]), "",
               "| phase | mean W | max W | mean util % | max memory MiB | mean SM MHz |", "|---|---:|---:|---:|---:|---:|"]
        for name, p in t["phases"].items():
            md.append("| %s | %s | %s | %s | %s | %s |" % (name, p.get("power_w_mean", "-"), p.get("power_w_max", "-"),
                                                       p.get("util_pct_mean", "-"), p.get("mem_used_mib_max", "-"), p.get("sm_mhz_mean", "-")))
    md += ["", "Files: " + ", ".join(summary["files"]), ""]
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write("\n".join(md))
    print("summary: %s" % ", ".join(summary["files"]))


if __name__ == "__main__":
    main()
