#!/usr/bin/env python3
"""`make bench`: Reprise against nginx (static, and with a Lua token check) on 127.0.0.1.

Builds nothing and installs nothing (the Makefile does): starts a private Reprise and a private
nginx on free ports, pins servers to core 0 and load generators to core 1, warms up, runs every
case RUNS times alternating Reprise and the reference, takes medians, prints a table and writes
JSON under bench/results/. Environment: BENCH_DURATION (seconds per wrk run, default 3),
BENCH_RUNS (default 3), BENCH_CASES (e.g. "B1,B4"; default all), REPRISE_BIN, BENCH_KEEP=1 keeps
the work folder.
"""
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
BIN = os.environ.get("REPRISE_BIN", os.path.join(ROOT, ".build-bench", "release", "reprise"))
SERVER_CPU, LOAD_CPU = "0", "1"
DURATION = int(os.environ.get("BENCH_DURATION", "3"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CASES = set(os.environ.get("BENCH_CASES", "B1,B2,B3,B4,B5,B6,B7,B8,B9,B10").split(","))
NGINX_MODULES = "/usr/lib/nginx/modules"
PASSWORD = "bench-password"
MiB = 1024 * 1024
# B4's sessions: every 11th is live, so 1,100,000 rows hold 1,000,000 expired ones.
GC_ROWS = int(os.environ.get("BENCH_GC_ROWS", "1100000"))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def stop_process(proc):
    """Ends a server process: SIGTERM, then SIGKILL after 10 s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_http(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def random_token():
    return "rt_" + "".join(random.choice(string.ascii_letters + string.digits + "-_") for _ in range(43))


# ---------------------------------------------------------------- files

def write_wav(path, size):
    """A 16-bit stereo WAV of exactly `size` bytes (44-byte header), noise as samples."""
    frames = (size - 44) // 4
    assert 44 + frames * 4 == size
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(os.urandom(frames * 4))


def flac_with_tags(base, tags):
    """`base` (a FLAC file's bytes) with its metadata replaced by STREAMINFO and a Vorbis comment."""
    assert base[:4] == b"fLaC"
    pos, streaminfo = 4, None
    while True:
        header = base[pos]
        length = int.from_bytes(base[pos + 1:pos + 4], "big")
        if header & 0x7F == 0:
            streaminfo = base[pos + 4:pos + 4 + length]
        pos += 4 + length
        if header & 0x80:
            break
    vendor = b"reprise-bench"
    comments = [f"{k}={v}".encode() for k, v in tags.items()]
    vc = struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    for c in comments:
        vc += struct.pack("<I", len(c)) + c
    out = b"fLaC" + bytes([0]) + len(streaminfo).to_bytes(3, "big") + streaminfo
    out += bytes([0x80 | 4]) + len(vc).to_bytes(3, "big") + vc
    return out + base[pos:]


def flac_template(folder):
    """The bytes of a 50 ms FLAC made by sox in `folder` (created), the template every bench file copies."""
    os.makedirs(folder, exist_ok=True)
    base_path = os.path.join(folder, "base.flac")
    run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", base_path, "synth", "0.05", "sine", "440"])
    with open(base_path, "rb") as f:
        base = f.read()
    os.remove(base_path)
    return base


def make_library(folder, count):
    """`count` small tagged FLAC files, 100 per album folder, from one generated with sox."""
    base = flac_template(folder)
    for i in range(count):
        album = i // 100
        d = os.path.join(folder, f"artist{album % 10:02d}", f"album{album:03d}")
        os.makedirs(d, exist_ok=True)
        tags = {"TITLE": f"Track {i:05d}", "ARTIST": f"Artist {album % 10:02d}", "ALBUM": f"Album {album:03d}",
                "TRACKNUMBER": str(i % 100 + 1), "DATE": str(1970 + album % 50), "GENRE": "Bench"}
        with open(os.path.join(d, f"{i % 100 + 1:03d}.flac"), "wb") as f:
            f.write(flac_with_tags(base, tags))


# ---------------------------------------------------------------- servers

class Reprise:
    """A private `reprise serve` pinned to the server core."""

    def __init__(self, work, name, music, db, plugins=None):
        self.work, self.name = work, name
        self.port = free_port()
        self.config = os.path.join(work, f"{name}.yaml")
        self.logfile = os.path.join(work, f"{name}.log")
        self.db = db
        plugin_yaml = plugins or ""
        with open(self.config, "w") as f:
            f.write(f"""http:
  host: 127.0.0.1
  port: {self.port}
  # Every bench client is 127.0.0.1: B6 alone holds 1,000 connections (the default cap is 256).
  max_connections_per_peer: 4096
database:
  path: {db}
gc:
  interval: 24h
  batch_size: 500
auth:
  bcrypt_cost: 4
log:
  level: warning
catalog:
  paths:
    - {music}
  scan_interval: 24h
  scan_on_start: false
{plugin_yaml}""")
        self.proc = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args, stdin=None, cpu=SERVER_CPU):
        return run(["taskset", "-c", cpu, BIN, *args, "--config", self.config], input=stdin).stdout

    def start(self):
        self.out = open(self.logfile, "a")
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU, BIN, "serve", "--config", self.config], stdout=self.out, stderr=self.out)
        wait_http(self.base + "/healthz")

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


