// An OAuthClientProvider for the official MCP SDK client, as a real client implements it,
// whose "redirect to the browser" is the test Browser approving the consent.
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import type { Browser } from './http.js'

export class TestOAuthProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined
  saved: OAuthTokens | undefined
  verifier = ''
  redirects: URL[] = []
  pending: Promise<URL> | undefined

  protected readonly browser: Browser
  private readonly form: Record<string, string | string[]>
  readonly redirectUrl: string
  readonly clientMetadataUrl: string | undefined

  constructor(
    browser: Browser,
    form: Record<string, string | string[]> = {},
    redirectUrl = 'http://localhost:8976/callback',
    clientMetadataUrl?: string,
  ) {
    this.browser = browser
    this.form = form
    this.redirectUrl = redirectUrl
    this.clientMetadataUrl = clientMetadataUrl
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SDK Test Client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }
  }
  state() {
    return 'sdk-state'
  }
  clientInformation() {
    return this.client
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens
  }
  redirectToAuthorization(url: URL) {
    this.redirects.push(url)
    this.pending = this.browser.approve(url, this.form)
  }
  saveCodeVerifier(v: string) {
    this.verifier = v
  }
  codeVerifier() {
    return this.verifier
  }

  /** The code the browser brought back, after checking state and iss. */
  async code(issuer: string): Promise<string> {
    const loc = await this.pending!
    if (loc.searchParams.get('state') !== 'sdk-state') throw new Error('state not echoed')
    if (loc.searchParams.get('iss') !== issuer) throw new Error('iss missing or wrong')
    return loc.searchParams.get('code')!
  }
}
