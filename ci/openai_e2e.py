#!/usr/bin/env python3
"""End-to-end check of `rwkvgo serve` with the official OpenAI Python client.

Usage: openai_e2e.py BINARY MODEL

Starts BINARY serve on a free loopback port with an API key, then checks
models, completions and chat (streaming and not), stop sequences, seeds,
n > 1, the error statuses (401, 400, 413) and the metrics page, compares a
greedy completion with `BINARY generate --temperature 0`, and finally sends
SIGTERM while a stream runs: the stream must finish and the server exit 0.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import openai

KEY = "e2e-key"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAIL: {what}")
    print(f"ok: {what}")


def json_text(b):
    """Text as it reads after a trip through JSON (invalid UTF-8 bytes become U+FFFD)."""
    return b.decode("utf-8", errors="replace")


def main():
    binary, model = sys.argv[1], sys.argv[2]
    model_id = os.path.basename(model)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [binary, "serve", "--model", model, "--addr", f"127.0.0.1:{port}", "--api-key", KEY,
         "--max-batch", "4", "--max-queue", "16", "--max-body-bytes", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("FAIL: the server did not become healthy")
            time.sleep(0.05)
        check(True, "GET /health 200")
        run_checks(binary, model, model_id, base)

        # Graceful shutdown: a running stream finishes, then exit 0.
        client = openai.OpenAI(base_url=base + "/v1", api_key=KEY, max_retries=0)
        stream = client.completions.create(model=model_id, prompt="Drain", max_tokens=300, stream=True)
        chunks = 0
        finish = None
        for chunk in stream:
            chunks += 1
            if chunks == 1:
                proc.send_signal(signal.SIGTERM)
            for c in chunk.choices:
                finish = c.finish_reason or finish
        check(finish == "length" and chunks > 50, f"a stream running at SIGTERM completes ({chunks} chunks)")
        rc = proc.wait(timeout=60)
        check(rc == 0, "the server exits 0 after SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out = proc.stdout.read().decode(errors="replace")
        if os.environ.get("E2E_VERBOSE"):
            print(out)


def run_checks(binary, model, model_id, base):
    client = openai.OpenAI(base_url=base + "/v1", api_key=KEY, max_retries=0)

    models = client.models.list()
    check([m.id for m in models.data] == [model_id], "GET /v1/models lists the model by file name")

    prompt = "In a shocking finding,"
    gen = subprocess.run([binary, "generate", "--model", model, "--prompt", prompt, "--max-tokens", "40",
                          "--temperature", "0"], check=True, capture_output=True).stdout
    want = json_text(gen[:-1] if gen.endswith(b"\n") else gen)
    c = client.completions.create(model=model_id, prompt=prompt, max_tokens=40, temperature=0)
    check(c.choices[0].text == want, "greedy completion equals `rwkvgo generate --temperature 0`")
    check(c.choices[0].finish_reason == "length", "finish_reason length")
    check(c.usage.prompt_tokens == len(prompt) and c.usage.completion_tokens == 40, "usage counts")

    text, finish = "", None
    for chunk in client.completions.create(model=model_id, prompt=prompt, max_tokens=40, temperature=0, stream=True):
        for ch in chunk.choices:
            text += ch.text
            finish = ch.finish_reason or finish
    check(text == want and finish == "length", "streamed completion equals the plain one")

    stop = want[10:13]
    c = client.completions.create(model=model_id, prompt=prompt, max_tokens=40, temperature=0, stop=[stop])
    check(c.choices[0].text == want[:want.index(stop)] and c.choices[0].finish_reason == "stop", "stop sequence")

    a = client.completions.create(model=model_id, prompt="Once", max_tokens=20, temperature=1, seed=7, n=2)
    b = client.completions.create(model=model_id, prompt="Once", max_tokens=20, temperature=1, seed=7,
                                  extra_body={"top_k": 0, "repetition_penalty": 1.0})
    check(len(a.choices) == 2 and a.choices[0].text == b.choices[0].text, "same seed, same text; n=2")

    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello!"}]
    r = client.chat.completions.create(model=model_id, messages=msgs, max_tokens=24, temperature=0)
    content = r.choices[0].message.content
    check(r.choices[0].message.role == "assistant" and r.usage.completion_tokens > 0, "chat completion")
    streamed = ""
    for chunk in client.chat.completions.create(model=model_id, messages=msgs, max_tokens=24, temperature=0, stream=True,
                                                stream_options={"include_usage": True}):
        for ch in chunk.choices:
            streamed += ch.delta.content or ""
    check(streamed == content, "streamed chat equals the plain one")
    r = client.chat.completions.create(model=model_id, messages=msgs, max_tokens=3, temperature=0, logprobs=True, top_logprobs=2)
    check(len(r.choices[0].logprobs.content) == 3 and len(r.choices[0].logprobs.content[0].top_logprobs) == 2, "chat logprobs")

    try:
        openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0).models.list()
        check(False, "wrong key refused")
    except openai.AuthenticationError as e:
        check(e.status_code == 401, "wrong key -> 401")
    try:
        client.completions.create(model="gpt-4", prompt="x", max_tokens=2)
        check(False, "unknown model refused")
    except openai.BadRequestError as e:
        check(e.status_code == 400 and e.code == "model_not_found", "unknown model -> 400")
    try:
        client.completions.create(model=model_id, prompt="x", max_tokens=2, temperature=-1)
        check(False, "bad temperature refused")
    except openai.BadRequestError:
        check(True, "invalid settings -> 400")
    try:
        client.completions.create(model=model_id, prompt="x" * 200000, max_tokens=2)
        check(False, "oversized body refused")
    except openai.APIStatusError as e:
        check(e.status_code == 413, "oversized body -> 413")

    with urllib.request.urlopen(base + "/metrics") as resp:
        metrics = resp.read().decode()
    for name in ["rwkvgo_http_requests_total", "rwkvgo_time_to_first_token_seconds_bucket",
                 "rwkvgo_inter_token_latency_seconds_bucket", "rwkvgo_state_cache_hits_total", "rwkvgo_queue_depth"]:
        check(name in metrics, f"metrics has {name}")


if __name__ == "__main__":
    main()
