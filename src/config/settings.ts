// Every setting: its default as the docs show it and what it means. docs/configuration.md is
// generated from this and from the configuration schema (`npm run docs`); a test checks
// that both hold every variable of the schema, that each default shown is the schema's,
// and that the page is what they generate.

import { ACCESS_SETTINGS, type Setting } from './settings-access.js'

export type { Group, Setting } from './settings-access.js'

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
  KEYGATE_LOG_LEVEL: {
    group: 'server',
    default: '`info`',
    meaning: 'pino level',
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
  KEYGATE_CLEANUP_INTERVAL_SECONDS: {
    group: 'server',
    default: '`600`',
    meaning: 'how often expired refresh tokens and keys are deleted (1,000 rows a run)',
  },
  KEYGATE_REDIS_URL: {
    group: 'server',
    default: 'unset',
    meaning:
      '`redis://…`: keep every rate-limit counter in Redis, so N instances allow each limit once; without it each process counts for itself. Start-up fails if Redis cannot be reached; a Redis outage later lets requests through (limits fail open)',
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
  ...ACCESS_SETTINGS,
}
