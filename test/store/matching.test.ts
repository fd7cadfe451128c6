// How stored text is matched, the same on every database: emails without regard to case;
// client ids, key hashes and refresh hashes exactly (no case folding, and on MySQL no
// trailing-space padding: 'abc ' is not 'abc').
import t from 'tap'
import { mintToken } from '../../src/keys/format.js'
import { build, createKey, createUser, registerClient, TEST_DIALECT } from '../helper.js'

t.test(`emails match without regard to case; nothing else does (${TEST_DIALECT})`, async (t) => {
  const { app } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  t.equal((await app.store.users.byEmail('Alice@Example.COM'))?.id, user.id, 'an email in other case')
  t.equal(await app.store.users.byEmail('alice@example.com '), undefined, 'an email with a trailing space')
  await t.rejects(
    app.store.users.create({ email: 'ALICE@example.com', name: 'x', passwordHash: 'x', createdAt: 1 }),
    { name: 'ConflictError' },
    'one user per email, whatever its case',
  )

  const client = await registerClient(app)
  t.equal((await app.store.clients.byId(client.client_id))?.clientId, client.client_id)
  t.equal(await app.store.clients.byId(`${client.client_id} `), undefined, 'a client id with a trailing space')
  t.equal(await app.store.clients.byId(client.client_id.toUpperCase()), undefined, 'a client id in other case')

  const key = await createKey(app, { userId: user.id, accountId: account.id })
  const keyHash = app.store.keys.hash(key.token)
  t.equal((await app.store.keys.byHash(keyHash))?.id, key.key.id)
  t.equal(await app.store.keys.byHash(`${keyHash} `), undefined, 'a key hash with a trailing space')
  t.equal(await app.store.keys.byHash(keyHash.toUpperCase()), undefined, 'a key hash in other case')
  t.equal(await app.store.refresh.byHash(mintToken('kg_').hash), undefined)
})
