import GRDB

extension RepriseDatabase {
    /// The listener's library: playlists, stars, ratings, plays, genres, art, and accent-folding search (FTS5).
    static func registerLibrary(_ m: inout DatabaseMigrator) {
        m.registerMigration("v9-library") { db in
            try db.execute(sql: """
                CREATE TABLE playlists (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
                  comment TEXT NOT NULL DEFAULT '',
                  public INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
                  created_at INTEGER NOT NULL,
                  updated_at INTEGER NOT NULL
                );
                CREATE INDEX playlists_user ON playlists(user_id);
                CREATE TABLE playlist_songs (
                  playlist_id INTEGER NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
                  position INTEGER NOT NULL,
                  song_id INTEGER NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
                  PRIMARY KEY (playlist_id, position)
                ) WITHOUT ROWID;
                CREATE INDEX playlist_songs_song ON playlist_songs(song_id);
                CREATE TABLE stars (
                  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                  kind TEXT NOT NULL CHECK (kind IN ('song', 'album', 'artist')),
                  item_id INTEGER NOT NULL,
                  starred_at INTEGER NOT NULL,
                  PRIMARY KEY (user_id, kind, item_id)
                ) WITHOUT ROWID;
                CREATE TABLE ratings (
                  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                  kind TEXT NOT NULL CHECK (kind IN ('song', 'album', 'artist')),
                  item_id INTEGER NOT NULL,
                  rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
                  rated_at INTEGER NOT NULL,
                  PRIMARY KEY (user_id, kind, item_id)
                ) WITHOUT ROWID;
                CREATE TABLE plays (
                  id INTEGER PRIMARY KEY,
                  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                  song_id INTEGER NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
                  played_at INTEGER NOT NULL,
                  source TEXT NOT NULL CHECK (source IN ('client', 'stream')),
                  client TEXT
                );
                CREATE INDEX plays_user_song ON plays(user_id, song_id, played_at);
                CREATE INDEX plays_song ON plays(song_id, played_at);
                CREATE TRIGGER albums_gone AFTER DELETE ON albums BEGIN
                  DELETE FROM stars WHERE kind = 'album' AND item_id = old.id;
                  DELETE FROM ratings WHERE kind = 'album' AND item_id = old.id;
                END;
                CREATE TRIGGER artists_gone AFTER DELETE ON artists BEGIN
                  DELETE FROM stars WHERE kind = 'artist' AND item_id = old.id;
                  DELETE FROM ratings WHERE kind = 'artist' AND item_id = old.id;
                END;

                CREATE TABLE genres (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  name TEXT NOT NULL UNIQUE COLLATE NOCASE
                );
                INSERT INTO genres (name) SELECT DISTINCT genre FROM songs WHERE coalesce(genre, '') <> '' ORDER BY genre;
                CREATE INDEX songs_genre ON songs(genre COLLATE NOCASE);
                -- Not INSERT OR IGNORE: an outer upsert's conflict handling would override it.
                CREATE TRIGGER songs_genre_in AFTER INSERT ON songs WHEN coalesce(new.genre, '') <> '' BEGIN
                  INSERT INTO genres (name) SELECT new.genre WHERE NOT EXISTS (SELECT 1 FROM genres WHERE name = new.genre);
                END;
                CREATE TRIGGER songs_genre_up AFTER UPDATE OF genre ON songs WHEN coalesce(new.genre, '') <> '' BEGIN
                  INSERT INTO genres (name) SELECT new.genre WHERE NOT EXISTS (SELECT 1 FROM genres WHERE name = new.genre);
                END;

                ALTER TABLE songs ADD COLUMN art INTEGER NOT NULL DEFAULT 0 CHECK (art IN (0, 1));
                ALTER TABLE songs ADD COLUMN problem TEXT;
                ALTER TABLE albums ADD COLUMN art_path TEXT;

                CREATE VIRTUAL TABLE songs_fts USING fts5(
                  title, artist, album, album_artist, tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3'
                );
                INSERT INTO songs_fts (rowid, title, artist, album, album_artist)
                  SELECT s.id, s.title, ar.name, al.name, coalesce(s.album_artist, aa.name)
                  FROM songs s JOIN artists ar ON ar.id = s.artist_id JOIN albums al ON al.id = s.album_id JOIN artists aa ON aa.id = al.artist_id;
                CREATE TRIGGER songs_fts_in AFTER INSERT ON songs BEGIN
                  INSERT INTO songs_fts (rowid, title, artist, album, album_artist) VALUES (
                    new.id, new.title, (SELECT name FROM artists WHERE id = new.artist_id), (SELECT name FROM albums WHERE id = new.album_id),
                    coalesce(new.album_artist, (SELECT aa.name FROM albums al JOIN artists aa ON aa.id = al.artist_id WHERE al.id = new.album_id)));
                END;
                CREATE TRIGGER songs_fts_up AFTER UPDATE OF title, artist_id, album_id, album_artist ON songs BEGIN
                  DELETE FROM songs_fts WHERE rowid = old.id;
                  INSERT INTO songs_fts (rowid, title, artist, album, album_artist) VALUES (
                    new.id, new.title, (SELECT name FROM artists WHERE id = new.artist_id), (SELECT name FROM albums WHERE id = new.album_id),
                    coalesce(new.album_artist, (SELECT aa.name FROM albums al JOIN artists aa ON aa.id = al.artist_id WHERE al.id = new.album_id)));
                END;
                CREATE TRIGGER songs_gone AFTER DELETE ON songs BEGIN
                  DELETE FROM songs_fts WHERE rowid = old.id;
                  DELETE FROM stars WHERE kind = 'song' AND item_id = old.id;
                  DELETE FROM ratings WHERE kind = 'song' AND item_id = old.id;
                END;
                """)
        }
    }
}
