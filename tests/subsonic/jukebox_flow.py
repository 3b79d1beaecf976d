#!/usr/bin/env python3
"""Drives Subsonic's jukebox on a live server's supervised MPD with py-opensonic; exits non-zero on the first failure.

usage: jukebox_flow.py start  BASE_URL PORT USER CLIENT_PASSWORD   (add, start, status, skip, set, get)
       jukebox_flow.py status BASE_URL PORT USER CLIENT_PASSWORD   (still playing; then stop)
"""
import sys
import time

import libopensonic


def check(cond, what):
    if not cond:
        print("FAIL: " + what, file=sys.stderr)
        sys.exit(1)
    print("ok: " + what)


def until(what, cond, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    check(False, what)


def start(c):
    songs = sorted((c.search3("", artist_count=0, album_count=0, song_count=50).song or []), key=lambda s: s.title)
    check(len(songs) == 3, "three songs to queue")
    ids = [s.id for s in songs]
    c.jukebox_control("clear")
    c.jukebox_control("add", sids=ids)
    c.jukebox_control("start")
    until("the jukebox plays", lambda: c.jukebox_control("status").playing)
    c.jukebox_control("skip", index=1)
    until("skip moves to the second song", lambda: c.jukebox_control("status").current_index == 1)
    # py-opensonic (like py-sonic) sends no ids with `set`: what it asks for is an empty queue.
    c.jukebox_control("set", sids=ids[1:])
    check(not (c.jukebox_control("get").entry or []), "set without ids empties the queue")
    c.jukebox_control("add", sids=ids[1:])
    listing = c.jukebox_control("get")
    check([e.id for e in (listing.entry or [])] == ids[1:], "the queue after set and add: %r" % [e.id for e in (listing.entry or [])])
    c.jukebox_control("start")
    until("the jukebox plays after set", lambda: c.jukebox_control("status").playing)
    c.jukebox_control("setGain", gain=0.4)
    until("setGain sets the volume", lambda: abs(c.jukebox_control("status").gain - 0.4) < 0.01)


def status(c):
    check(c.jukebox_control("status").playing, "the jukebox still plays")
    c.jukebox_control("stop")
    until("stop stops", lambda: not c.jukebox_control("status").playing)


if __name__ == "__main__":
    mode, base, port, user, password = sys.argv[1:6]
    c = libopensonic.Connection(base, username=user, password=password, port=int(port))
    try:
        {"start": start, "status": status}[mode](c)
    finally:
        c.cleanup()
    print("PASS")
