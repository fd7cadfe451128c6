#!/usr/bin/env node
// Loads the machine as other work would, to check that the tests hold on a busy machine:
// `node bin/load.js start [N]` starts N (default 2) CPU-bound processes in the background,
// `node bin/load.js stop` stops them. Their ids are kept in the file KEYGATE_LOAD_PIDS names
// (default: keygate-load.pids in the system's temporary folder).
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const PIDS = process.env.KEYGATE_LOAD_PIDS ?? join(tmpdir(), 'keygate-load.pids')
const [command, count = '2'] = process.argv.slice(2)

function stop() {
  if (!existsSync(PIDS)) return 0
  let stopped = 0
  for (const pid of readFileSync(PIDS, 'utf8').split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL')
      stopped++
    } catch {}
  }
  rmSync(PIDS)
  return stopped
}

if (command === 'start' && /^[1-9]\d?$/.test(count)) {
  stop()
  const pids = []
  for (let i = 0; i < Number(count); i++) {
    const child = spawn(process.execPath, ['-e', 'for (;;) Math.sqrt(Math.random())'], {
      detached: true,
      stdio: 'ignore',
    })
    child.unref()
    pids.push(child.pid)
  }
  writeFileSync(PIDS, `${pids.join('\n')}\n`)
  console.log(`load: ${pids.length} CPU-bound processes started (${pids.join(', ')}); node bin/load.js stop ends them`)
} else if (command === 'stop') {
  console.log(`load: ${stop()} stopped`)
} else {
  process.stderr.write('usage: node bin/load.js start [N] | stop\n')
  process.exit(2)
}