class Supysonic:
    """A private supysonic (Debian's package, gunicorn, 2 processes x 4 threads) pinned to the server
    core, on the same folder: B11's reference."""

    def __init__(self, work, music):
        self.dir = os.path.join(work, "supysonic")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.music = music
        with open(os.path.join(self.dir, "supysonic.conf"), "w") as f:
            f.write(f"""[base]
database_uri = sqlite:///{self.dir}/supysonic.db
[webapp]
cache_dir = {self.dir}/cache
log_level = WARNING
mount_webui = false
[daemon]
socket = {self.dir}/daemon.sock
run_watcher = false
""")
        self.proc = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args):
        # supysonic reads ./supysonic.conf.
        return subprocess.run(["taskset", "-c", SERVER_CPU, "supysonic-cli", *args], cwd=self.dir, check=True, capture_output=True, text=True).stdout

    def scan(self):
        self.cli("user", "add", "b9", "-p", PASSWORD)
        self.cli("folder", "add", "music", self.music)
        t = time.monotonic()
        self.cli("folder", "scan", "-f", "music")
        return time.monotonic() - t

    def start(self):
        self.out = open(os.path.join(self.dir, "server.log"), "a")
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU, "supysonic-server", "-S", "gunicorn", "-h", "127.0.0.1", "-p", str(self.port),
                                      "--processes", "2", "--threads", "4"], cwd=self.dir, stdout=self.out, stderr=self.out)
        wait_http(self.base + "/rest/ping.view?u=b9&p=" + PASSWORD + "&v=1.10.2&c=bench")

    def cover_id(self, folder):
        """The id supysonic gives the cover of `folder` (its folder id)."""
        con = sqlite3.connect(os.path.join(self.dir, "supysonic.db"))
        try:
            return str(con.execute("SELECT id FROM folder WHERE path = ?", (folder,)).fetchone()[0])
        finally:
            con.close()

    def stop(self):
        stop_process(self.proc)
        self.proc = None


