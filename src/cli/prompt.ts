// A password is never taken on the command line (ps and shell history would show it): it is
// typed at a prompt that does not echo, twice, or piped on standard input (its first line).
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { UsageError } from './common.js'

const MAX_BYTES = 64 * 1024

async function firstLine(input: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  for await (const chunk of input) {
    text += chunk.toString()
    if (text.includes('\n') || text.length > MAX_BYTES) break
  }
  return text.split('\n')[0]!.replace(/\r$/, '')
}

/** Asks each prompt in turn on a terminal, showing nothing that is typed. */
async function silentLines(prompts: string[], input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<string[]> {
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() })
  const rl = createInterface({ input, output: muted, terminal: true })
  const answers: string[] = []
  try {
    return await new Promise((resolve, reject) => {
      output.write(prompts[0]!)
      rl.on('line', (line) => {
        output.write('\n')
        answers.push(line)
        if (answers.length === prompts.length) resolve(answers)
        else output.write(prompts[answers.length]!)
      })
      rl.once('SIGINT', () => {
        output.write('\n')
        reject(new UsageError('cancelled'))
      })
      rl.once('close', () => reject(new UsageError('no password was typed')))
    })
  } finally {
    rl.close()
  }
}

export async function readPassword(
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WriteStream = process.stderr,
): Promise<string> {
  if (!input.isTTY) return firstLine(input)
  const [password, again] = await silentLines(['Password: ', 'Again: '], input, output)
  if (again !== password) throw new UsageError('the two passwords differ')
  return password!
}
