// The demo API's notes, per account.
import { changed, type Database } from './database.js'
import { insertWithId } from './identity.js'
import { toNote } from './rows.js'
import type { NoteStore } from './types.js'

export function notes(database: Database): NoteStore {
  const { db } = database
  return {
    async list(accountId) {
      return (await db.selectFrom('notes').selectAll().where('account_id', '=', accountId).orderBy('id').execute()).map(
        toNote,
      )
    },
    async get(accountId, id) {
      const row = await db
        .selectFrom('notes')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .executeTakeFirst()
      return row && toNote(row)
    },
    async create(n) {
      return toNote(
        await insertWithId(database, db, 'notes', {
          account_id: n.accountId,
          title: n.title,
          body: n.body,
          created_at: n.createdAt,
        }),
      )
    },
    async remove(accountId, id) {
      return (
        changed(
          await db.deleteFrom('notes').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst(),
        ) === 1
      )
    },
  }
}
