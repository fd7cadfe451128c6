// keygate's own command line (`keygate login`) as a client the server knows: a public
// client with a fixed id that may use the device grant only (no redirect URIs, so no
// authorization code flow). Its consent page names it as this server's own tool rather
// than an app that registered itself under a name of its choosing.
import type { Store } from '../store/types.js'
import { DEVICE_GRANT } from './client-metadata.js'

export const CLI_CLIENT_ID = 'keygate-cli'
export const CLI_CLIENT_NAME = 'keygate CLI'

/** Ids no clients file may use. */
export const FIRST_PARTY_IDS = [CLI_CLIENT_ID]

export async function registerFirstPartyClients(store: Store, now: number): Promise<void> {
  await store.clients.upsert(
    {
      clientId: CLI_CLIENT_ID,
      clientName: CLI_CLIENT_NAME,
      redirectUris: [],
      tokenEndpointAuthMethod: 'none',
      clientSecretHash: null,
      source: 'config',
      metadata: {
        client_name: CLI_CLIENT_NAME,
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
        grant_types: [DEVICE_GRANT, 'refresh_token'],
        response_types: [],
      },
    },
    now,
  )
}
