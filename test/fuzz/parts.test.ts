import t from 'tap'
import { GROUPS } from './endpoints.js'
import { PARTS } from './seeded.js'

t.same(
  Object.values(PARTS).flat().sort(),
  GROUPS.map((g) => g.name).sort(),
  'every fuzz group runs in exactly one seeded test file',
)
