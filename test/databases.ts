// Which tests run again on PostgreSQL and MySQL/MariaDB (npm run test:pg, test:mysql): every
// test, except the ones named here, each with why its SQL is already run on every database
// by another test. A new test runs on every database unless it is added here by name;
// test/unit.test.ts checks that each name is a test that runs in a process of its own.
export const SQLITE_ONLY: Record<string, string> = {
  'e2e/pages.test.js':
    "the pages' markup and accessibility in Chromium; the dashboard's and the consent's SQL is run by test/web and test/oauth",
  'e2e/browser.test.js': 'the same flows in Chromium as test/web/dashboard.test.ts and test/oauth/authorize.test.ts',
  'e2e/consent-members.test.js': 'the same flows in Chromium as test/web/members.test.ts and the consent tests',
  'e2e/stdio-bridge.test.js': 'the bridge’s stdio and HTTP client; the key it presents meets the lookup test/mcp runs',
  'e2e/sdk-auth.test.js': 'the SDK client’s side of OAuth; the server’s statements are those of test/oauth',
  'e2e/sdk-eras.test.js': 'the SDK client in both eras; the server’s statements are those of test/mcp',
  'e2e/sdk-handoff.test.js': 'the SDK client after a handoff sign-in; its sync is run by test/web/handoff.test.ts',
  'e2e/sdk-v2-oauth.test.js': 'the SDK v2 client’s side of OAuth; the server’s statements are those of test/oauth',
  'e2e/example-product.test.js': 'the example product runs its own PostgreSQL, whatever the suite’s database',
  'plugins/timeouts.test.js': 'socket time-outs, before any SQL',
  'plugins/rate-limit-redis.test.js': 'rate-limit counters in Redis, not in the database',
  'oauth/cimd-process.test.js': 'fetching metadata documents under the SSRF guard, before any SQL',
  'store/sqlite-checkpoint.test.js': 'SQLite’s checkpoints only',
}
