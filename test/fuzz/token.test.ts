import { fuzzGroups, PARTS } from './seeded.js'

fuzzGroups(PARTS.token)
