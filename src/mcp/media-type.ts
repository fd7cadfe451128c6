// Content-Type by its media type, never by substring: `text/plain; a=application/json` is
// not JSON, `Application/JSON; charset=utf-8` is. Parsed per RFC 9110 (the content-type
// package); a header whose parameters are malformed (`application/json;`) is judged by the
// part before its first `;`, as browsers do, unless a comma shows joined duplicate headers.
import contentType from 'content-type'

/** The lowercased `type/subtype` of a Content-Type header, or undefined. */
export function mediaType(header: string | undefined): string | undefined {
  if (!header) return undefined
  try {
    return contentType.parse(header).type
  } catch {
    const essence = (header.split(';', 1)[0] ?? '').trim().toLowerCase()
    if (essence === '' || header.slice(essence.length).includes(',')) return undefined
    return essence
  }
}

export function isJsonContentType(header: string | undefined): boolean {
  return mediaType(header) === 'application/json'
}
