import GRDB

extension RepriseDatabase {
    static func registerCatalog(_ m: inout DatabaseMigrator) {
        m.registerMigration("v2-catalog") { db in
            try db.execute(sql: """
                CREATE TABLE artists (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  name TEXT NOT NULL UNIQUE
                );
                CREATE TABLE albums (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  name TEXT NOT NULL,
                  artist_id INTEGER NOT NULL REFERENCES artists(id) ON DELETE CASCADE,
                  UNIQUE (name, artist_id)
                );
                CREATE TABLE songs (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  path TEXT NOT NULL UNIQUE,
                  size INTEGER NOT NULL CHECK (size >= 0),
                  mtime_ms INTEGER NOT NULL,
                  title TEXT NOT NULL,
                  artist_id INTEGER NOT NULL REFERENCES artists(id),
                  album_id INTEGER NOT NULL REFERENCES albums(id),
                  album_artist TEXT,
                  track INTEGER,
                  disc INTEGER,
                  year INTEGER,
                  genre TEXT,
                  duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
                  bitrate INTEGER NOT NULL DEFAULT 0,
                  sample_rate INTEGER NOT NULL DEFAULT 0,
                  channels INTEGER NOT NULL DEFAULT 0,
                  format TEXT NOT NULL CHECK (format IN ('mp3', 'flac', 'ogg', 'opus', 'm4a', 'wav')),
                  added_at INTEGER NOT NULL,
                  updated_at INTEGER NOT NULL
                );
                CREATE INDEX songs_album ON songs(album_id);
                CREATE INDEX songs_artist ON songs(artist_id);
                CREATE TABLE streams (
                  id INTEGER PRIMARY KEY,
                  song_id INTEGER NOT NULL,
                  user_id INTEGER,
                  session_id INTEGER,
                  token_id INTEGER,
                  player TEXT,
                  range_start INTEGER NOT NULL,
                  range_end INTEGER NOT NULL,
                  bytes_expected INTEGER NOT NULL CHECK (bytes_expected >= 0),
                  bytes_sent INTEGER NOT NULL CHECK (bytes_sent >= 0),
                  started_at INTEGER NOT NULL,
                  finished_at INTEGER,
                  status TEXT NOT NULL CHECK (status IN ('active', 'completed', 'aborted')),
                  reason TEXT
                );
                CREATE INDEX streams_song ON streams(song_id, started_at);
                """)
        }
    }
}
