// The SQLite store's checkpointer, in a worker thread of its own (started by ./sqlite.ts).
// A checkpoint copies the write-ahead log back into the database file and syncs both
// files: milliseconds of blocking I/O that, left to SQLite's automatic checkpoint, would
// stop the server's event loop in the middle of whichever request crossed the threshold.
// Here a PASSIVE checkpoint (it never waits for readers or writers) runs every
// `intervalMs` on a connection of the worker's own. See docs/storage.md ("SQLite's checkpoints").
import { parentPort, workerData } from 'node:worker_threads'
import BetterSqlite3 from 'better-sqlite3'

const { path, intervalMs } = workerData as { path: string; intervalMs: number }
const db = new BetterSqlite3(path, { fileMustExist: true })

const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
  } catch {
    // Another connection's checkpoint holds the checkpoint lock (SQLITE_BUSY): it does this one's work.
  }
}
const timer = setInterval(checkpoint, intervalMs)

parentPort!.on('message', (message) => {
  if (message !== 'stop') return
  clearInterval(timer)
  db.close()
  parentPort!.close()
})
