// Text that people are shown: what draws nothing or reorders the text around it is refused
// or removed (client names, product names, emails).

// Cc controls, Cf format characters (U+202E and the other bidi controls, zero-width joiners,
// U+FEFF), line and paragraph separators, private-use and unassigned code points; the
// default-ignorable code points that are letters yet draw nothing (the Hangul fillers
// U+115F, U+1160, U+3164, U+FFA0) and the blank Braille pattern U+2800.
const INVISIBLE_CHARS = '\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{Co}\\p{Cn}\\p{Default_Ignorable_Code_Point}\\u2800'
const INVISIBLE = new RegExp(`[${INVISIBLE_CHARS}]`, 'gu')
const INVISIBLE_ONE = new RegExp(`[${INVISIBLE_CHARS}]`, 'u')

/** Whether a text holds a character that draws nothing or reorders the text around it. */
export const holdsInvisible = (text: string): boolean => INVISIBLE_ONE.test(text)

/** A name safe to show: invisible and reordering characters removed, spaces folded. */
export function cleanName(name: string): string {
  return name.replace(INVISIBLE, '').replace(/\s+/gu, ' ').trim()
}
