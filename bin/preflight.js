#!/usr/bin/env node
// What the test suite needs beyond npm, checked before it starts: a run without one of them
// stops at once with one line saying how to provide it, rather than timing out or skipping.
// npm test needs Chromium and Redis; npm run test:pg and test:mysql need their database.
import { accessSync, constants } from 'node:fs'
import { connect } from 'node:net'

const wanted = new Set(process.argv.slice(2))

function reachable(url, defaultPort) {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || defaultPort) })
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(2000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

const problems = []
if (wanted.has('chromium')) {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
  try {
    accessSync(path, constants.X_OK)
  } catch {
    problems.push(`Chromium is not at ${path}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`)
  }
}
if (wanted.has('redis')) {
  const url = process.env.KEYGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
  if (!(await reachable(url, 6379)))
    problems.push(
      `Redis does not answer at ${url}: start it (redis-server --daemonize yes) or set KEYGATE_TEST_REDIS_URL`,
    )
}
if (wanted.has('database') && process.env.KEYGATE_TEST_DATABASE_URL) {
  const url = process.env.KEYGATE_TEST_DATABASE_URL
  const postgres = url.startsWith('postgres')
  if (!(await reachable(url, postgres ? 5432 : 3306)))
    problems.push(
      postgres
        ? `PostgreSQL does not answer at ${new URL(url).host}: start it (pg_ctlcluster <version> main start) or set KEYGATE_TEST_DATABASE_URL`
        : `MySQL/MariaDB does not answer at ${new URL(url).host}: start it (service mariadb start) or set KEYGATE_TEST_DATABASE_URL`,
    )
}
for (const problem of problems) process.stderr.write(`keygate tests: ${problem}\n`)
if (problems.length > 0) process.exit(1)
