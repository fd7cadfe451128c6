// The words of the settings about who gets in and how far: sign-in, keys and scopes, OAuth,
// limits and time-outs (settings.ts holds the rest, and the whole list).

export type Group = 'server' | 'database' | 'face' | 'signin' | 'keys' | 'mcp' | 'oauth' | 'limits'

export type Setting = { group: Group; default: string; meaning: string }

export const ACCESS_SETTINGS: Record<string, Setting> = {
  KEYGATE_KEY_PREFIX: {
    group: 'keys',
    default: '`kg_`',
    meaning: 'prefix of every API key',
  },
  KEYGATE_SCOPES: {
    group: 'keys',
    default: '`read write`',
    meaning:
      'the scopes, space-separated (every one ticked on the consent page unless always granted); or use `KEYGATE_SCOPES_FILE`',
  },
  KEYGATE_ALWAYS_SCOPES: {
    group: 'keys',
    default: '`read`',
    meaning: 'scopes every grant gets (shown ticked and disabled on the consent page)',
  },
  KEYGATE_SCOPES_FILE: {
    group: 'keys',
    default: 'unset',
    meaning:
      'a JSON scope catalogue instead of the two variables above: `[{"name": "ai", "description": "Allow AI features", "default": "off"}, …]`; `default` is `always` (granted, not a choice), `on` (ticked) or `off` (opt-in: unticked until the person ticks it); descriptions are shown on the consent page and the dashboard',
  },
  KEYGATE_LOGIN_MAX_FAILURES: {
    group: 'signin',
    default: '`5`',
    meaning:
      'sign-in attempts per email from one client address per window; past it that address is locked out of that email until the window ends',
  },
  KEYGATE_LOGIN_WINDOW_SECONDS: {
    group: 'signin',
    default: '`900`',
    meaning: 'that window',
  },
  KEYGATE_LOGIN_EMAIL_CEILING: {
    group: 'signin',
    default: '`20`',
    meaning: 'attempts per email from all addresses per window; past it attempts are slowed, never locked',
  },
  KEYGATE_LOGIN_SLOW_SECONDS: {
    group: 'signin',
    default: '`30`',
    meaning: 'past the ceiling: one attempt per email every this many seconds',
  },
  KEYGATE_SCRYPT_COST: {
    group: 'signin',
    default: '`16384`',
    meaning:
      "scrypt's N for new password hashes (a power of two); at least 16384 when `NODE_ENV=production`. The tests use 1024",
  },
  KEYGATE_SESSION_TTL_SECONDS: {
    group: 'signin',
    default: '`43200`',
    meaning: 'lifetime of a dashboard session cookie',
  },
  KEYGATE_REQUEST_TIMEOUT_MS: {
    group: 'limits',
    default: '`30000`',
    meaning: 'a client must send its whole request within this, or gets 408 and a closed connection',
  },
  KEYGATE_HEADERS_TIMEOUT_MS: {
    group: 'limits',
    default: '`10000`',
    meaning: 'a client must send its request headers within this (not more than the request time-out)',
  },
  KEYGATE_KEEP_ALIVE_TIMEOUT_MS: {
    group: 'limits',
    default: '`5000`',
    meaning:
      "an idle keep-alive connection is closed after this (behind a load balancer, set it above the balancer's idle time-out)",
  },
  KEYGATE_ACCESS_TTL: {
    group: 'oauth',
    default: 'unset: keys do not expire',
    meaning:
      'lifetime in seconds of OAuth-minted keys; when set, clients get rotating refresh tokens unless their registration listed `grant_types` without `refresh_token`',
  },
  KEYGATE_DEVICE_TTL: {
    group: 'oauth',
    default: '`600`',
    meaning: 'lifetime in seconds of a device code (RFC 8628), at most 3600',
  },
  KEYGATE_ID_TOKEN_TTL: {
    group: 'oauth',
    default: '`600`',
    meaning: 'lifetime in seconds of an ID token (OpenID Connect), at most 86400',
  },
  KEYGATE_SIGNING_KEY_GRACE: {
    group: 'oauth',
    default: '`3600`',
    meaning: 'seconds between publishing a rotated ID-token signing key and signing with it (`keygate keys rotate`)',
  },
  KEYGATE_REFRESH_TTL: {
    group: 'oauth',
    default: '`2592000` (30 days)',
    meaning: 'lifetime of a refresh token',
  },
  KEYGATE_REFRESH_GRACE_SECONDS: {
    group: 'oauth',
    default: '`60`',
    meaning: 'how long a used refresh token still works (concurrent refreshes); reuse after it revokes the connection',
  },
  KEYGATE_RESOURCE_SERVERS: {
    group: 'oauth',
    default: 'empty',
    meaning: '`id:secret,…` credentials (secret 32+ bytes) allowed to call `/introspect`',
  },
  KEYGATE_CLIENTS_FILE: {
    group: 'oauth',
    default: 'unset',
    meaning: 'JSON file of pre-registered clients ([Pre-registered clients](oauth.md#pre-registered-clients))',
  },
  KEYGATE_REGISTRATION: {
    group: 'oauth',
    default: '`open`',
    meaning: '`closed` switches dynamic registration off (`/register` answers 403)',
  },
  KEYGATE_REGISTRATION_REDIRECT_HOSTS: {
    group: 'oauth',
    default: 'unset: any host',
    meaning:
      'open registration accepts redirect URIs on these hosts only, comma-separated (`claude.ai,*.example.com`); loopback is always accepted',
  },
  KEYGATE_REGISTRATION_TTL: {
    group: 'oauth',
    default: '`2592000` (30 days)',
    meaning:
      'seconds after which a dynamically registered client that was never used (no consent, key or device grant) is deleted by the clean-up',
  },
  KEYGATE_CIMD_ALLOW_PRIVATE: {
    group: 'oauth',
    default: '`false`',
    meaning: 'development only: fetch metadata documents from private and loopback addresses, and over http',
  },
  KEYGATE_CIMD_TIMEOUT_MS: {
    group: 'oauth',
    default: '`3000`',
    meaning: 'time-out for fetching a client ID metadata document',
  },
  KEYGATE_RATE_LIMIT_WINDOW_SECONDS: {
    group: 'limits',
    default: '`60`',
    meaning: 'the rate-limit window',
  },
  KEYGATE_RATE_LIMIT_REGISTER: {
    group: 'limits',
    default: '`60`',
    meaning: 'requests per window per client IP to `/register`',
  },
  KEYGATE_RATE_LIMIT_TOKEN: {
    group: 'limits',
    default: '`600`',
    meaning: 'requests per window per client IP to `/token`, `/revoke` and `/introspect`',
  },
  KEYGATE_RATE_LIMIT_AUTHORIZE: {
    group: 'limits',
    default: '`300`',
    meaning: 'requests per window per client IP to `/authorize`, `/device` and the consent pages',
  },
  KEYGATE_RATE_LIMIT_LOGIN: {
    group: 'limits',
    default: '`60`',
    meaning: 'requests per window per client IP to `/login`',
  },
  KEYGATE_RATE_LIMIT_MCP: {
    group: 'limits',
    default: '`1200`',
    meaning: 'requests per window per key on `/mcp` (per client IP for requests without a well-formed key)',
  },
  KEYGATE_RATE_LIMIT_MCP_AUTH_FAILURES: {
    group: 'limits',
    default: '`60`',
    meaning:
      'failed bearer checks (a presented token that is malformed, unknown, revoked, expired or for another resource) per window per client IP on `/mcp`; past it those get 429, valid keys from the address are still served',
  },
  KEYGATE_LOGIN: {
    group: 'signin',
    default: '`local`',
    meaning:
      "who signs people in: `local` (keygate's own users and passwords), `handoff` (the product's session) or `oidc` (the product's OpenID Provider); [Sign-in through the product](sign-in.md)",
  },
  KEYGATE_OIDC_ISSUER: {
    group: 'signin',
    default: 'unset',
    meaning:
      "`oidc`: the OpenID Provider's issuer, as it writes it (discovery at its `/.well-known/openid-configuration`; https in production)",
  },
  KEYGATE_OIDC_CLIENT_ID: {
    group: 'signin',
    default: 'unset',
    meaning: "`oidc`: keygate's client id at the provider; its redirect URI is `<ISSUER>/login/oidc/callback`",
  },
  KEYGATE_OIDC_CLIENT_SECRET: {
    group: 'signin',
    default: 'unset (a public client, PKCE only)',
    meaning: "`oidc`: keygate's client secret at the provider (`client_secret_post`)",
  },
  KEYGATE_OIDC_SCOPES: {
    group: 'keys',
    default: '`openid email profile`',
    meaning: '`oidc`: the scopes asked for (must include `openid`)',
  },
  KEYGATE_OIDC_ACCOUNTS_CLAIM: {
    group: 'signin',
    default: 'unset (a personal account)',
    meaning: "`oidc`: the ID token or userinfo claim holding the person's accounts, in the handoff's `accounts` shape",
  },
  KEYGATE_OIDC_TRUST_EMAIL: {
    group: 'signin',
    default: '`false`',
    meaning:
      "`oidc`: `true` counts every email the provider sends as verified, for a provider that sends no `email_verified` but whose addresses are the organisation's own (Entra ID); [Linking by email](sign-in.md#linking-by-email)",
  },
  KEYGATE_HANDOFF_URL: {
    group: 'signin',
    default: 'unset',
    meaning: "`handoff`: the product's page keygate sends the browser to (https in production)",
  },
  KEYGATE_HANDOFF_ISSUER: {
    group: 'signin',
    default: 'unset',
    meaning: "`handoff`: the `iss` of the product's assertions",
  },
  KEYGATE_HANDOFF_SECRET: {
    group: 'signin',
    default: 'unset',
    meaning: '`handoff`: HS256 key the product signs with (32+ bytes); or else:',
  },
  KEYGATE_HANDOFF_JWKS_URL: {
    group: 'signin',
    default: 'unset',
    meaning: "`handoff`: the product's JWKS (RS256, PS256, ES256, ES384, EdDSA keys, chosen by `kid`)",
  },
  KEYGATE_HANDOFF_JWKS_COOLDOWN_SECONDS: {
    group: 'signin',
    default: '`30`',
    meaning: 'an assertion with an unknown `kid` fetches the JWKS again at most this often (key rotation)',
  },
  KEYGATE_HANDOFF_TRUST_EMAIL: {
    group: 'signin',
    default: '`false`',
    meaning:
      '`handoff`: `true` counts every email the product asserts as verified (its assertions need no `email_verified`); [Linking by email](sign-in.md#linking-by-email)',
  },
  KEYGATE_LOGOUT_URL: {
    group: 'signin',
    default: 'unset',
    meaning: "the product's sign-out page, offered after signing out of keygate",
  },
  KEYGATE_ROLE_SCOPES: {
    group: 'keys',
    default: 'unset (every role may grant every scope)',
    meaning:
      'what each role may grant, e.g. `owner=read write;admin=read write;member=read`; a role not listed may grant the always-granted scopes only ([Roles cap scopes](sign-in.md#roles-cap-scopes))',
  },
  KEYGATE_PROVISIONING_TOKEN: {
    group: 'signin',
    default: 'unset (no provisioning API)',
    meaning:
      '`handoff` or `oidc`: the token (32+ bytes) the product calls the provisioning API with ([When someone leaves](sign-in.md#when-someone-leaves)); keygate keeps only its SHA-256',
  },
  KEYGATE_KEYS_TABLE: {
    group: 'keys',
    default: "unset: keygate's own `api_keys`",
    meaning:
      "path of a JSON mapping of the product's own key table ([Keys in the product's own table](product-keys.md)); needs `KEYGATE_LOGIN` `handoff` or `oidc`",
  },
  KEYGATE_KEY_PEPPER: {
    group: 'keys',
    default: 'unset',
    meaning: 'the server-side secret (16+ characters) of a mapping whose `hash` is `hmac-sha256-hex`',
  },
  KEYGATE_KEY_FORMAT: {
    group: 'keys',
    default: '`checked`',
    meaning:
      "`checked`: `/mcp` looks up only tokens in keygate's format (prefix, checksum); `any`: also the product's own keys, whatever their form (up to 512 characters)",
  },
}
