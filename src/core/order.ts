/**
 * byCodeUnits orders two strings by their UTF-16 code units (what `<` compares): deterministic and locale-free, and
 * cheap (`localeCompare` loads ICU's collation data). For tie-breaks and stable listings.
 */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
