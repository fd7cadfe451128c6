// The databases the benchmarks run on: SQLite always; PostgreSQL and MySQL/MariaDB at
// KEYGATE_BENCH_DATABASE_URL and KEYGATE_BENCH_MYSQL_URL (defaults: the local servers),
// each in a schema (database) of its own, dropped afterwards.
import mysql from 'mysql2/promise'
import pg from 'pg'

export type DatabaseUnderTest = { name: 'SQLite' | 'PostgreSQL' | 'MySQL'; url?: string }

export const DATABASES: DatabaseUnderTest[] = [
  { name: 'SQLite' },
  { name: 'PostgreSQL', url: process.env.KEYGATE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
  { name: 'MySQL', url: process.env.KEYGATE_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test' },
]

export const median = (xs: number[]) => {
  const sorted = [...xs].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export async function dropSchema(database: DatabaseUnderTest, schema: string): Promise<void> {
  if (database.name === 'PostgreSQL') {
    const client = new pg.Client({ connectionString: database.url })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await client.end()
  }
  if (database.name === 'MySQL') {
    const connection = await mysql.createConnection({ uri: database.url })
    await connection.query(`DROP DATABASE IF EXISTS ${schema}`)
    await connection.end()
  }
}
