#!/usr/bin/env python3
"""Drives a live Reprise server with PyPI's `ampache` client; exits non-zero on the first failure.

usage: client_flow.py flow BASE USER PASSWORD APIKEY FILE   (the user's localplay player plays three songs)
       client_flow.py gc   BASE USER PASSWORD ADMIN_SESSION FILE
"""
import hashlib
import json
import sys
import time
import urllib.request

import ampache


def check(cond, what):
    if not cond:
        print("FAIL: " + what, file=sys.stderr)
        sys.exit(1)
    print("ok: " + what)


def fetch(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req) as r:
        return r.status, r.read()


def client(base, fmt):
    api = ampache.API()
    api.set_format(fmt)
    api.set_version("6.6.0")
    api.AMPACHE_URL = base
    return api


def password_login(base, fmt, user, password):
    api = client(base, fmt)
    ts = int(time.time())
    session = api.handshake(base, api.encrypt_password(password, ts), user, ts)
    check(bool(session) and session.startswith("rs_"), fmt + " handshake with password")
    return api, session


def flow(base, user, password, apikey, path):
    expected = open(path, "rb").read()

    # API key: the key itself, and sha256(user + sha256(key)).
    api = client(base, "json")
    check(str(api.handshake(base, apikey)).startswith("rs_"), "handshake with the API key")
    api = client(base, "json")
    check(str(api.handshake(base, api.encrypt_string(apikey, user), user)).startswith("rs_"), "handshake with the legacy API key digest")
    api.goodbye()

    # XML: handshake, songs, well-formed and shaped.
    xml_api, _ = password_login(base, "xml", user, password)
    tree = xml_api.songs(limit=10)
    check(tree is not False and tree.tag == "root", "xml songs parse")
    check(len(tree.findall("song")) >= 1 and tree.find("total_count") is not None, "xml songs have song elements and total_count")
    check(tree.find("song").find("url").text.startswith(base + "/play/index.php?ssid=rt_"), "xml song url carries a stream token")
    xml_api.goodbye()

    # JSON: password handshake -> ping -> songs -> fetch url -> goodbye -> ping -> url still streams.
    api, session = password_login(base, "json", user, password)
    check(api.ping(base, session) == session, "ping with the session")
    songs = api.songs(limit=0)
    check(isinstance(songs, dict) and songs.get("total_count", 0) >= 1, "songs returns a counted list")
    song = songs["song"][0]
    check(isinstance(song["id"], str) and song["artist"]["name"] and song["album"]["name"], "song object has string id and nested artist/album")
    check(song["mime"] and song["format"] and song["size"] == len(expected), "song has mime, format and size")
    url = song["url"]
    check(session not in url and "ssid=rt_" in url, "song url carries a stream token, not the session")
    status, body = fetch(url)
    check(status == 200 and body == expected, "song url streams the exact bytes")
    status, body = fetch(url, {"Range": "bytes=10-99"})
    check(status == 206 and body == expected[10:100], "song url honours Range")
    same = api.url_to_song(url)
    check(same.get("id") == song["id"], "url_to_song finds the song")
    dest = "/tmp/reprise-ampache-%d.bin" % time.time_ns()
    api.stream(song["id"], "song", dest)
    check(open(dest, "rb").read() == expected, "stream action redirects to the bytes")
    localplay(api, songs["song"])
    bye = api.goodbye()
    check(isinstance(bye, dict) and "success" in bye, "goodbye")
    check(api.ping(base, session) is False, "ping shows the session gone")
    status, body = fetch(url)
    check(status == 200 and body == expected, "the song url still streams after goodbye")


def gc(base, user, password, admin, path):
    expected = open(path, "rb").read()
    api, session = password_login(base, "json", user, password)
    urls = [s["url"] for s in api.songs(limit=1)["song"]]
    check(len(urls) == 1, "first page of songs")
    # Keep streaming while the session idles past its TTL and GC collects it.
    deadline = time.time() + 30
    gone = False
    while time.time() < deadline and not gone:
        status, body = fetch(urls[0])
        check(status == 200 and body == expected, "streaming while the session idles")
        req = urllib.request.Request(base + "/api/v1/admin/gc", method="POST", headers={"Authorization": "Bearer " + admin})
        with urllib.request.urlopen(req) as r:
            json.loads(r.read())
        req = urllib.request.Request(base + "/api/v1/admin/sessions", headers={"Authorization": "Bearer " + admin})
        with urllib.request.urlopen(req) as r:
            kinds = [s["kind"] for s in json.loads(r.read())["sessions"]]
        gone = "api" not in kinds
        time.sleep(0.3)
    check(gone, "GC collected the idle API session")
    # The list continues: the old session is refused, the URLs still stream, a new handshake goes on.
    check(api.ping(base, session) is False, "ping shows the collected session gone")
    more = api.songs(offset=1, limit=10)
    check(isinstance(more, dict) and more.get("error", {}).get("errorCode") == "4703", "the next page answers 4703 for the collected session")
    status, body = fetch(urls[0])
    check(status == 200 and body == expected, "a URL from before the collection still streams")
    api, _ = password_login(base, "json", user, password)
    rest = api.songs(offset=1, limit=10)
    check(rest.get("total_count", 0) >= 2 and len(rest["song"]) >= 1, "after a new handshake the list continues")
    for s in rest["song"]:
        status, _ = fetch(s["url"])
        check(status == 200, "streams the rest of the list")


def localplay(api, songs):
    """localplay against the user's player (a real MPD in the tests): add, play, status, skip, stop."""
    check(len(songs) == 3, "three songs to queue")

    def status():
        return api.localplay("status")["localplay"]["command"]["status"]

    def until(what, cond, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            s = status()
            if cond(s):
                return s
            time.sleep(0.2)
        check(False, what + " (last status: %r)" % (status(),))

    for i, song in enumerate(songs):
        r = api.localplay("add", oid=int(song["id"]), otype="song", clear=1 if i == 0 else 0)
        check(r.get("localplay", {}).get("command", {}).get("add") is True, "localplay add " + song["id"])
    queued = api.localplay_songs()
    check([s["id"] for s in queued.get("localplay_songs", [])] == [s["id"] for s in songs], "localplay_songs lists the queue in order")
    api.localplay("play")
    s = until("the player plays the first song", lambda s: s["state"] == "play" and s["track"] == 1)
    check(s["track_title"] == songs[0]["title"] and s["connected"] is True, "status names the song playing")
    api.localplay("next")
    until("next moves to the second song", lambda s: s["state"] == "play" and s["track"] == 2)
    api.localplay("skip", track=3)
    until("skip moves to the third song", lambda s: s["track"] == 3)
    current = [s for s in api.localplay_songs()["localplay_songs"] if s["current"] == 1]
    check(len(current) == 1 and current[0]["id"] == songs[2]["id"], "localplay_songs marks the current song")
    api.localplay("pause")
    until("pause pauses", lambda s: s["state"] == "pause")
    api.localplay("stop")
    until("stop stops", lambda s: s["state"] == "stop")
    bad = api.localplay("frobnicate")
    check(bad.get("error", {}).get("errorCode") == "4710", "an unknown command answers 4710")
    api.localplay("delete_all")
    check(api.localplay_songs().get("localplay_songs", []) == [], "delete_all empties the queue")


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"flow": flow, "gc": gc}[mode](*args)
    print("PASS")
