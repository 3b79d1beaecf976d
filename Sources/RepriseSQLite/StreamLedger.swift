import GRDB
import GRDBSQLite
import RepriseCore
import RepriseStorage

/// The `streams` table: the ledger's finished streams.
public struct SQLiteStreamRecords: StreamRecordWriter {
    let db: DatabasePool

    public init(db: DatabasePool) { self.db = db }

    public func write(_ batch: ArraySlice<StreamRecord>, trim: Bool, maxRows: Int) async throws {
        try await db.write { db in
            // Parsed once per batch, not once per row: busy servers record thousands of streams a second.
            // An upsert, not `INSERT OR REPLACE`: a replace may delete rows, so SQLite gives every
            // row a statement journal; the rare id written twice (a clock stepped back) is updated.
            let insert = try db.cachedStatement(sql: StreamRowRecord.upsert)
            // Bound through SQLite's C API: building `StatementArguments` for each row cost more
            // than the insert on a server recording thousands of streams a second.
            let s = insert.sqliteStatement
            defer { sqlite3_reset(s) }
            for r in batch {
                sqlite3_reset(s)
                bind(s, 1, r.id); bind(s, 2, r.songId); bind(s, 3, r.userId); bind(s, 4, r.sessionId); bind(s, 5, r.tokenId)
                bind(s, 6, r.player); bind(s, 7, r.rangeStart); bind(s, 8, r.rangeEnd); bind(s, 9, r.bytesExpected)
                bind(s, 10, r.bytesSent); bind(s, 11, r.startedAt); bind(s, 12, r.finishedAt); bind(s, 13, r.status.rawValue)
                bind(s, 14, r.reason)
                let code = sqlite3_step(s)
                guard code == SQLITE_DONE else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
                }
            }
            if trim {
                // Bounded by age (30 days) and by size.
                try db.execute(sql: "DELETE FROM streams WHERE id <= (SELECT max(id) FROM streams) - 30 * 86400000 * 1000")
                try db.execute(sql: "DELETE FROM streams WHERE id < (SELECT id FROM streams ORDER BY id DESC LIMIT 1 OFFSET ?)", arguments: [maxRows - 1])
            }
        }
    }
}

private func bind(_ s: OpaquePointer, _ i: Int32, _ v: Int64?) {
    if let v { sqlite3_bind_int64(s, i, v) } else { sqlite3_bind_null(s, i) }
}

private func bind(_ s: OpaquePointer, _ i: Int32, _ v: String?) {
    // SQLITE_TRANSIENT: SQLite copies the text before the string goes.
    if let v { sqlite3_bind_text(s, i, v, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self)) } else { sqlite3_bind_null(s, i) }
}

extension StreamLedger {
    /// A ledger that persists into `db`'s `streams` table.
    public convenience init(db: DatabasePool, clock: any WallClock, keepRecent: Int = 500, maxRows: Int = 100_000) {
        self.init(writer: SQLiteStreamRecords(db: db), clock: clock, keepRecent: keepRecent, maxRows: maxRows)
    }
}
