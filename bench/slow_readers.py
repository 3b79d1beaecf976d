#!/usr/bin/env python3
"""B6 client: N connections each reading one stream slowly; prints a JSON summary.

usage: slow_readers.py HOST PORT PATH CONNECTIONS SECONDS
Each client sends one GET, checks for 200, then reads 8 KiB every 200 ms (about 40 KiB/s, a
320 kbit/s player) until SECONDS have passed; an error is a refused or reset connection, another
status, or the body ending early.
"""
import asyncio
import json
import resource
import sys
import time

CHUNK = 8192
PAUSE = 0.2


async def reader(host, port, path, until, counts):
    w = None
    try:
        r, w = await asyncio.open_connection(host, port)
        w.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        await w.drain()
        status = await r.readline()
        if b" 200 " not in status:
            counts["bad_status"] += 1
            return
        while (await r.readline()) not in (b"\r\n", b""):
            pass
        counts["open"] += 1
        while time.monotonic() < until:
            chunk = await r.read(CHUNK)
            if not chunk:
                counts["early_eof"] += 1
                return
            counts["bytes"] += len(chunk)
            await asyncio.sleep(PAUSE)
        counts["ok"] += 1
    except OSError:
        counts["io_error"] += 1
    finally:
        if w is not None:
            w.close()


async def main():
    host, port, path, n, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 100)), hard))
    counts = {"ok": 0, "open": 0, "bad_status": 0, "early_eof": 0, "io_error": 0, "bytes": 0}
    started = time.monotonic()
    until = started + seconds
    tasks = []
    for _ in range(n):
        tasks.append(asyncio.create_task(reader(host, port, path, until, counts)))
        await asyncio.sleep(0.002)  # spread the connects over ~2 s per 1,000
    await asyncio.gather(*tasks)
    counts["clients"] = n
    counts["errors"] = counts["bad_status"] + counts["early_eof"] + counts["io_error"]
    counts["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(counts))


asyncio.run(main())
