import { readFileSync } from 'node:fs'
import { repoPath } from './paths.js'

export const VERSION: string = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')).version
