/**
 * A value the code has reasoned must be there (a constant that parses, the first element of a
 * list its schema keeps non-empty). If that reasoning is ever wrong, the caller fails at once with
 * a message naming what was missing, instead of carrying an `undefined` further.
 */
export function must<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`internal error: missing ${what}`);
  return value;
}
