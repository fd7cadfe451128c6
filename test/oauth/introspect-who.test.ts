// Introspection says who and where: the person (username, name) and the account (the
// product's id and name, and the person's role in it now).
import t from 'tap'
import { build, createKey } from '../helper.js'

const SERVER_SECRET = 'resource-server-secret-0123456789-abcdef'

t.test('introspection names the person, the account as the product knows it, and the role', async (t) => {
  const { app } = await build(t, {
    KEYGATE_LOGIN: 'handoff',
    KEYGATE_HANDOFF_URL: 'https://product.example/keygate-handoff',
    KEYGATE_HANDOFF_ISSUER: 'https://product.example',
    KEYGATE_HANDOFF_SECRET: 'product-handoff-secret-0123456789-abcdef',
    KEYGATE_RESOURCE_SERVERS: `api:${SERVER_SECRET}`,
  })
  const synced = await app.store.product.sync(
    {
      issuer: 'https://product.example',
      subject: 'u-7',
      email: 'dana@product.example',
      emailVerified: true,
      name: 'Dana',
      accounts: [{ id: 'org-42', name: 'Rockets', role: 'admin' }],
    },
    app.now(),
    null,
  )
  if (!synced.ok) throw new Error('sync')
  const account = (await app.store.accounts.membershipsOf(synced.user.id))[0]!.account
  const key = await createKey(app, { userId: synced.user.id, accountId: account.id })
  const res = await app.inject({
    method: 'POST',
    url: '/introspect',
    headers: {
      authorization: `Basic ${Buffer.from(`api:${SERVER_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    payload: new URLSearchParams({ token: key.token }).toString(),
  })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), {
    active: true,
    sub: String(synced.user.id),
    username: 'dana@product.example',
    name: 'Dana',
    account_id: String(account.id),
    account_name: 'Rockets',
    account_external_id: 'org-42',
    account_role: 'admin',
  })
})
