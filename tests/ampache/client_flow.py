#!/usr/bin/env python3
"""Drives a live Reprise server with PyPI's `ampache` client; exits non-zero on the first failure.

usage: client_flow.py flow    BASE USER PASSWORD APIKEY FILE   (the user's localplay player plays three songs)
       client_flow.py gc      BASE USER PASSWORD ADMIN_SESSION FILE
       client_flow.py library BASE USER PASSWORD COVER_WIDTH COVER_HEIGHT
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


def image_size(data):
    """(width, height) of a PNG or JPEG, read from its header; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            i += 2 + length
    return None


def library(base, user, password, cover_w, cover_h):
    """Every library action of the library issue, in JSON, then the main ones in XML."""
    cover = (int(cover_w), int(cover_h))
    api, session = password_login(base, "json", user, password)
    _, raw = fetch(base + "/server/json.server.php?action=ping&auth=" + session)
    counts = json.loads(raw)
    check(counts["genres"] == 2 and counts["playlists"] == 0 and counts["songs"] == 3, "handshake counts genres and playlists truly: %r" % counts)

    songs = {s["title"]: s for s in api.songs()["song"]}
    check(set(songs) == {"Café Noir", "So What", "Rain"}, "three tagged songs")
    cafe, what, rain = songs["Café Noir"], songs["So What"], songs["Rain"]
    for s in songs.values():
        check(all(v is not None for v in s.values()), "no null where Ampache has a value: %r" % s)
        check({"art", "has_art", "flag", "rating", "playcount", "genre"} <= set(s), "song objects carry art, has_art, flag, rating, playcount, genre")
    check(what["genre"][0]["name"] == "Jazz" and what["genre"][0]["id"] != "0", "genres are objects with ids")
    check(what["has_art"] is True and rain["has_art"] is True and cafe["has_art"] is False, "has_art: embedded (So What), folder (Rain), none (Café)")
    check(cafe["art"] == "", "no art, no art url")
    status, body = fetch(what["art"])
    check(status == 200 and image_size(body) == cover, "a song's art url serves its embedded picture")

    # get_art: bytes, scaled to fit the size asked; 404 without art.
    dest = "/tmp/reprise-art-%d.img" % time.time_ns()
    api.get_art(int(what["id"]), "song", dest, size="100x100")
    got = image_size(open(dest, "rb").read())
    check(api.AMPACHE_HTTP_CODE == 200 and got is not None and max(got) == 100, "get_art scales to 100 px: %r" % (got,))
    api.get_art(int(rain["album"]["id"]), "album", dest)
    check(image_size(open(dest, "rb").read()) == cover, "get_art without size: the folder image as it is")
    api.get_art(int(cafe["id"]), "song", dest)
    check(api.AMPACHE_HTTP_CODE == 404, "get_art without art answers 404, not an image")

    # Search folds case and accents.
    found = api.search_songs("CAFE")
    check([s["title"] for s in found["song"]] == ["Café Noir"], "search_songs 'CAFE' finds 'Café Noir'")

    genres = {g["name"]: g for g in api.genres()["genre"]}
    check(set(genres) == {"Jazz", "Rock"} and genres["Jazz"]["songs"] == 2 and genres["Jazz"]["albums"] == 2 and genres["Jazz"]["artists"] == 2, "genres with counts: %r" % genres)
    jazz = int(genres["Jazz"]["id"])
    check(sorted(s["title"] for s in api.genre_songs(jazz)["song"]) == ["Café Noir", "So What"], "genre_songs")
    check(api.genre_albums(jazz)["total_count"] == 2, "genre_albums")
    albums = api.artist_albums(int(what["artist"]["id"]))
    check([a["name"] for a in albums["album"]] == ["Kind of Blue"], "artist_albums")
    check(albums["album"][0]["has_art"] is True and albums["album"][0]["genre"][0]["name"] == "Jazz", "album objects carry art and genres")

    # Playlists: create, add (duplicates), list in order, remove by track, edit, public, delete.
    created = api.playlist_create("Mix", "private")
    pid = int(created["id"])
    check(created["name"] == "Mix" and created["type"] == "private", "playlist_create")
    api.playlist_add_song(pid, int(cafe["id"]))
    api.playlist_add_song(pid, int(what["id"]))
    api.playlist_add(pid, int(cafe["id"]), "song")
    listed = api.playlist_songs(pid)
    check([s["id"] for s in listed["song"]] == [cafe["id"], what["id"], cafe["id"]], "playlist_songs in order with duplicates")
    check([s["playlisttrack"] for s in listed["song"]] == [1, 2, 3], "playlisttrack numbers entries")
    api.playlist_remove_song(pid, track=2)
    check([s["id"] for s in api.playlist_songs(pid)["song"]] == [cafe["id"], cafe["id"]], "playlist_remove_song by track")
    api.playlist_edit(pid, playlist_name="Evening", playlist_type="public")
    one = api.playlist(pid)
    check(one["name"] == "Evening" and one["type"] == "public" and one["items"] == 2, "playlist_edit renames and publishes: %r" % one)
    check([p["name"] for p in api.playlists()["playlist"]] == ["Evening"], "playlists lists it")
    api.playlist_delete(pid)
    gone = api.playlist(pid)
    check(gone.get("error", {}).get("errorCode") == "4704", "a deleted playlist is not found")

    # Ratings, flags, plays and the lists they feed.
    api.rate("song", int(rain["id"]), 5)
    flagged = api.flag("song", int(what["id"]), True)
    check("success" in flagged, "flag: %r" % flagged)
    played = api.record_play(int(cafe["id"]))
    check("success" in played, "record_play: %r" % played)
    scrobbled = api.scrobble("So What", "Miles", "Kind of Blue")
    check("success" in scrobbled, "scrobble: %r" % scrobbled)
    check(api.song(int(rain["id"]))["rating"] == 5, "rate")
    now = api.song(int(what["id"]))
    check(now["flag"] is True and now["playcount"] == 1, "flag and scrobble: %r" % now)
    check(api.song(int(cafe["id"]))["playcount"] == 1, "record_play")
    check([s["id"] for s in api.stats("song", "highest")["song"]] == [rain["id"]], "stats highest")
    check([s["id"] for s in api.stats("song", "flagged")["song"]] == [what["id"]], "stats flagged")
    check(sorted(s["id"] for s in api.stats("song", "frequent")["song"]) == sorted([cafe["id"], what["id"]]), "stats frequent")
    check(api.stats("song", "newest")["total_count"] == 3 and api.stats("album", "random")["total_count"] == 3, "stats newest and random")

    # advanced_search over text, numbers and the user's marks.
    hits = api.advanced_search([["artist", 4, "miles"]])
    check([s["id"] for s in hits["song"]] == [what["id"]], "advanced_search artist is")
    hits = api.advanced_search([["year", 1, 1961], ["genre", 4, "jazz"]])
    check(sorted(s["id"] for s in hits["song"]) == sorted([cafe["id"], what["id"]]), "advanced_search year <= and genre")
    hits = api.advanced_search([["rating", 0, 4], ["played_times", 0, 1]], operator="or")
    check(sorted(s["id"] for s in hits["song"]) == sorted([rain["id"], cafe["id"], what["id"]]), "advanced_search or")
    hits = api.advanced_search([["favorite", 0, ""]], object_type="song")
    check([s["id"] for s in hits["song"]] == [what["id"]], "advanced_search favorite")

    similar = api.get_similar("song", int(what["id"]))
    check([s["id"] for s in similar["song"]] == [cafe["id"]], "get_similar: the same genre")
    me = api.user(user)
    check(me["username"] == user, "user")
    index = api.index("album", include=True)
    check(index["total_count"] == 3 and all("song" in a for a in index["album"]), "index with child ids")

    # stream and download take API 6's id=.
    status, body = fetch(base + "/server/json.server.php?action=download&type=song&id=%s&auth=%s" % (what["id"], session))
    check(status == 200 and len(body) == what["size"], "download with id=")
    status, body = fetch(base + "/server/json.server.php?action=stream&type=song&id=%s&format=mp3&auth=%s" % (what["id"], session))
    check(json.loads(body)["error"]["errorCode"] == "4710", "stream says it does not transcode")

    # XML: the same objects and actions, well-formed.
    xml_api, _ = password_login(base, "xml", user, password)
    tree = xml_api.genres()
    check(len(tree.findall("genre")) == 2, "xml genres")
    song = [s for s in xml_api.songs().findall("song") if s.find("title").text == "So What"][0]
    check(song.find("has_art").text == "1" and song.find("flag").text == "1" and song.find("genre").get("id"), "xml song marks and genre")
    created = xml_api.playlist_create("X", "public")
    xid = int(created.find("playlist").get("id"))
    xml_api.playlist_add_song(xid, int(rain["id"]))
    check(len(xml_api.playlist_songs(xid).findall("song")) == 1, "xml playlist_songs")
    check(len(xml_api.stats("song", "flagged").findall("song")) == 1, "xml stats")
    check(len(xml_api.advanced_search([["title", 2, "so"]]).findall("song")) == 1, "xml advanced_search")
    xml_api.playlist_delete(xid)


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
    {"flow": flow, "gc": gc, "library": library}[mode](*args)
    print("PASS")