class Nginx:
    """A private nginx (one worker, sendfile) serving the same files: /static/ plain, /lua/ behind a token table."""

    def __init__(self, work, files, tokens):
        self.dir = os.path.join(work, "nginx")
        for sub in ("", "tmp"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.port = free_port()
        with open(os.path.join(self.dir, "tokens.lua"), "w") as f:
            f.write("return {\n" + "".join(f'  ["{t}"] = true,\n' for t in tokens) + "}\n")
        d = self.dir
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(f"""load_module {NGINX_MODULES}/ndk_http_module.so;
load_module {NGINX_MODULES}/ngx_http_lua_module.so;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  init_by_lua_block {{ TOKENS = dofile("{d}/tokens.lua") }}
  server {{
    listen 127.0.0.1:{self.port};
    location /static/ {{ alias {files}/; }}
    location /lua/ {{
      alias {files}/;
      access_by_lua_block {{
        local t = ngx.var.arg_token
        if not t or not TOKENS[t] then return ngx.exit(401) end
      }}
    }}
  }}
}}
""")
        self.proc = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, "nginx", "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf"), "-e", os.path.join(self.dir, "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "stderr.log"), "w"))
        wait_http(self.base + "/static/")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


# ---------------------------------------------------------------- load

def wrk(url, connections, seconds=None, method=None, auth=None, range_=None):
    env = dict(os.environ)
    for k, v in (("BENCH_METHOD", method), ("BENCH_AUTH", auth), ("BENCH_RANGE", range_)):
        if v:
            env[k] = v
    threads = 1 if connections < 8 else 2
    p = subprocess.run(["taskset", "-c", LOAD_CPU, "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds or DURATION}s", "--timeout", "10s",
                        "-s", os.path.join(BENCH, "wrk.lua"), url], env=env, capture_output=True, text=True)
    line = next((l for l in p.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed on {url.split('?')[0]}: {p.stdout.strip()} {p.stderr.strip()}")
    r = json.loads(line[len("BENCH_JSON "):])
    secs = r["duration_us"] / 1e6
    r["rps"] = r["requests"] / secs
    r["mibps"] = r["bytes"] / secs / MiB
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return r


def alternate(sides, runs=RUNS):
    """Runs each side's load `runs` times, alternating, after a 1 s warm-up each; per side the list of results."""
    for fn in sides.values():
        fn(1)
    out = {k: [] for k in sides}
    for _ in range(runs):
        for k, fn in sides.items():
            out[k].append(fn(None))
    return out


def med(results, key):
    return statistics.median(r[key] for r in results)


# ---------------------------------------------------------------- report

ROWS = []


def row(case, what, reprise, reference, ratio, target, ok, unit=""):
    ROWS.append({"case": case, "what": what, "reprise": reprise, "reference": reference, "ratio": ratio,
                 "target": target, "result": None if ok is None else ("PASS" if ok else "MISS"), "unit": unit})
    log(f"  {case} {what}: {fmt(reprise)} vs {fmt(reference)} {unit} -> {ROWS[-1]['result'] or ''}")


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, float) and abs(v) < 100:
        return f"{v:.2f}"
    return f"{v:,.0f}"


def table():
    head = ["case", "measure", "Reprise", "reference", "ratio", "target", "result"]
    lines = [[r["case"], r["what"] + (f" ({r['unit']})" if r["unit"] else ""), fmt(r["reprise"]), fmt(r["reference"]),
              "-" if r["ratio"] is None else f"{r['ratio']:.2f}x", r["target"], r["result"] or "-"] for r in ROWS]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    md = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
          "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    md += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(l, widths)) + " |" for l in lines]
    return "\n".join(md)


# ---------------------------------------------------------------- cases

def b1(rep, ngx, ctx):
    log("B1: GET 10 MiB, 8 connections")
    # wrk's own core is the limit here for both servers (docs/performance.md, section 5), so
    # the ratio moves with that core's luck from run to run: five runs steady the median.
    res = alternate({
        "reprise": lambda d: wrk(f"{rep.base}/stream/{ctx['big']}?token={ctx['token']}", 8, d),
        "nginx": lambda d: wrk(f"{ngx.base}/static/big.wav", 8, d),
    }, runs=max(RUNS, 5))
    a, b = med(res["reprise"], "mibps"), med(res["nginx"], "mibps")
    row("B1", "10 MiB GET, 8 conns", a, b, a / b, ">= 0.8x nginx static", a / b >= 0.8, "MiB/s")
    return res


def b2(rep, ngx, ctx, which, record=True):
    name, song = ("4 KiB", ctx["small"]) if which == "small" else ("10 MiB", ctx["big"])
    fname = "small.wav" if which == "small" else "big.wav"
    log(f"B2: Range 0-65535 on {name}, 64 connections")
    res = alternate({
        "reprise": lambda d: wrk(f"{rep.base}/stream/{song}?token={ctx['token']}", 64, d, range_="bytes=0-65535"),
        "nginx": lambda d: wrk(f"{ngx.base}/lua/{fname}?token={ctx['token']}", 64, d, range_="bytes=0-65535"),
    })
    a, b = med(res["reprise"], "rps"), med(res["nginx"], "rps")
    pa, pb = med(res["reprise"], "p99_us") / 1000, med(res["nginx"], "p99_us") / 1000
    if record:
        row("B2", f"range on {name}: req/s", a, b, a / b, ">= 0.5x nginx+Lua", a / b >= 0.5, "req/s")
        row("B2", f"range on {name}: p99", pa, pb, pa / pb, "<= 2x nginx+Lua", pa / pb <= 2, "ms")
    return res


def b3(rep, ngx, ctx):
    log("B3: invalid token -> 401, 64 connections")
    bad = random_token()
    res = alternate({
        "reprise": lambda d: wrk(f"{rep.base}/stream/{ctx['big']}?token={bad}", 64, d),
        "nginx": lambda d: wrk(f"{ngx.base}/lua/big.wav?token={bad}", 64, d),
    })
    a, b = med(res["reprise"], "rps"), med(res["nginx"], "rps")
    row("B3", "invalid token 401", a, b, a / b, ">= 0.5x nginx+Lua", a / b >= 0.5, "req/s")
    return res


def b5(rep, ctx):
    log("B5: POST /api/v1/sessions/ping, 64 connections")
    res = alternate({"reprise": lambda d: wrk(f"{rep.base}/api/v1/sessions/ping", 64, d, method="POST", auth=f"Bearer {ctx['session']}")})
    a = med(res["reprise"], "rps")
    row("B5", "session ping", a, None, None, ">= 20,000 req/s", a >= 20000, "req/s")
    return res


def b8(rep, plain, ctx):
    log("B8: token_authorize hook overhead (B2 4 KiB range, 64 connections, with and without the hook)")
    url = lambda s: f"{s.base}/stream/{ctx['small']}?token={ctx['token']}"
    sides = {"hook": lambda d: wrk(url(rep), 64, d, range_="bytes=0-65535"),
             "none": lambda d: wrk(url(plain), 64, d, range_="bytes=0-65535")}
    for fn in sides.values():
        fn(1)
    # Pairs of runs back to back, the order swapped every other pair (hook first, then none
    # first): whichever side runs second in a pair gains or loses from it as often as the other.
    res = {"hook": [], "none": []}
    for i in range(max(RUNS, 12)):
        for k in (("hook", "none") if i % 2 == 0 else ("none", "hook")):
            res[k].append(sides[k](None))
    # The server's core is saturated, so 1e6/rps is its time per request; the median of the
    # pairs' differences is the hook's cost.
    per = statistics.median(1e6 / h["rps"] - 1e6 / n["rps"] for h, n in zip(res["hook"], res["none"]))
    a, b = med(res["hook"], "rps"), med(res["none"], "rps")
    row("B8", "hook cost per request, B2 with / without", per, None, None, "<= 3 us", per <= 3, "us")
    row("B8", "B2 4 KiB req/s with / without hook", a, b, a / b, "info", None, "req/s")
    # The round trip itself, timed in-process by `reprise plugin bench` on the same config.
    runs = [json.loads(rep.cli("plugin", "bench")) for _ in range(max(RUNS, 3))]
    hook_us = sorted(r["overhead_ns"] for r in runs)[len(runs) // 2] / 1000
    row("B8", "token_authorize round trip, in-process", hook_us, None, None, "info", None, "us")
    res["pairs_us"] = [1e6 / h["rps"] - 1e6 / n["rps"] for h, n in zip(res["hook"], res["none"])]
    res["in_process"] = runs
    return res


def b4(rep, ctx, work):
    log("B4: GC of 1,000,000 expired among 1,100,000 sessions")
    now = int(time.time() * 1000)
    day = 86_400_000
    uid = run(["sqlite3", rep.db, "SELECT id FROM users WHERE name = 'bench'"]).stdout.strip()
    t0 = time.monotonic()
    # Every 11th session is live; the rest expired a day ago and were created two days ago. Row
    # ids are random 53-bit numbers, as Reprise derives them from each session's hash.
    run(["sqlite3", rep.db], input=f"""PRAGMA busy_timeout = 30000;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {GC_ROWS})
INSERT OR IGNORE INTO sessions (id, hash, user_id, kind, created_at, last_seen_at, expires_at)
SELECT (random() & 9007199254740991) + 1, randomblob(32), {uid}, 'web',
       CASE WHEN i % 11 = 0 THEN {now} ELSE {now - 2 * day} END,
       CASE WHEN i % 11 = 0 THEN {now} ELSE {now - 2 * day} END,
       CASE WHEN i % 11 = 0 THEN {now + day} ELSE {now - day} END
FROM n;
COMMIT;
""")
    log(f"  inserted {GC_ROWS:,} sessions in {time.monotonic() - t0:.1f} s")
    snapshot = os.path.join(work, "gc-snapshot.sqlite")
    run(["sqlite3", rep.db, f".backup '{snapshot}'"])

    # SQLite's own single DELETE and `reprise gc run` (server idle), each on a fresh copy, alternating
    # RUNS times: medians of the totals, the longest write lock of all passes.
    copy = os.path.join(work, "gc-copy.sqlite")
    idle_cfg = os.path.join(work, "gc-idle.yaml")
    with open(rep.config) as f, open(idle_cfg, "w") as g:
        g.write(f.read().replace(f"path: {rep.db}", f"path: {copy}"))

    def fresh_copy():
        for suffix in ("-wal", "-shm"):
            if os.path.exists(copy + suffix):
                os.remove(copy + suffix)
        shutil.copyfile(snapshot, copy)

    deletes, passes = [], []
    for _ in range(RUNS):
        # Same pragmas as Reprise opens the database with: WAL, synchronous NORMAL, foreign keys.
        fresh_copy()
        out = run(["taskset", "-c", SERVER_CPU, "sqlite3", copy], input=f"""PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
PRAGMA synchronous = NORMAL;
.timer on
DELETE FROM sessions WHERE expires_at < {now - 60_000} AND created_at <= {now - 300_000};
""").stdout
        deletes.append(next(float(l.split()[3]) * 1000 for l in out.splitlines() if l.startswith("Run Time:")))
        left = run(["sqlite3", copy, "SELECT count(*) FROM sessions"]).stdout.strip()
        log(f"  single DELETE: {deletes[-1]:.0f} ms ({left} rows left)")
        fresh_copy()
        passes.append(json.loads(run(["taskset", "-c", SERVER_CPU, BIN, "gc", "run", "--json", "--config", idle_cfg]).stdout))
        gc = passes[-1]
        log(f"  reprise gc run: {gc['duration_ms']} ms, longest batch {gc['longest_batch_ms']} ms, deleted {gc['deleted']} by {gc.get('method')}")
    delete_ms = statistics.median(deletes)
    gc = {"duration_ms": statistics.median(p["duration_ms"] for p in passes), "longest_batch_ms": max(p["longest_batch_ms"] for p in passes)}
    for p in (copy, snapshot):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(p + suffix):
                os.remove(p + suffix)

    # B2 (4 KiB range, 64 connections) p99 idle, then in slices while `reprise gc run` works on the live database.
    url = f"{rep.base}/stream/{ctx['small']}?token={ctx['token']}"
    slice_s = 2
    wrk(url, 64, 1, range_="bytes=0-65535")
    idle = [wrk(url, 64, slice_s, range_="bytes=0-65535") for _ in range(3)]
    proc = subprocess.Popen(["taskset", "-c", SERVER_CPU, BIN, "gc", "run", "--json", "--config", rep.config], stdout=subprocess.PIPE, text=True)
    during, failures = [], []
    while proc.poll() is None:
        try:
            during.append(wrk(url, 64, slice_s, range_="bytes=0-65535"))
        except RuntimeError as e:
            failures.append(str(e))
            log(f"  {e}; server exit status: {rep.proc.poll()}")
            time.sleep(1)
    loaded = json.loads(proc.stdout.read())
    during = [r for r in during if r["requests"] > 0]
    p_idle = med(idle, "p99_us") / 1000
    p_gc = statistics.median(r["p99_us"] for r in during) / 1000 if during else None
    p_gc_max = max(r["p99_us"] for r in during) / 1000 if during else None
    log(f"  under load: gc {loaded['duration_ms']} ms, longest batch {loaded['longest_batch_ms']} ms; p99 idle {p_idle:.2f} ms, during GC median {p_gc} max {p_gc_max} ms over {len(during)} slices")
    row("B4", "GC total vs one DELETE", float(gc["duration_ms"]), delete_ms, gc["duration_ms"] / delete_ms, "<= SQLite DELETE", gc["duration_ms"] <= delete_ms, "ms")
    row("B4", "longest write lock", float(gc["longest_batch_ms"]), None, None, "<= 100 ms", gc["longest_batch_ms"] <= 100, "ms")
    exited = rep.proc.poll()
    if exited is not None or failures or p_gc is None:
        row("B4", "B2 4 KiB p99 during GC vs idle", p_gc, p_idle, None, "<= 2x idle", False, "ms")
        ROWS[-1]["result"] = f"MISS ({len(failures)} wrk runs failed; server exit status {exited})"
    else:
        row("B4", "B2 4 KiB p99 during GC vs idle", p_gc, p_idle, p_gc / p_idle, "<= 2x idle", p_gc / p_idle <= 2, "ms")
    return {"delete_ms": delete_ms, "deletes_ms": deletes, "gc_idle": gc, "gc_idle_passes": passes, "wrk_failures": failures, "gc_loaded": loaded, "p99_idle_ms": p_idle,
            "p99_during_ms": [r["p99_us"] / 1000 for r in during], "rps_idle": med(idle, "rps"),
            "rps_during": [r["rps"] for r in during]}


def b6(rep, ctx):
    log("B6: 1,000 slow readers of the 10 MiB stream")
    base_rss = rep.rss_kib()
    samples = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(rep.rss_kib())
            time.sleep(0.25)

    t = threading.Thread(target=sample)
    t.start()
    try:
        out = run(["taskset", "-c", LOAD_CPU, sys.executable, os.path.join(BENCH, "slow_readers.py"), "127.0.0.1", str(rep.port),
                   f"/stream/{ctx['big']}?token={ctx['token']}", "1000", "15"]).stdout
    finally:
        stop.set()
        t.join()
    res = json.loads(out)
    peak = max(samples) / 1024
    res.update({"rss_before_mib": base_rss / 1024, "rss_peak_mib": peak, "rss_samples_kib": samples})
    row("B6", "1,000 slow readers: peak RSS", peak, None, None, "<= 150 MB", peak * MiB <= 150e6, "MiB")
    row("B6", "1,000 slow readers: errors", res["errors"], None, None, "0", res["errors"] == 0, "")
    return res


def b7(work):
    log("B7: scan 5,000 tagged files, then rescan")
    lib = os.path.join(work, "library")
    t0 = time.monotonic()
    make_library(lib, 5000)
    log(f"  generated 5,000 files in {time.monotonic() - t0:.1f} s")
    runs = []
    for i in range(RUNS):
        db = os.path.join(work, f"scan-{i}.sqlite")
        r = Reprise(work, f"scan-{i}", lib, db)
        first = json.loads(r.cli("scan", "--json"))
        again = json.loads(r.cli("scan", "--json"))
        runs.append({"first": first, "rescan": again})
    first_ms = statistics.median(r["first"]["duration_ms"] for r in runs)
    again_ms = statistics.median(max(r["rescan"]["duration_ms"], 0.001) for r in runs)  # ms, to the µs
    added = runs[0]["first"]["added"]
    row("B7", "first scan", added / (first_ms / 1000), None, None, "info", None, "files/s")
    row("B7", "rescan unchanged", added / (again_ms / 1000), None, None, "info", None, "files/s")
    row("B7", "rescan speedup", first_ms / again_ms, None, None, ">= 20x", first_ms / again_ms >= 20, "x")
    return runs


# ---------------------------------------------------------------- library (B9, B10)

WORDS = ("love night blue river fire golden city dream heart rain summer light shadow road star ocean wild silver "
         "morning winter dance song home world stone garden lonely electric velvet thunder paper crystal midnight "
         "café déjà señor über naïve échappée cœur forêt mañana").split()


def make_big_library(folder, count, seed=9):
    """`count` tagged FLAC files copied from one sox template with rewritten tags: words drawn from
    WORDS (accented ones included), 10 songs per album, 10 albums per artist."""
    rng = random.Random(seed)
    base = flac_template(folder)
    for i in range(count):
        album, artist = i // 10, i // 100
        d = os.path.join(folder, f"a{artist:05d}", f"b{album:06d}")
        if i % 10 == 0:
            os.makedirs(d, exist_ok=True)
        title = " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(1, 4)))
        tags = {"TITLE": title, "ARTIST": f"{rng.choice(WORDS).capitalize()} {artist}", "ALBUM": f"{rng.choice(WORDS).capitalize()} {album}",
                "TRACKNUMBER": str(i % 10 + 1), "DATE": str(1960 + album % 60), "GENRE": rng.choice(("Rock", "Jazz", "Pop", "Folk"))}
        with open(os.path.join(d, f"{i % 10 + 1:02d}.flac"), "wb") as f:
            f.write(flac_with_tags(base, tags))


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def b9(work):
    count = int(os.environ.get("BENCH_LIBRARY_SONGS", "100000"))
    log(f"B9: a catalog of {count:,} songs: scan, rescan, RSS, search against SQLite's own FTS5 query")
    lib = os.path.join(work, "big-library")
    t0 = time.monotonic()
    make_big_library(lib, count)
    log(f"  generated {count:,} files in {time.monotonic() - t0:.1f} s")
    # One cover, for B11's getCoverArt (the first album's folder).
    tone = os.path.join(work, "cover-tone.wav")
    run(["sox", "-n", "-r", "8000", "-c", "1", tone, "synth", "1", "sine", "440"])
    run(["sox", tone, "-n", "spectrogram", "-o", os.path.join(lib, "a00000", "b000000", "cover.png"), "-x", "1000", "-y", "700"])
    db = os.path.join(work, "b9.sqlite")
    r = Reprise(work, "b9", lib, db)
    first = json.loads(r.cli("scan", "--json"))
    again = json.loads(r.cli("scan", "--json"))
    row("B9", "first scan", first["added"] / (first["duration_ms"] / 1000), None, None, "info", None, "files/s")
    row("B9", "rescan unchanged", again["duration_ms"] / 1000, None, None, "info", None, "s")
    r.cli("user", "add", "b9", "--password-stdin", stdin=PASSWORD + "\n")
    r.start()
    out = {"first": first, "rescan": again, "search": {}}
    try:
        req = urllib.request.Request(r.base + "/api/v1/sessions", method="POST", data=json.dumps({"username": "b9", "password": PASSWORD}).encode())
        session = json.loads(urllib.request.urlopen(req).read())["session"]
        queries = {1: "love", 2: "blue cafe", 3: "night rain star"}
        for q in queries.values():  # warm the catalog and the page cache
            urllib.request.urlopen(urllib.request.Request(f"{r.base}/api/v1/search?q={urllib.parse.quote(q)}", headers={"Authorization": f"Bearer {session}"})).read()
        rss = r.rss_kib() * 1024
        row("B9", "server RSS with the catalog loaded", rss / MiB, None, None, "<= 200 MB", rss <= 200e6, "MiB")
        con = sqlite3.connect(db)
        for n, q in queries.items():
            fts = " AND ".join(f'"{w}"*' for w in q.split())
            match = "{title artist album album_artist} : (" + fts + ")"
            raw = []
            for _ in range(1000):
                t = time.perf_counter()
                con.execute("SELECT count(*) FROM songs_fts WHERE songs_fts MATCH ?", (match,)).fetchone()
                con.execute("SELECT rowid FROM songs_fts WHERE songs_fts MATCH ? ORDER BY rank LIMIT 50", (match,)).fetchall()
                raw.append((time.perf_counter() - t) * 1000)
            # 10 s at one connection: a p99 of a thousand requests or more, not of a handful.
            res = wrk(f"{r.base}/api/v1/search?q={urllib.parse.quote(q)}&limit=50", 1, seconds=max(DURATION, 10), auth=f"Bearer {session}")
            p50, p99 = res["p50_us"] / 1000, res["p99_us"] / 1000
            raw50, raw99 = percentile(raw, 50), percentile(raw, 99)
            out["search"][n] = {"query": q, "p50_ms": p50, "p99_ms": p99, "raw_p50_ms": raw50, "raw_p99_ms": raw99, "rps": res["rps"]}
            row("B9", f"search, {n} word(s): p50", p50, raw50, p50 / raw50, "info", None, "ms")
            row("B9", f"search, {n} word(s): p99", p99, raw99, p99 / raw99, "<= 2x raw FTS5", p99 / raw99 <= 2, "ms")
        out["subsonic"] = b11(r, out["search"][1], lib)
        con.close()
    finally:
        r.stop()
    return out


def b11(r, raw, lib):
    """B11 on B9's server and catalog: the Subsonic requests apps make, at 8 connections, Reprise's side
    then supysonic's on the same folder (supysonic started only after Reprise's runs: its workers go on
    with requests wrk gave up on, which would share the server core with Reprise's next run); and
    search3's p99 against the raw FTS5 query."""
    log("B11: Subsonic on the 100,000-song catalog, Reprise and supysonic")
    auth = f"u=b9&p={PASSWORD}&v=1.16.1&c=bench&f=json"
    cases = (("getAlbumList2 alphabeticalByName size=500", "getAlbumList2?type=alphabeticalByName&size=500"),
             ("search3 query='' songCount=500", "search3?query=&songCount=500&artistCount=0&albumCount=0"),
             ("getCoverArt size=300 from cache", "getCoverArt?id={cover}&size=300"))

    def measure(base, cover):
        # The cover into the server's cache, and each answer checked before it is timed.
        for _, path in cases:
            with urllib.request.urlopen(f"{base}/rest/{path.format(cover=cover)}&{auth}") as resp:
                body = resp.read()
                assert resp.status == 200 and (b'"ok"' in body or resp.headers.get_content_type().startswith("image/")), (base, path, body[:200])
        return {name: wrk(f"{base}/rest/{path.format(cover=cover)}&{auth}", 8) for name, path in cases}

    out = {"reprise": measure(r.base, "al-1")}
    res = wrk(f"{r.base}/rest/search3?query={urllib.parse.quote(raw['query'])}&songCount=50&artistCount=0&albumCount=0&{auth}", 1)
    p99 = res["p99_us"] / 1000
    out["search3_word"] = res
    if shutil.which("supysonic-server"):
        supy = Supysonic(os.path.dirname(lib), lib)
        took = supy.scan()
        row("B11", "supysonic's first scan of the catalog (Reprise's: B9)", None, took, None, "info", None, "s")
        supy.start()
        try:
            out["supysonic"] = measure(supy.base, supy.cover_id(os.path.join(lib, "a00000", "b000000")))
        finally:
            supy.stop()
    for name, _ in cases:
        mine, ref = out["reprise"][name], out.get("supysonic", {}).get(name)
        ratio = mine["rps"] / ref["rps"] if ref else None
        row("B11", name + ": req/s", mine["rps"], ref["rps"] if ref else None, ratio, ">= 10x supysonic", ratio >= 10 if ref else None, "req/s")
        row("B11", name + ": p99", mine["p99_us"] / 1000, ref["p99_us"] / 1000 if ref else None, None, "info", None, "ms")
    row("B11", "search3, 1 word, p99 vs raw FTS5", p99, raw["raw_p99_ms"], p99 / raw["raw_p99_ms"], "<= 2x raw FTS5", p99 / raw["raw_p99_ms"] <= 2, "ms")
    return out


def b10(rep, ngx, ctx, files, db):
    log("B10: a 300 px cover from the art cache vs nginx serving the same cached file, 64 connections")
    album = run(["sqlite3", db, f"SELECT album_id FROM songs WHERE id = {ctx['small']}"]).stdout.strip()
    url = f"{rep.base}/art/album/{album}?size=300&token={ctx['token']}"
    body = urllib.request.urlopen(url).read()
    cache = os.path.join(os.path.dirname(db), "art-cache")
    cached = [os.path.join(cache, f) for f in os.listdir(cache)]
    assert len(cached) == 1, cached
    shutil.copy(cached[0], os.path.join(files, "cover-300.jpg"))
    assert urllib.request.urlopen(f"{ngx.base}/static/cover-300.jpg").read() == body
    res = alternate({"reprise": lambda d: wrk(url, 64, d), "nginx": lambda d: wrk(f"{ngx.base}/static/cover-300.jpg", 64, d)})
    a, b = med(res["reprise"], "rps"), med(res["nginx"], "rps")
    row("B10", "300 px cover from cache", a, b, a / b, ">= 0.5x nginx static", a / b >= 0.5, "req/s")
    return res


# ---------------------------------------------------------------- main

def hook_wired():
    """Whether `reprise serve` loads Lua plugins (the token policy) yet."""
    wiring = os.path.join(ROOT, "Sources", "RepriseServer")
    return os.path.exists(os.path.join(ROOT, "plugins", "default_tokens.lua")) and any(
        "PluginHost" in open(os.path.join(wiring, f)).read() for f in os.listdir(wiring) if f.endswith(".swift"))


def plugins_yaml(enabled):
    """The `plugins:` section: the shipped default_tokens plugin (a trivial token_authorize), or none."""
    if not enabled:
        return "plugins:\n  enabled: []\n"
    return f"plugins:\n  enabled:\n    - default_tokens\n  paths:\n    - {os.path.join(ROOT, 'plugins')}\n"


def main():
    if not os.access(BIN, os.X_OK):
        sys.exit(f"bench: {BIN} is missing; run `make bench`")
    work = tempfile.mkdtemp(prefix="reprise-bench-")
    os.chmod(work, 0o755)  # nginx's worker runs as www-data
    files = os.path.join(work, "files")
    os.makedirs(files)
    write_wav(os.path.join(files, "big.wav"), 10 * MiB)
    write_wav(os.path.join(files, "small.wav"), 4096)
    # B10's cover: a 1200 x 800 spectrogram beside the songs (the folder image of their album).
    run(["sox", os.path.join(files, "small.wav"), "-n", "spectrogram", "-o", os.path.join(files, "cover.png"), "-x", "1000", "-y", "700"])
    hook = hook_wired()
    db = os.path.join(work, "reprise.sqlite")
    rep = Reprise(work, "reprise", files, db, plugins=plugins_yaml(True))
    plain = Reprise(work, "reprise-nohook", files, db, plugins=plugins_yaml(False)) if hook else None
    results = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "duration_s": DURATION, "runs": RUNS,
               "hook": hook, "machine": {"cpus": os.cpu_count(), "uname": os.uname().release}}
    started = []
    try:
        rep.cli("user", "add", "bench", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
        token = rep.cli("token", "create", "--user", "bench", "--label", "bench").strip()
        scan = json.loads(rep.cli("scan", "--json"))
        assert scan["added"] == 2, scan
        ids = dict(line.split("|")[::-1] for line in run(["sqlite3", db, "SELECT id, path FROM songs"]).stdout.split())
        ctx = {"token": token, "big": ids[os.path.join(files, "big.wav")], "small": ids[os.path.join(files, "small.wav")]}
        ngx = Nginx(work, files, [token] + [random_token() for _ in range(9999)])
        for s in (rep, ngx):
            s.start()
            started.append(s)
        req = urllib.request.Request(rep.base + "/api/v1/sessions", method="POST",
                                     data=json.dumps({"username": "bench", "password": PASSWORD}).encode())
        ctx["session"] = json.loads(urllib.request.urlopen(req).read())["session"]
        # Both servers answer as expected before any load.
        for url, want in ((f"{rep.base}/stream/{ctx['small']}?token={token}", 200), (f"{ngx.base}/lua/small.wav?token={token}", 200),
                          (f"{ngx.base}/lua/small.wav?token={random_token()}", 401), (f"{rep.base}/stream/{ctx['small']}?token={random_token()}", 401)):
            try:
                code = urllib.request.urlopen(url).status
            except urllib.error.HTTPError as e:
                code = e.code
            assert code == want, (url, code)

        # B8 first, while both servers are fresh: Reprise slows down with requests served (docs/performance.md).
        if "B8" in CASES:
            if plain:
                plain.start()
                started.append(plain)
                results["B8"] = b8(rep, plain, ctx)
                plain.stop()
            else:
                row("B8", "token_authorize hook cost", None, None, None, "<= 3 us", None, "us")
                ROWS[-1]["result"] = "PENDING (no Lua plugin loader yet)"
        if "B1" in CASES:
            results["B1"] = b1(rep, ngx, ctx)
        if "B2" in CASES:
            results["B2_small"] = b2(rep, ngx, ctx, "small")
            results["B2_big"] = b2(rep, ngx, ctx, "big")
        if "B3" in CASES:
            results["B3"] = b3(rep, ngx, ctx)
        if "B5" in CASES:
            results["B5"] = b5(rep, ctx)
        if "B6" in CASES:
            results["B6"] = b6(rep, ctx)
        if "B4" in CASES:
            results["B4"] = b4(rep, ctx, work)
        if "B10" in CASES:
            results["B10"] = b10(rep, ngx, ctx, files, db)
        if "B7" in CASES:
            results["B7"] = b7(work)
        if "B9" in CASES:
            results["B9"] = b9(work)
    finally:
        for s in reversed(started):
            s.stop()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"work folder kept: {work}")

    results["table"] = ROWS
    print(table())
    out_dir = os.path.join(BENCH, "results")
    os.makedirs(out_dir, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(out_dir, f"run-{stamp}.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump({"started_at": results["started_at"], "duration_s": DURATION, "runs": RUNS, "hook": results["hook"], "table": ROWS}, f, indent=1)
    log(f"results: bench/results/run-{stamp}.json")


if __name__ == "__main__":
    main()
