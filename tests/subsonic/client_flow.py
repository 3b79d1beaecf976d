#!/usr/bin/env python3
"""Drives a live Reprise server with PyPI's Subsonic clients (py-opensonic and py-sonic); exits non-zero on the first failure.

usage: client_flow.py BASE_URL PORT USER PASSWORD CLIENT_PASSWORD APIKEY FILE
"""
import sys

import libopensonic
import libsonic


def check(cond, what):
    if not cond:
        print("FAIL: " + what, file=sys.stderr)
        sys.exit(1)
    print("ok: " + what)


def main(base, port, user, password, client_password, apikey, path):
    port = int(port)
    expected = open(path, "rb").read()

    # py-opensonic, token auth (t + s) with a client password, form POST to .view endpoints.
    c = libopensonic.Connection(base, username=user, password=client_password, port=port)
    try:
        check(c.ping(), "opensonic ping with t+s (client password)")
        artists = c.get_artists()
        names = [a.name for i in artists.index for a in (i.artist or [])]
        check(sorted(names) == ["Alpha", "Beta"], "getArtists: %r" % names)
        alpha = [a for i in artists.index for a in (i.artist or []) if a.name == "Alpha"][0]
        artist = c.get_artist(alpha.id)
        check(len(artist.album) == 1 and artist.album[0].name == "First", "getArtist lists its album")
        album = c.get_album(artist.album[0].id)
        check(len(album.song) == 2, "getAlbum lists its songs")
        song = [s for s in album.song if s.title == "Two"][0]
        check(c.get_song(song.id).title == "Two", "getSong")
        # search3 with the empty query pages through the whole library, as Symfonium and Feishin sync.
        seen = []
        for offset in (0, 2, 4):
            r = c.search3("", artist_count=0, album_count=0, song_count=2, song_offset=offset)
            seen += [s.id for s in (r.song or [])]
        check(len(set(seen)) == 3 and len(seen) == 3, "search3 query='' pages through every song: %r" % seen)
        r = c.search3("cafe")
        check([s.title for s in (r.song or [])] == ["Café One"], "search3 folds accents")
        # Stars, ratings, plays and the lists they feed.
        check(c.star(sids=[song.id], album_ids=[album.id]), "star")
        starred = c.get_starred2()
        check([s.id for s in (starred.song or [])] == [song.id] and [a.id for a in (starred.album or [])] == [album.id], "getStarred2")
        check(c.set_rating(song.id, 5), "setRating")
        check(c.scrobble(song.id, submission=True), "scrobble")
        recent = c.get_album_list2("recent")
        check([a.id for a in recent][:1] == [album.id], "getAlbumList2 recent after scrobble")
        check(c.get_song(song.id).user_rating == 5, "the rating shows on the song")
        for ltype in ("random", "newest", "frequent", "starred", "alphabeticalByName", "alphabeticalByArtist", "highest"):
            check(isinstance(c.get_album_list2(ltype), list), "getAlbumList2 " + ltype)
        # Playlists: create, update, read, delete.
        check(c.create_playlist(name="Mix", song_ids=[song.id, song.id]), "createPlaylist")
        playlists = c.get_playlists()
        check(len(playlists) == 1 and playlists[0].song_count == 2, "getPlaylists")
        pid = playlists[0].id
        check(c.update_playlist(pid, name="Evening", song_indices_to_remove=[0]), "updatePlaylist")
        pl = c.get_playlist(pid)
        check(pl.name == "Evening" and len(pl.entry) == 1, "getPlaylist after update")
        check(c.delete_playlist(pid), "deletePlaylist")
        # Bytes: cover art, stream (whole and a range), download.
        cover = c.get_cover_art(album.id, size=64)
        check(cover.status == 200 and cover.headers.get("Content-Type", "").startswith("image/"), "getCoverArt answers an image")
        s = c.stream(song.id)
        check(s.status == 200, "stream status")
        d = c.download(song.id)
        check(d.status == 200, "download status")
        user_info = c.get_user(user)
        check(user_info.admin_role is True and user_info.stream_role is True, "getUser roles")
    finally:
        c.cleanup()

    # py-opensonic with the legacy enc: password (the account password) over GET, and with an API key.
    legacy = libopensonic.Connection(base, username=user, password=password, port=port, legacy_auth=True, use_get=True)
    try:
        check(legacy.ping(), "opensonic ping with p=enc: (account password), GET")
        check(len(legacy.search3("", song_count=10).song) == 3, "opensonic search3 '' over GET")
    finally:
        legacy.cleanup()
    keyed = libopensonic.Connection(base, api_key=apikey, port=port)
    try:
        check(keyed.ping(), "opensonic ping with apiKey")
        check(keyed.token_info().username == user, "tokenInfo names the key's user")
    finally:
        keyed.cleanup()

    # py-sonic (its GET mode is broken in 1.2.0: urllib2), form POST, token auth with the client password.
    s = libsonic.Connection(base, user, client_password, port=port, serverPath="rest")
    check(s.ping(), "py-sonic ping (POST, t+s)")
    a = s.getArtists()
    check(a["status"] == "ok" and len(a["artists"]["index"]) == 2, "py-sonic getArtists")
    r = s.search3("")
    check(len(r["searchResult3"]["song"]) == 3, "py-sonic search3 ''")
    got = s.stream(song.id).read()
    check(got == expected, "py-sonic stream: the file's exact bytes")


if __name__ == "__main__":
    main(*sys.argv[1:])
    print("PASS")
