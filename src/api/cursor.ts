/** Opaque list cursors: base64url of the last row's sort key. */
import { z } from "zod";

const Cursor = z.object({ createdAt: z.number().int(), runId: z.string().max(64) }).strict();
export type Cursor = z.infer<typeof Cursor>;

export function encodeCursor(cursor: Cursor): string {
  return btoa(JSON.stringify(cursor)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The cursor, or null when the text is not one we issued. */
export function decodeCursor(text: string): Cursor | null {
  try {
    const parsed = Cursor.safeParse(JSON.parse(atob(text.replaceAll("-", "+").replaceAll("_", "/"))));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
