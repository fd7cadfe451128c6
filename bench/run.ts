// npm run bench: throughput and latency of (a) a tools/call through keygate to the demo
// API, (b) the same upstream request sent directly, (c) the same request through a plain
// Fastify reverse proxy, (d) that proxy after keygate's bearer check, all on loopback in one
// run, plus the in-process cost of one bearer check and code-exchange throughput. Reported
// as ratios, never as absolute pass/fail thresholds.
import autocannon from 'autocannon'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { freePort } from '../test/support/http.js'
import { bearerCheckCost } from './bearer-cost.js'
import { exchangeThroughput } from './exchange.js'

const DURATION = Number(process.env.BENCH_SECONDS ?? 8)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16)

type Row = { name: string; rps: number; p50: number; p99: number; errors: number; non2xx: number }

async function measure(name: string, opts: autocannon.Options): Promise<Row> {
  await autocannon({ ...opts, duration: 1, connections: CONNECTIONS }) // warm-up
  const r = await autocannon({ ...opts, duration: DURATION, connections: CONNECTIONS })
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx }
}


const port = await freePort()
const child = spawn(process.execPath, [fileURLToPath(new URL('./server.js', import.meta.url)), String(port), String(await freePort())], { stdio: ['ignore', 'pipe', 'inherit'] })
const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
const { key, proxyPort } = JSON.parse(line) as { key: string; proxyPort: number }
const auth = { authorization: `Bearer ${key}` }
const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_notes', arguments: {} } })

const rows: Row[] = []
rows.push(await measure('(a) tools/call via keygate /mcp', {
  url: `http://127.0.0.1:${port}/mcp`, method: 'POST', body: call,
  headers: { ...auth, host: `localhost:${port}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
}))
rows.push(await measure('(b) GET /api/v1/notes directly', { url: `http://127.0.0.1:${port}/api/v1/notes`, headers: auth }))
rows.push(await measure('(c) plain Fastify proxy hop', { url: `http://127.0.0.1:${proxyPort}/api/v1/notes`, headers: auth }))
rows.push(await measure('(d) proxy hop + bearer check', { url: `http://127.0.0.1:${proxyPort}/checked/api/v1/notes`, headers: auth }))
child.kill('SIGTERM')

const cost = await bearerCheckCost([1_000, 1_000_000])
const pgUrl = process.env.KEYGATE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const sqliteExchanges = await exchangeThroughput(undefined)
const pgExchanges = await exchangeThroughput(pgUrl).catch((err: Error) => {
  console.error(`PostgreSQL exchange benchmark skipped: ${err.message}`)
  return NaN
})

console.log(`\nkeygate benchmark: ${DURATION}s per run, ${CONNECTIONS} connections, Node ${process.version}\n`)
console.log('| path | req/s | p50 ms | p99 ms | errors | non-2xx |')
console.log('|---|---|---|---|---|---|')
for (const r of rows) console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} |`)
const [a, b, c, d] = rows as [Row, Row, Row, Row]
console.log(`\nratio a/c (keygate vs one plain proxy hop): ${(a.rps / c.rps).toFixed(2)}   target >= 0.80`)
console.log(`  of which d/c (the bearer check alone): ${(d.rps / c.rps).toFixed(2)}, a/d (the MCP translation): ${(a.rps / d.rps).toFixed(2)}`)
console.log(`ratio a/b (keygate vs calling the API directly): ${(a.rps / b.rps).toFixed(2)}`)
// The server process is the bottleneck of every run, so 1/throughput is its time per request.
const perCall = (r: Row) => 1e6 / r.rps
console.log(`server time per request: a ${perCall(a).toFixed(0)} µs, c ${perCall(c).toFixed(0)} µs; keygate adds ${(perCall(a) - perCall(c)).toFixed(0)} µs to a plain hop, the target allows ${(perCall(c) / 0.8 - perCall(c)).toFixed(0)} µs`)
for (const { rows: n, micros } of cost) console.log(`bearer check (format, SHA-256, lookup; ${n.toLocaleString('en')} key rows): ${micros.toFixed(1)} µs`)
console.log(`bearer check, 1M rows vs 1k rows: ${(cost[1]!.micros / cost[0]!.micros).toFixed(2)}x`)
console.log(`code exchanges/s in-process (8 in flight): SQLite ${sqliteExchanges.toFixed(0)}, PostgreSQL ${pgExchanges.toFixed(0)} (PostgreSQL/SQLite ${(pgExchanges / sqliteExchanges).toFixed(2)})`)
if (rows.some((r) => r.errors > 0 || r.non2xx > 0)) {
  console.error('some requests failed: the figures above are not comparable')
  process.exitCode = 1
}
