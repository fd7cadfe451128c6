// Reads rows straight from the test's database (SQLite file, PostgreSQL schema or MySQL
// database), for tests that check what is stored, not what the store returns.
import type { Config } from '../../src/config/index.js'

export async function rawRows(config: Config, sql: string): Promise<Array<Record<string, unknown>>> {
  if (config.databaseUrl?.startsWith('mysql:')) {
    const { default: mysql } = await import('mysql2/promise')
    const connection = await mysql.createConnection({
      uri: config.databaseUrl,
      ...(config.databaseSchema ? { database: config.databaseSchema } : {}),
    })
    try {
      return (await connection.query(sql))[0] as Array<Record<string, unknown>>
    } finally {
      await connection.end()
    }
  }
  if (config.databaseUrl) {
    const { default: pg } = await import('pg')
    const client = new pg.Client({
      connectionString: config.databaseUrl,
      ...(config.databaseSchema ? { options: `-c search_path=${config.databaseSchema}` } : {}),
    })
    await client.connect()
    try {
      return (await client.query(sql)).rows
    } finally {
      await client.end()
    }
  }
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(config.dbPath, { readonly: true })
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>
  } finally {
    db.close()
  }
}
