// Every setting: its default as the docs show it and what it means. docs/configuration.md is
// generated from this and from the configuration schema (`npm run docs`); a test checks
// that both hold every variable of the schema, that each default shown is the schema's,
// and that the page is what they generate.

export type Group = 'server' | 'database' | 'face' | 'signin' | 'keys' | 'mcp' | 'oauth' | 'limits'

export type Setting = { group: Group; default: string; meaning: string }

export const SETTINGS: Record<string, Setting> = {
  NODE_ENV: {
    group: 'server',
    default: '`development`',
    meaning: '`production` turns on the production checks: `KEYGATE_SECRET` required, https URLs, a full scrypt cost',
  },
  PORT: {
    group: 'server',
    default: '`3000`',
    meaning: 'port to listen on',
  },
  HOST: {
    group: 'server',
    default: '`localhost`',
    meaning: 'interface to listen on (`0.0.0.0` in a container)',
  },
  KEYGATE_ISSUER: {
    group: 'server',
    default: '`http://localhost:$PORT`',
    meaning:
      'public URL of keygate; https except for localhost; a trailing slash is dropped. It may have a path (`https://example.com/oauth/2.1`): everything is then served under it ("keygate as an OpenID Provider")',
  },
  KEYGATE_DB: {
    group: 'database',
    default: '`./data/keygate.db`',
    meaning: 'SQLite file (the default store)',
  },
  KEYGATE_DATABASE_URL: {
    group: 'database',
    default: 'unset',
    meaning: '`postgres://…` or `mysql://…`: PostgreSQL, or MySQL 8 / MariaDB, instead of SQLite (several machines)',
  },
  KEYGATE_DATABASE_SCHEMA: {
    group: 'database',
    default: "the URL's",
    meaning: "PostgreSQL schema or MySQL database for keygate's tables, created if missing",
  },
  KEYGATE_METRICS: {
    group: 'server',
    default: '`false`',
    meaning: 'serve Prometheus metrics at `/metrics`',
  },
  KEYGATE_SECRET: {
    group: 'server',
    default: 'generated into `<db folder>/secret` outside production',
    meaning:
      '32+ bytes; signs codes and session cookies (HKDF-derived key per use). Required when `NODE_ENV=production`',
  },
  KEYGATE_PREVIOUS_SECRETS: {
    group: 'server',
    default: 'empty',
    meaning: 'comma-separated old secrets, still accepted for verification',
  },
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
  KEYGATE_LOG_LEVEL: {
    group: 'server',
    default: '`info`',
    meaning: 'pino level',
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
  KEYGATE_TEST_CLOCK_FILE: {
    group: 'server',
    default: 'unset: the system clock',
    meaning:
      'tests only, refused when `NODE_ENV=production`: a file holding the time in milliseconds that keygate reads as now, so that a test moves the time of every keygate process at once',
  },
  KEYGATE_UPSTREAM: {
    group: 'mcp',
    default: 'the built-in demo API',
    meaning:
      "base URL of the product's REST API, e.g. `https://api.example.com/api/v1`; tool paths are appended to it. When set, the demo API is not served",
  },
  KEYGATE_OPENAPI: {
    group: 'mcp',
    default: '`$KEYGATE_UPSTREAM/openapi.json`',
    meaning: "the upstream's OpenAPI 3.x document (JSON), a file path or an http(s) URL",
  },
  KEYGATE_UPSTREAM_TIMEOUT_MS: {
    group: 'mcp',
    default: '`10000`',
    meaning: 'time-out of one upstream request',
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
  KEYGATE_UPSTREAM_MAX_BYTES: {
    group: 'mcp',
    default: '`1048576`',
    meaning: 'largest upstream response a tool call returns',
  },
  KEYGATE_MCP_MAX_BODY_BYTES: {
    group: 'mcp',
    default: '`1048576`',
    meaning: 'largest request body `/mcp` accepts',
  },
  KEYGATE_MCP_RESPONSE: {
    group: 'mcp',
    default: '`json`',
    meaning: '`json` answers each POST with one JSON body; `sse` answers with a short event stream',
  },
  KEYGATE_ALLOWED_HOSTS: {
    group: 'mcp',
    default: 'empty',
    meaning: "extra `Host` values `/mcp` accepts besides the issuer's (comma-separated, `host[:port]`)",
  },
  KEYGATE_ALLOWED_ORIGINS: {
    group: 'mcp',
    default: 'empty',
    meaning: "extra browser `Origin`s `/mcp` accepts besides the issuer's; `*` accepts any",
  },
  KEYGATE_TRUST_PROXY: {
    group: 'server',
    default: '`false`',
    meaning:
      "trust `X-Forwarded-For/-Host/-Proto` and `X-Request-Id` from the proxy in front: client IPs (rate limits, audit), the `Host` check and the log's request id then use the forwarded values. Set it only behind a proxy that overwrites those headers",
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
  KEYGATE_CLEANUP_INTERVAL_SECONDS: {
    group: 'server',
    default: '`600`',
    meaning: 'how often expired refresh tokens and keys are deleted (1,000 rows a run)',
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
  KEYGATE_REDIS_URL: {
    group: 'server',
    default: 'unset',
    meaning:
      '`redis://…`: keep every rate-limit counter in Redis, so N instances allow each limit once; without it each process counts for itself. Start-up fails if Redis cannot be reached; a Redis outage later lets requests through (limits fail open)',
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
  KEYGATE_PRODUCT_NAME: {
    group: 'face',
    default: '`keygate`',
    meaning:
      "your product's name on every page and title, and the metadata's `resource_name` ([Your product's face](branding.md))",
  },
  KEYGATE_PRODUCT_LOGO: {
    group: 'face',
    default: 'unset',
    meaning:
      'a PNG, JPEG, GIF, WebP or SVG file, or an https URL fetched once at start-up; served from keygate at `/brand/logo` and as the favicon',
  },
  KEYGATE_PRODUCT_COLOR: {
    group: 'face',
    default: '`#2755d6`',
    meaning: 'the accent colour `#rrggbb`; buttons, links and the focus ring keep WCAG AA contrast whatever it is',
  },
  KEYGATE_PRODUCT_URL: {
    group: 'face',
    default: 'unset',
    meaning: "your product's home page, linked in the footer",
  },
  KEYGATE_SUPPORT_URL: {
    group: 'face',
    default: 'unset',
    meaning: 'where people get help (https or `mailto:`), linked in the footer',
  },
  KEYGATE_PRIVACY_URL: {
    group: 'face',
    default: 'unset',
    meaning: "your privacy policy: the footer, the metadata's `op_policy_uri` and `resource_policy_uri`",
  },
  KEYGATE_DOCS_URL: {
    group: 'face',
    default: '`$KEYGATE_ISSUER/connect`',
    meaning: "how to connect an app: the metadata's `service_documentation` and `resource_documentation`",
  },
  KEYGATE_TEMPLATES_DIR: {
    group: 'face',
    default: 'unset',
    meaning:
      "a folder of your own Eta templates replacing keygate's by name ([Your own templates](branding.md#your-own-templates))",
  },
}
