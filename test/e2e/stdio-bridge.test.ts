// The stdio bridge as a child process (real stdin/stdout) against keygate on a real port.

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import t from 'tap'
import { createKey, createUser, tempDir } from '../helper.js'
import { listen } from '../support/http.js'

function bridge(url: string, key: string) {
  return new StdioClientTransport({
    command: process.execPath,
    args: ['bin/keygate.js', 'stdio', '--url', url],
    env: { PATH: process.env.PATH ?? '', KEYGATE_API_KEY: key },
    stderr: 'pipe',
  })
}

t.test('a stdio client reaches /mcp through the bridge with a pasted key', async (t) => {
  const { app, base } = await listen(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  const client = new Client({ name: 'desktop', version: '1' })
  await client.connect(bridge(`${base}/mcp`, key.token))
  t.teardown(() => client.close())
  t.equal(client.getServerVersion()?.name, 'keygate')
  const { tools } = await client.listTools()
  t.ok(tools.some((x) => x.name === 'create_note'))
  const created = await client.callTool({ name: 'create_note', arguments: { body: { title: 'via stdio' } } })
  t.equal((created.structuredContent as any).title, 'via stdio')
  const listed = await client.callTool({ name: 'list_notes', arguments: {} })
  t.same(
    (listed.structuredContent as any).notes.map((n: any) => n.title),
    ['via stdio'],
  )

  await app.store.keys.revoke(key.key.id, app.now())
  await t.rejects(
    client.listTools(),
    { message: /refused the API key \(HTTP 401\)/ },
    'a revoked key is reported clearly',
  )
})

t.test('the bridge refuses to start without a key or a URL', async (t) => {
  const run = (args: string[], env: Record<string, string>) =>
    promisify(execFile)(process.execPath, ['bin/keygate.js', 'stdio', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    )
  // No pasted key and no stored one (an empty credentials file of its own).
  const credentials = { KEYGATE_CREDENTIALS: `${tempDir(t)}/credentials.json` }
  t.same(await run(['--url', 'http://localhost:1/mcp'], credentials), {
    code: 1,
    stderr:
      'keygate: no key for http://localhost:1/mcp: run `keygate login --url http://localhost:1/mcp`, or set KEYGATE_API_KEY to a key from the dashboard\n',
  })
  t.same(await run([], { KEYGATE_API_KEY: 'kg_x' }), {
    code: 1,
    stderr: 'keygate: --url is required, like --url https://mcp.example.com/mcp\n',
  })
  t.same(await run(['--url', 'ftp://x/mcp'], { KEYGATE_API_KEY: 'kg_x' }), {
    code: 1,
    stderr: 'keygate: --url must be http(s)\n',
  })
})
