// Redirect URI policy: what may be registered (RFC 7591 §2, RFC 8252 §7, OAuth 2.1 §2.3.1)
// and how a requested URI is matched against the registered ones. Schemes are an
// allow-list: https; http on loopback only; private-use schemes in reverse-domain form.
import { OAuthError } from '../shared/errors.js'

export const MAX_REDIRECT_URI_LENGTH = 2000
export const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])
// Schemes that run code, read local files, belong to a browser or are not redirect targets
// at all: refused by name, even in a form the allow-list below would otherwise take.
const FORBIDDEN_SCHEMES = new Set([
  'javascript:',
  'data:',
  'file:',
  'vbscript:',
  'blob:',
  'about:',
  'filesystem:',
  'ftp:',
  'ws:',
  'wss:',
  'mailto:',
  'chrome:',
  'view-source:',
  'jar:',
  'chrome-extension:',
  'moz-extension:',
  'safari-extension:',
  'safari-web-extension:',
  'ms-browser-extension:',
  'edge:',
  'opera:',
  'brave:',
  'resource:',
  'intent:',
  'livescript:',
  'ms-settings:',
  'ms-msdt:',
  'search-ms:',
  'tel:',
  'sms:',
])
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CONTROL_OR_SPACE = /[\s\x00-\x1f\x7f\\]/
// Characters that could break out of an attribute or a tag wherever the URI is shown.
const MARKUP = /[<>"'`{}|^]/
// A private-use scheme in reverse-domain form (RFC 8252 §7.1: com.example.app:/cb), or an
// app scheme whose authority names the app as a domain (cursor://anysphere.cursor-mcp/…).
const REVERSE_DOMAIN_SCHEME = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+:$/i
const DOTTED_AUTHORITY = /^[a-z][a-z0-9+.-]*:\/\/[a-z0-9-]+(\.[a-z0-9-]+)+(\/|$)/i

export function isLoopback(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)
}

function refuse(uri: string, why: string): never {
  throw new OAuthError('invalid_redirect_uri', `redirect_uri ${JSON.stringify(uri.slice(0, 200))} ${why}`)
}

/** Parses a redirect URI a client wants to register, or throws invalid_redirect_uri. */
export function checkRedirectUriForRegistration(uri: string): URL {
  if (uri.length > MAX_REDIRECT_URI_LENGTH) refuse(uri, `is longer than ${MAX_REDIRECT_URI_LENGTH} characters`)
  // Backslashes, spaces and control characters let parsers disagree on the host.
  if (CONTROL_OR_SPACE.test(uri)) refuse(uri, 'contains spaces, control characters or backslashes')
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    refuse(uri, 'is not an absolute URI')
  }
  if (FORBIDDEN_SCHEMES.has(url.protocol)) refuse(uri, `uses the forbidden scheme ${url.protocol}`)
  if (MARKUP.test(uri)) refuse(uri, 'contains markup characters')
  if (uri.includes('#')) refuse(uri, 'must not contain a fragment (RFC 6749 §3.1.2)')
  // https://claude.ai@evil.example/ sends the code to evil.example.
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(uri))
    refuse(uri, 'must not contain userinfo')
  if (url.protocol === 'http:' && !isLoopback(url))
    refuse(uri, 'must use https (http is allowed only for loopback, RFC 8252 §7.3)')
  if ((url.protocol === 'https:' || url.protocol === 'http:') && !url.hostname) refuse(uri, 'has no host')
  if (
    url.protocol !== 'https:' &&
    url.protocol !== 'http:' &&
    !REVERSE_DOMAIN_SCHEME.test(url.protocol) &&
    !DOTTED_AUTHORITY.test(uri)
  ) {
    refuse(
      uri,
      `uses the scheme ${url.protocol}, which is not https, http on loopback, or a private-use scheme in reverse-domain form (RFC 8252 §7.1)`,
    )
  }
  return url
}

/**
 * True when `requested` is one of the registered URIs. Exact string match, except that
 * loopback redirect URIs match on any port (RFC 8252 §7.3): native clients pick a free
 * port at run time, and some register http://localhost/callback without one.
 */
export function matchRedirectUri(requested: string, registered: readonly string[]): boolean {
  if (registered.includes(requested)) return true
  let req: URL
  try {
    req = new URL(requested)
  } catch {
    return false
  }
  if (!isLoopback(req) || requested.includes('#') || req.username || req.password) return false
  return registered.some((candidate) => {
    let reg: URL
    try {
      reg = new URL(candidate)
    } catch {
      return false
    }
    return (
      isLoopback(reg) && reg.hostname === req.hostname && reg.pathname === req.pathname && reg.search === req.search
    )
  })
}
